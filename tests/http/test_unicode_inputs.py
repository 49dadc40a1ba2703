"""Arbitrary Unicode in every string field and parameter of every operation: never a 5xx.

Lone surrogates (sent as JSON escapes, or as their raw UTF-8-style bytes in URLs, forms and
headers), NUL, combining marks and right-to-left marks go into one place of an otherwise valid
request at a time, through the ASGI app, on each backend.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ApiClient

SPECIAL = ["\ud800", "\udfff", "\udc80x", "\x00", "a\u0301", "\u200f", "\u202e", "\ufeff", "MED-042\ud800"]
TEXT = st.one_of(
    st.sampled_from(SPECIAL),
    # Every code point, surrogates included (hypothesis leaves them out unless asked).
    st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=12),
)

_AUTHORIZATION = {
    "beneficiary_id": "BEN-1",
    "sponsor_slug": "aseguradora",
    "diagnosis_code": "J06.9",
    "products": [{"product_code": "MED-042", "product_type": "MEDICATION", "quantity": 1, "posology": "x"}],
}
_PRESCRIPTION = {
    "patient_id": "PAT-1",
    "diagnoses": [{"diagnosis_code": "J06.9"}],
    "medications": [{"product_code": "MED-042", "quantity": 1, "posology": "x"}],
}
_CLAIM = {
    "beneficiary_id": "BEN-1",
    "sponsor_slug": "aseguradora",
    "authorization_id": "areq_0",
    "diagnosis_code": "J06.9",
    "line_items": [{"product_code": "MED-042", "product_type": "MEDICATION", "quantity": 1}],
}
# (method, path template, JSON body template or None, string places: "body:a.b.0", "query:x", "path:x")
OPERATIONS: list[tuple[str, str, Any, list[str]]] = [
    ("GET", "/medical-catalogs/v1/medications", None, ["query:query", "query:page", "query:size"]),
    ("GET", "/medical-catalogs/v1/medications/{p}", None, ["path:p"]),
    ("GET", "/arc/v1/products", None, ["query:product_type", "query:query", "query:page", "query:size"]),
    ("GET", "/arc/v1/products/{p}", None, ["path:p"]),
    ("POST", "/arc/v1/providers/products", {"product_code": "MED-042"}, ["body:product_code"]),
    ("GET", "/arc/v1/providers/products", None, ["query:product_type", "query:query", "query:page"]),
    (
        "POST",
        "/arc/v1/providers/products/batch",
        {"product_codes": ["LAB-HEMO", "x"]},
        ["body:product_codes.1"],
    ),
    (
        "POST",
        "/arc/v1/providers/products/validate",
        {"product_codes": ["MED-042", "x"], "at": "2026-01-01T00:00:00Z"},
        ["body:product_codes.1", "body:at"],
    ),
    ("GET", "/arc/v1/providers/products/{p}/history", None, ["path:p"]),
    ("GET", "/arc/v1/providers/products/{p}", None, ["path:p"]),
    ("DELETE", "/arc/v1/providers/products/{p}", None, ["path:p"]),
    (
        "POST",
        "/arc/v1/authorization-requests",
        _AUTHORIZATION,
        [
            "body:beneficiary_id",
            "body:sponsor_slug",
            "body:diagnosis_code",
            "body:products.0.product_code",
            "body:products.0.product_type",
            "body:products.0.posology",
        ],
    ),
    ("POST", "/arc/v1/authorization-requests/{p}/complete", None, ["path:p"]),
    ("GET", "/arc/v1/authorization-requests/{p}", None, ["path:p"]),
    (
        "POST",
        "/ehr/v1/prescriptions",
        _PRESCRIPTION,
        [
            "body:patient_id",
            "body:diagnoses.0.diagnosis_code",
            "body:medications.0.product_code",
            "body:medications.0.posology",
        ],
    ),
    ("GET", "/ehr/v1/prescriptions/{p}", None, ["path:p"]),
    (
        "POST",
        "/arc/v1/outpatient-care-claim",
        _CLAIM,
        [
            "body:beneficiary_id",
            "body:sponsor_slug",
            "body:authorization_id",
            "body:diagnosis_code",
            "body:line_items.0.product_code",
            "body:line_items.0.product_type",
        ],
    ),
    ("GET", "/arc/v1/outpatient-care-claim/{p}", None, ["path:p"]),
]
PLACES = [(i, place) for i, op in enumerate(OPERATIONS) for place in [*op[3], "header:idempotency-key"]]
TOKEN_PLACES = [
    "form:grant_type",
    "form:scope",
    "form:client_id",
    "form:client_secret",
    "basic:id",
    "basic:secret",
]

_SHARED: dict[tuple[int, int], ApiClient] = {}


@pytest.fixture(autouse=True)
def _forget_shared_clients() -> None:
    """Each test starts on a new database, so no client carries over."""
    _SHARED.clear()


async def _shared_client(http: httpx.AsyncClient, make_client: Any) -> ApiClient:
    key = (id(http), id(make_client))
    if key not in _SHARED:
        _SHARED[key] = await make_client(
            scopes="arc:read arc:write ehr:read ehr:write", rate_limit="100000/minute"
        )
    return _SHARED[key]


def _raw(text: str) -> bytes:
    """The bytes of ``text``, lone surrogates included (as CESU-style 3-byte sequences)."""
    return text.encode("utf-8", errors="surrogatepass")


def _set(body: Any, dotted: str, value: str) -> Any:
    copy = json.loads(json.dumps(body))
    *parents, last = dotted.split(".")
    target = copy
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return copy


def _request(operation: int, place: str, value: str, headers: dict[str, str]) -> httpx.Request:
    method, template, body, _ = OPERATIONS[operation]
    kind, _, name = place.partition(":")
    segment = quote(_raw(value), safe="") if kind == "path" else "MED-042"
    url = template.replace("{p}", segment)
    if kind == "query":
        url += "?" + quote(name) + "=" + quote(_raw(value), safe="")
    raw_headers: list[tuple[bytes, bytes]] = [(k.encode(), v.encode()) for k, v in headers.items()]
    content = None
    if body is not None:
        # ensure_ascii writes lone surrogates as \ud800 escapes, as a client in another language would.
        content = json.dumps(_set(body, name, value) if kind == "body" else body).encode()
        raw_headers.append((b"content-type", b"application/json"))
    if kind == "header":
        raw_headers.append((b"idempotency-key", _raw(value)))
    return httpx.Request(method, "http://testserver" + url, content=content, headers=raw_headers)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(place=st.sampled_from(PLACES), value=TEXT)
async def test_any_unicode_in_any_field_or_parameter_is_never_a_server_error(
    http: httpx.AsyncClient, make_client: Any, place: tuple[int, str], value: str
) -> None:
    client = await _shared_client(http, make_client)
    response = await http.send(_request(*place, value, client.headers))
    assert response.status_code < 500, response.text
    if response.status_code == 204:  # a removal of a code an earlier example registered
        assert response.content == b""
        return
    assert response.headers["content-type"].startswith("application/json")
    if response.status_code >= 400:
        assert set(response.json()) >= {"error_code", "message", "additional_information"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(place=st.sampled_from(TOKEN_PLACES), value=TEXT)
async def test_any_unicode_in_token_request_is_never_a_server_error(
    http: httpx.AsyncClient, make_client: Any, place: str, value: str
) -> None:
    client = await _shared_client(http, make_client)
    form = {"grant_type": "client_credentials", "scope": "arc:read"}
    credentials = {"id": client.client_id, "secret": client.client_secret}
    kind, _, name = place.partition(":")
    if kind == "form":
        if name in ("client_id", "client_secret"):
            form.update(client_id=client.client_id, client_secret=client.client_secret)
        form[name] = value
    else:
        credentials[name] = value
    raw = b"&".join(
        quote(_raw(k)).encode() + b"=" + quote(_raw(v), safe="").encode() for k, v in form.items()
    )
    headers = [(b"content-type", b"application/x-www-form-urlencoded")]
    if "client_id" not in form:
        pair = _raw(
            quote(_raw(credentials["id"]), safe="") + ":" + quote(_raw(credentials["secret"]), safe="")
        )
        headers.append((b"authorization", b"Basic " + base64.b64encode(pair)))
    response = await http.post("/v1/oauth/token", content=raw, headers=headers)
    assert response.status_code < 500, response.text
    # An empty or harmless value (``scope=`` asks for every scope) is still a good request.
    expected = (
        {"error_code", "message", "additional_information"}
        if response.status_code >= 400
        else {"access_token"}
    )
    assert set(response.json()) >= expected


@pytest.mark.parametrize(
    "header", [b"Basic \xe9\xe9", b"Basic " + base64.b64encode("cli_\u00e9:s\u00e9".encode())]
)
async def test_non_ascii_basic_credentials_are_401_invalid_client(
    http: httpx.AsyncClient, header: bytes
) -> None:
    response = await http.post(
        "/v1/oauth/token",
        content=b"grant_type=client_credentials",
        headers=[(b"content-type", b"application/x-www-form-urlencoded"), (b"authorization", header)],
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert response.json()["error_code"] == "071-401"
