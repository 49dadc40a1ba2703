"""Security promises: token checks, constant-cost client authentication, injection, leaks, CORS."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import quote

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provider_products.app import create_app
from provider_products.auth import security
from tests.conftest import TEST_JWT_SECRET, ApiClient, assert_error

PRODUCTS = "/arc/v1/providers/products"
GRANT = {"grant_type": "client_credentials"}


def _claims(client: ApiClient, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": "provider-products",
        "aud": "provider-products",
        "sub": client.client_id,
        "provider_slug": client.provider_slug,
        "scope": "arc:read arc:write",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "j",
    }
    return {**claims, **overrides}


def _hmac_token(claims: dict[str, Any], key: bytes) -> str:
    """Sign HS256 by hand: PyJWT itself refuses a PEM key as an HMAC secret."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(json.dumps(claims).encode())
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(signature)


async def _call_with(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.get(PRODUCTS, headers={"Authorization": f"Bearer {token}"})


async def test_well_formed_token_is_accepted(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    token = jwt.encode(_claims(client), TEST_JWT_SECRET, algorithm="HS256")
    assert (await _call_with(http, token)).status_code == 200


async def test_not_yet_valid_token_is_401(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    later = int(time.time()) + 3600
    token = jwt.encode(
        _claims(client, nbf=later, iat=later, exp=later + 600), TEST_JWT_SECRET, algorithm="HS256"
    )
    assert_error(await _call_with(http, token), 401, "071-401")


async def test_rs256_token_is_refused_even_with_a_matching_key_story(
    http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client()
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(_claims(client), private, algorithm="RS256")
    assert_error(await _call_with(http, token), 401, "071-401")
    # HS/RS confusion: an HMAC token keyed with a public key must not pass either.
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert_error(await _call_with(http, _hmac_token(_claims(client), public_pem)), 401, "071-401")


async def test_token_without_required_claims_is_401(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    claims = _claims(client)
    del claims["provider_slug"]
    assert_error(
        await _call_with(http, jwt.encode(claims, TEST_JWT_SECRET, algorithm="HS256")), 401, "071-401"
    )


async def test_unknown_client_and_wrong_secret_cost_one_argon2_verification_each(
    http: httpx.AsyncClient, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client: ApiClient = await make_client()
    verified: list[str] = []
    real = security._hasher

    class Counting:
        def verify(self, hash_: str, secret: str) -> bool:
            verified.append(hash_)
            return bool(real.verify(hash_, secret))

    monkeypatch.setattr(security, "_hasher", Counting())
    await http.post("/v1/oauth/token", data=GRANT, auth=("cli_doesnotexist", "x"))
    await http.post("/v1/oauth/token", data=GRANT, auth=(client.client_id, "wrong"))
    assert len(verified) == 2
    assert all(h.startswith("$argon2id$") for h in verified)
    # Same argon2 parameters either way, so the same work.
    assert verified[0].split("$")[3] == verified[1].split("$")[3]


_SHARED: dict[tuple[int, int], ApiClient] = {}


@pytest.fixture(autouse=True)
def _forget_shared_clients() -> None:
    """Each test starts on a new database, so no client carries over."""
    _SHARED.clear()


async def _shared_client(http: httpx.AsyncClient, make_client: Any) -> ApiClient:
    """One client per test for all its hypothesis examples (creating one costs an argon2 hash)."""
    key = (id(http), id(make_client))
    if key not in _SHARED:
        _SHARED[key] = await make_client(rate_limit="100000/minute")
    return _SHARED[key]


INJECTIONS = [
    "' OR '1'='1",
    "'; DROP TABLE provider_product; --",
    '" OR 1=1 --',
    "%' UNION SELECT client_id, secret_hash FROM oauth_client --",
    "\\x00",
    "*) (|(uid=*))",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "MED-042' --",
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    value=st.one_of(st.sampled_from(INJECTIONS), st.text(max_size=40)),
    parameter=st.sampled_from(["query", "product_type", "page", "size"]),
    path=st.sampled_from([PRODUCTS, "/arc/v1/products", "/medical-catalogs/v1/medications"]),
)
async def test_injection_in_any_query_parameter_is_refused_or_harmless(
    http: httpx.AsyncClient, make_client: Any, value: str, parameter: str, path: str
) -> None:
    client = await _shared_client(http, make_client)
    response = await http.get(path, params={parameter: value}, headers=client.headers)
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert response.json()["error_code"] == "071-105"
    # The tables are intact and nothing leaked.
    assert (await http.get("/arc/v1/products/MED-042", headers=client.headers)).status_code == 200
    assert "secret_hash" not in response.text
    assert "$argon2" not in response.text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(code=st.one_of(st.sampled_from(INJECTIONS), st.text(min_size=1, max_size=70)))
async def test_injection_in_codes_is_refused_or_harmless(
    http: httpx.AsyncClient, make_client: Any, code: str
) -> None:
    client = await _shared_client(http, make_client)
    registered = await http.post(PRODUCTS, json={"product_code": code}, headers=client.headers)
    assert registered.status_code in (201, 404, 409, 422), registered.text
    looked_up = await http.get(f"{PRODUCTS}/{quote(code, safe='')}", headers=client.headers)
    assert looked_up.status_code in (200, 404, 405, 422), looked_up.text


async def test_responses_reveal_no_versions_or_internals(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    responses = [
        await http.get("/nowhere"),
        await http.get(PRODUCTS),
        await http.post(
            PRODUCTS, content=b"{", headers={**client.headers, "Content-Type": "application/json"}
        ),
        await http.get(f"{PRODUCTS}/bad%20code", headers=client.headers),
        await http.post("/v1/oauth/token", data=GRANT, auth=("x", "y")),
    ]
    for response in responses:
        text = response.text.lower()
        for leak in (
            "traceback",
            "sqlalchemy",
            "sqlite",
            "asyncpg",
            "postgres",
            "uvicorn",
            "starlette",
            "/src/",
        ):
            assert leak not in text, (leak, response.text)
        assert "server" not in response.headers or "uvicorn" not in response.headers["server"]


async def test_cors_is_closed_unless_configured(http: httpx.AsyncClient) -> None:
    preflight = await http.options(
        PRODUCTS, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in preflight.headers
    plain = await http.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in plain.headers


async def test_cors_allows_only_configured_origins(settings: Any) -> None:
    app: FastAPI = create_app(settings.model_copy(update={"cors_origins": ["https://app.example"]}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        allowed = await http.options(
            PRODUCTS, headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        refused = await http.options(
            PRODUCTS, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
        )
        assert "access-control-allow-origin" not in refused.headers
        unauthenticated = await http.get(PRODUCTS, headers={"Origin": "https://app.example"})
        assert unauthenticated.status_code == 401
        assert unauthenticated.headers["access-control-allow-origin"] == "https://app.example"
    await app.state.runtime.database.dispose()
