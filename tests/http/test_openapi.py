"""The OpenAPI document says what the server enforces and sends, and ``at`` is an RFC 3339 string only."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import ApiClient, assert_error
from tests.support import undeclared_contract_headers

PRODUCTS = "/arc/v1/providers/products"


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "delete"}
    ]


def _operation_for(document: dict[str, Any], method: str, url: str) -> dict[str, Any]:
    """Find the operation that serves ``method url`` (path templates matched segment by segment)."""
    parts = httpx.URL(url).path.split("/")
    for path, item in document["paths"].items():
        template = path.split("/")
        if (
            len(template) == len(parts)
            and all(t == p or t.startswith("{") for t, p in zip(template, parts, strict=True))
            and method.lower() in item
        ):
            return item[method.lower()]  # type: ignore[no-any-return]
    raise AssertionError(f"no operation for {method} {url}")


def test_document_names_page_schemas_readably(app: FastAPI) -> None:
    schemas = app.openapi()["components"]["schemas"]
    assert {"PageMedicationRead", "PageCatalogueProductRead", "PageProviderProductRead"} <= set(schemas)
    assert not [name for name in schemas if "_" in name]


def test_document_has_servers_license_and_described_scopes(app: FastAPI) -> None:
    document = app.openapi()
    assert document["servers"]
    assert document["info"]["license"]["identifier"] == "Apache-2.0"
    flow = document["components"]["securitySchemes"]["OAuth2ClientCredentials"]["flows"]["clientCredentials"]
    for scope in ("arc:read", "arc:write", "ehr:read", "ehr:write"):
        assert flow["scopes"][scope] != scope


def test_public_operations_declare_no_security_and_the_others_a_scope(app: FastAPI) -> None:
    for path, _, operation in _operations(app.openapi()):
        if path in {"/v1/oauth/token", "/healthz", "/readyz"}:
            assert operation["security"] == [], path
        else:
            assert operation["security"][0]["OAuth2ClientCredentials"] is not None, path


def test_every_authenticated_post_declares_the_idempotency_key(app: FastAPI) -> None:
    posts = [(p, op) for p, m, op in _operations(app.openapi()) if m == "post" and p != "/v1/oauth/token"]
    assert posts
    for path, operation in posts:
        names = [(p["name"], p["in"]) for p in operation.get("parameters", [])]
        assert ("Idempotency-Key", "header") in names, path


def test_every_code_parameter_and_field_declares_the_code_pattern(app: FastAPI) -> None:
    document = app.openapi()
    code_params = [
        p["schema"]
        for _, _, op in _operations(document)
        for p in op.get("parameters", [])
        if p["name"] == "product_code"
    ]
    code_fields = [
        schema["properties"]["product_code"]
        for name, schema in document["components"]["schemas"].items()
        if name.endswith(("Create", "In")) and "product_code" in schema.get("properties", {})
    ]
    assert len(code_params) >= 5
    assert len(code_fields) >= 4
    for schema in code_params + code_fields:
        assert schema["pattern"] == "^[A-Za-z0-9][A-Za-z0-9._-]*$"
        assert (schema["minLength"], schema["maxLength"]) == (1, 64)


def test_query_parameters_declare_the_no_control_characters_rule(app: FastAPI) -> None:
    queries = [
        p["schema"]
        for _, _, op in _operations(app.openapi())
        for p in op.get("parameters", [])
        if p["name"] == "query"
    ]
    assert len(queries) == 3
    for schema in queries:
        # Beside the anyOf of an optional parameter: a pattern constrains strings only.
        string = next(s for s in schema["anyOf"] if s.get("type") == "string")
        assert string["maxLength"] == 200
        assert schema.get("pattern", string.get("pattern")) == "^[^\\x00-\\x1F\\x7F-\\x9F]*$"


def test_validate_at_is_declared_as_a_date_time_string(app: FastAPI) -> None:
    at = app.openapi()["components"]["schemas"]["ValidateCreate"]["properties"]["at"]
    assert {"type": "string", "format": "date-time"} in at["anyOf"]


@pytest.mark.parametrize("at", [1700000000, 1.5, "1700000000", "2026-06-25", "2026-06-25T18:00:00", True])
async def test_validate_at_not_an_rfc3339_string_answers_422(
    http: httpx.AsyncClient, make_client: Any, at: object
) -> None:
    client: ApiClient = await make_client()
    response = await http.post(
        f"{PRODUCTS}/validate", json={"product_codes": ["MED-042"], "at": at}, headers=client.headers
    )
    info = assert_error(response, 422, "071-105")
    assert info["errors"][0]["field"] == "at"  # type: ignore[index]


async def test_validate_at_year_one_renders_four_digit_year(
    http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client()
    response = await http.post(
        f"{PRODUCTS}/validate",
        json={"product_codes": ["MED-042"], "at": "0001-01-01T00:00:00Z"},
        headers=client.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["at"] == "0001-01-01T00:00:00Z"


async def test_validate_at_outside_utc_range_answers_422(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    response = await http.post(
        f"{PRODUCTS}/validate",
        json={"product_codes": ["MED-042"], "at": "0001-01-01T00:00:00+01:00"},
        headers=client.headers,
    )
    assert_error(response, 422, "071-105")


async def test_response_headers_are_declared_by_the_document(
    app: FastAPI, http: httpx.AsyncClient, make_client: Any
) -> None:
    """Exercise every kind of answer and check each contract header it carries is declared for it."""
    client: ApiClient = await make_client(rate_limit="3/minute")
    reader: ApiClient = await make_client("farmacia-b", scopes="arc:read")
    keyed = {**client.headers, "Idempotency-Key": "k-1"}
    calls: list[httpx.Response] = [
        await http.get("/healthz"),
        await http.get("/readyz"),
        await http.post("/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=("x", "y")),
        await http.post(
            "/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client.client_id, client.client_secret),
        ),
        await http.get(PRODUCTS),  # 401
        await http.post(PRODUCTS, json={"product_code": "MED-042"}, headers=reader.headers),  # 403
        await http.post(PRODUCTS, json={"product_code": "MED-042"}, headers=keyed),  # 201
        await http.post(PRODUCTS, json={"product_code": "MED-042"}, headers=keyed),  # replayed 201
        await http.get(PRODUCTS, headers=client.headers),  # 200 with Link, then 429
        await http.get(PRODUCTS, headers=client.headers),
        await http.get("/arc/v1/products/NOPE-1", headers=reader.headers),  # 404
        await http.get("/arc/v1/products", params={"size": 0}, headers=reader.headers),  # 422
        await http.get("/medical-catalogs/v1/medications", headers=reader.headers),
    ]
    statuses = {r.status_code for r in calls}
    assert {200, 201, 401, 403, 404, 422, 429} <= statuses
    assert any("idempotent-replayed" in r.headers for r in calls)
    document = app.openapi()
    for response in calls:
        operation = _operation_for(document, response.request.method, str(response.request.url))
        declared = operation["responses"].get(str(response.status_code))
        assert declared is not None, (response.request.url, response.status_code)
        undeclared = undeclared_contract_headers(declared, response.headers.keys())
        assert not undeclared, (
            response.request.method,
            response.request.url,
            response.status_code,
            undeclared,
        )
        required = {n.lower() for n, h in declared.get("headers", {}).items() if h.get("required")}
        assert required <= set(response.headers.keys()), (response.request.url, required)
