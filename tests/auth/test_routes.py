"""OAuth2 client credentials, bearer tokens and scopes, over HTTP."""

from __future__ import annotations

import base64
import time
from typing import Annotated, Any

import httpx
import jwt
import pytest
from fastapi import APIRouter, Depends, FastAPI

from provider_products.auth import service as auth_service
from provider_products.auth.dependencies import Caller, check_routes, require_scopes
from tests.conftest import TEST_JWT_SECRET, ApiClient, assert_error

TOKEN = "/v1/oauth/token"
GRANT = {"grant_type": "client_credentials"}


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": "provider-products",
        "aud": "provider-products",
        "sub": "cli_x",
        "provider_slug": "farmacia-a",
        "scope": "arc:read arc:write",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "j1",
    }
    claims.update(overrides)
    return claims


async def test_token_with_basic_credentials_returns_bearer_jwt(
    http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client()
    response = await http.post(TOKEN, data=GRANT, auth=(client.client_id, client.client_secret))
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["scope"].split() == ["arc:read", "arc:write"]
    claims = jwt.decode(
        body["access_token"], TEST_JWT_SECRET, algorithms=["HS256"], audience="provider-products"
    )
    assert claims["sub"] == client.client_id
    assert claims["provider_slug"] == "farmacia-a"
    assert {"iat", "exp", "jti", "scope"} <= set(claims)
    assert response.headers["cache-control"] == "no-store"


async def test_token_with_form_credentials_is_accepted(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    response = await http.post(
        TOKEN, data={**GRANT, "client_id": client.client_id, "client_secret": client.client_secret}
    )
    assert response.status_code == 200


async def test_token_with_wrong_secret_is_invalid_client(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    response = await http.post(TOKEN, data=GRANT, auth=(client.client_id, "wrong"))
    assert_error(response, 401, "071-401")
    assert response.json()["error"] == "invalid_client"
    assert "www-authenticate" in response.headers


async def test_token_for_unknown_client_is_invalid_client(http: httpx.AsyncClient) -> None:
    response = await http.post(TOKEN, data=GRANT, auth=("cli_unknown", "secret"))
    assert_error(response, 401, "071-401")
    assert response.json()["error"] == "invalid_client"


async def test_token_without_credentials_is_invalid_client(http: httpx.AsyncClient) -> None:
    response = await http.post(TOKEN, data=GRANT)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_token_with_malformed_basic_header_is_invalid_client(http: httpx.AsyncClient) -> None:
    response = await http.post(TOKEN, data=GRANT, headers={"Authorization": "Basic !!!notbase64"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_token_with_other_grant_is_unsupported_grant_type(
    http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client()
    response = await http.post(
        TOKEN, data={"grant_type": "password"}, auth=(client.client_id, client.client_secret)
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


async def test_token_without_grant_type_is_invalid_request(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    response = await http.post(
        TOKEN, data={"scope": "arc:read"}, auth=(client.client_id, client.client_secret)
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_token_as_json_is_invalid_request(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    response = await http.post(TOKEN, json=GRANT, auth=(client.client_id, client.client_secret))
    assert_error(response, 400, "071-100")
    assert response.json()["error"] == "invalid_request"


async def test_token_with_both_auth_methods_is_invalid_request(
    http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client()
    response = await http.post(
        TOKEN,
        data={**GRANT, "client_id": client.client_id, "client_secret": client.client_secret},
        auth=(client.client_id, client.client_secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_token_with_narrower_scope_grants_only_it(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    response = await http.post(
        TOKEN, data={**GRANT, "scope": "arc:read"}, auth=(client.client_id, client.client_secret)
    )
    assert response.status_code == 200
    assert response.json()["scope"] == "arc:read"
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    refused = await http.post("/arc/v1/providers/products", json={"product_code": "MED-042"}, headers=headers)
    assert_error(refused, 403, "071-403")


async def test_token_with_scope_beyond_client_is_invalid_scope(
    http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client()
    response = await http.post(
        TOKEN, data={**GRANT, "scope": "arc:read ehr:write"}, auth=(client.client_id, client.client_secret)
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


async def test_token_for_disabled_client_is_refused_and_its_tokens_stop_working(
    app: FastAPI, http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client()
    async with app.state.runtime.database.transaction(write=True) as conn:
        await auth_service.set_active(conn, client_id=client.client_id, active=False)
    response = await http.post(TOKEN, data=GRANT, auth=(client.client_id, client.client_secret))
    assert response.status_code == 401
    assert_error(await http.get("/arc/v1/providers/products", headers=client.headers), 401, "071-401")


async def test_token_after_rotation_refuses_old_secret(
    app: FastAPI, http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client()
    async with app.state.runtime.database.transaction(write=True) as conn:
        rotated = await auth_service.rotate_secret(conn, client_id=client.client_id)
    old = await http.post(TOKEN, data=GRANT, auth=(client.client_id, client.client_secret))
    new = await http.post(TOKEN, data=GRANT, auth=(client.client_id, rotated.client_secret))
    assert old.status_code == 401
    assert new.status_code == 200


async def test_request_without_token_is_401_with_www_authenticate(http: httpx.AsyncClient) -> None:
    response = await http.get("/arc/v1/providers/products")
    assert_error(response, 401, "071-401")
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer ", "Token abc", "Bearer not.a.jwt", "Basic dXNlcjpwYXNz", "Bearer a.b.c.d"],
)
async def test_request_with_malformed_token_is_401(http: httpx.AsyncClient, authorization: str) -> None:
    response = await http.get("/arc/v1/products", headers={"Authorization": authorization})
    assert_error(response, 401, "071-401")


async def _forged(http: httpx.AsyncClient, make_client: Any, token_for: Any) -> httpx.Response:
    client: ApiClient = await make_client()
    token = token_for(client)
    return await http.get("/arc/v1/providers/products", headers={"Authorization": f"Bearer {token}"})


async def test_token_signed_with_other_key_is_401(http: httpx.AsyncClient, make_client: Any) -> None:
    response = await _forged(
        http, make_client, lambda c: jwt.encode(_claims(sub=c.client_id), "x" * 40, algorithm="HS256")
    )
    assert_error(response, 401, "071-401")


async def test_token_with_alg_none_is_401(http: httpx.AsyncClient, make_client: Any) -> None:
    def unsigned(client: ApiClient) -> str:
        header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
        payload = jwt.encode(_claims(sub=client.client_id), TEST_JWT_SECRET, algorithm="HS256").split(".")[1]
        return f"{header}.{payload}."

    assert_error(await _forged(http, make_client, unsigned), 401, "071-401")


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_token_with_other_algorithm_is_401(http: httpx.AsyncClient, make_client: Any) -> None:
    response = await _forged(
        http,
        make_client,
        lambda c: jwt.encode(_claims(sub=c.client_id), TEST_JWT_SECRET, algorithm="HS512"),
    )
    assert_error(response, 401, "071-401")


async def test_expired_token_is_401(http: httpx.AsyncClient, make_client: Any) -> None:
    past = int(time.time()) - 7200
    response = await _forged(
        http,
        make_client,
        lambda c: jwt.encode(
            _claims(sub=c.client_id, iat=past, nbf=past, exp=past + 60), TEST_JWT_SECRET, algorithm="HS256"
        ),
    )
    assert_error(response, 401, "071-401")


async def test_token_for_wrong_audience_is_401(http: httpx.AsyncClient, make_client: Any) -> None:
    response = await _forged(
        http,
        make_client,
        lambda c: jwt.encode(
            _claims(sub=c.client_id, aud="someone-else"), TEST_JWT_SECRET, algorithm="HS256"
        ),
    )
    assert_error(response, 401, "071-401")


async def test_token_claiming_other_provider_is_401(http: httpx.AsyncClient, make_client: Any) -> None:
    response = await _forged(
        http,
        make_client,
        lambda c: jwt.encode(
            _claims(sub=c.client_id, provider_slug="farmacia-b"), TEST_JWT_SECRET, algorithm="HS256"
        ),
    )
    assert_error(response, 401, "071-401")


async def test_read_only_client_cannot_register_or_delete(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client(scopes="arc:read")
    register = await http.post(
        "/arc/v1/providers/products", json={"product_code": "MED-042"}, headers=client.headers
    )
    delete = await http.delete("/arc/v1/providers/products/MED-042", headers=client.headers)
    info = assert_error(register, 403, "071-403")
    assert info["required_scopes"] == ["arc:write"]
    assert_error(delete, 403, "071-403")
    assert (await http.get("/arc/v1/providers/products", headers=client.headers)).status_code == 200


async def test_write_only_client_cannot_list(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client(scopes="arc:write")
    assert_error(await http.get("/arc/v1/providers/products", headers=client.headers), 403, "071-403")
    assert_error(await http.get("/arc/v1/providers/products/MED-042", headers=client.headers), 403, "071-403")


async def test_catalogue_accepts_any_valid_token(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client(scopes="ehr:read")
    response = await http.get("/medical-catalogs/v1/medications", headers=client.headers)
    assert response.status_code == 200


async def test_token_with_nul_in_client_id_is_invalid_client(http: httpx.AsyncClient) -> None:
    response = await http.post(TOKEN, data={**GRANT, "client_id": "cli_\x00x", "client_secret": "s"})
    assert_error(response, 401, "071-401")


def _app_with(path: str, *, scoped: bool) -> FastAPI:
    router = APIRouter()
    if scoped:

        @router.get(path)
        async def scoped_route(_: Annotated[Caller, Depends(require_scopes("arc:read"))]) -> None:
            """Answer nothing, for scope-checked callers."""

    else:

        @router.get(path)
        async def open_route() -> None:
            """Answer nothing, to anyone."""

    app = FastAPI()
    app.include_router(router)
    return app


def test_route_asking_for_scopes_outside_the_authenticated_paths_is_refused_at_build() -> None:
    with pytest.raises(RuntimeError, match="GET /public/thing"):
        check_routes(_app_with("/public/thing", scoped=True).routes)


def test_route_under_the_authenticated_paths_without_scopes_is_refused_at_build() -> None:
    with pytest.raises(RuntimeError, match="GET /arc/v1/thing"):
        check_routes(_app_with("/arc/v1/thing", scoped=False).routes)


def test_routes_agreeing_with_the_authenticated_paths_are_accepted() -> None:
    check_routes(_app_with("/arc/v1/thing", scoped=True).routes)
    check_routes(_app_with("/public/thing", scoped=False).routes)


def _token_issued_ago(app: FastAPI, client: ApiClient, seconds: int) -> dict[str, str]:
    """A bearer header with a token of ``client`` as the token endpoint issued it ``seconds`` ago."""
    settings = app.state.runtime.settings
    now = int(time.time()) - seconds
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": client.client_id,
        "provider_slug": client.provider_slug,
        "scope": "arc:read arc:write",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "jti": f"t{seconds}",
    }
    return {"Authorization": "Bearer " + jwt.encode(claims, TEST_JWT_SECRET, algorithm="HS256")}


async def test_rotation_revokes_tokens_issued_before_it(
    app: FastAPI, http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client()
    before = _token_issued_ago(app, client, 5)
    assert (await http.get("/arc/v1/providers/products", headers=before)).status_code == 200
    async with app.state.runtime.database.transaction(write=True) as conn:
        rotated = await auth_service.rotate_secret(conn, client_id=client.client_id)
    assert_error(await http.get("/arc/v1/providers/products", headers=before), 401, "071-401")
    # A token fetched with the new secret, right after the rotation, works.
    new = await http.post(TOKEN, data=GRANT, auth=(client.client_id, rotated.client_secret))
    fresh = {"Authorization": f"Bearer {new.json()['access_token']}"}
    assert (await http.get("/arc/v1/providers/products", headers=fresh)).status_code == 200


async def test_rotation_of_one_client_leaves_other_clients_tokens_working(
    app: FastAPI, http: httpx.AsyncClient, make_client: Any
) -> None:
    rotated: ApiClient = await make_client()
    other: ApiClient = await make_client()
    async with app.state.runtime.database.transaction(write=True) as conn:
        await auth_service.rotate_secret(conn, client_id=rotated.client_id)
    assert (
        await http.get("/arc/v1/providers/products", headers=_token_issued_ago(app, other, 5))
    ).status_code == 200
