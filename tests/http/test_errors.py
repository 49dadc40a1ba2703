"""Every error path answers the contract's envelope: routes, methods, bodies, crashes, request ids."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from provider_products.registry import service as registry_service
from tests.conftest import ApiClient, assert_error


async def test_unknown_route_is_404_route_error(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    assert_error(await http.get("/arc/v1/nothing-here", headers=client.headers), 404, "071-404")
    assert_error(await http.get("/nothing-here"), 404, "071-404")


@pytest.mark.parametrize(
    "path", ["/arc/v1/providers/products/", "/healthz/", "/medical-catalogs/v1/medications/"]
)
async def test_trailing_slash_is_404_never_a_redirect_from_host(
    http: httpx.AsyncClient, make_client: Any, path: str
) -> None:
    client: ApiClient = await make_client()
    response = await http.get(path, headers={**client.headers, "Host": "evil.example"})
    assert_error(response, 404, "071-404")
    assert "location" not in response.headers


async def test_wrong_method_is_405_with_allow(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    response = await http.put("/arc/v1/providers/products", headers=client.headers)
    assert_error(response, 405, "071-405")
    assert "GET" in response.headers["allow"]
    assert "POST" in response.headers["allow"]


@pytest.mark.parametrize("path", ["/metrics", "/docs"])
async def test_wrong_method_on_a_route_outside_the_api_document_is_405_with_allow(
    http: httpx.AsyncClient, path: str
) -> None:
    response = await http.post(path)
    assert_error(response, 405, "071-405")
    assert response.headers["allow"] == "GET"


async def test_wrong_method_on_a_static_file_is_405_with_allow(http: httpx.AsyncClient) -> None:
    response = await http.post("/static/docs/swagger-ui.css")
    assert_error(response, 405, "071-405")
    assert response.headers["allow"] == "GET, HEAD"


async def test_oversized_body_is_413(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    body = b'{"product_code": "MED-042", "pad": "' + b"x" * (1024 * 1024) + b'"}'
    response = await http.post(
        "/arc/v1/providers/products",
        content=body,
        headers={**client.headers, "Content-Type": "application/json"},
    )
    assert_error(response, 413, "071-413")
    assert (await http.get("/arc/v1/providers/products", headers=client.headers)).json()["content"] == []


async def test_oversized_chunked_body_is_413(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()

    async def chunks() -> Any:
        yield b'{"product_code": "MED-042", "pad": "'
        for _ in range(40):
            yield b"x" * 32768
        yield b'"}'

    response = await http.post(
        "/arc/v1/providers/products",
        content=chunks(),
        headers={**client.headers, "Content-Type": "application/json"},
    )
    assert_error(response, 413, "071-413")


async def test_unexpected_failure_is_500_revealing_nothing(
    http: httpx.AsyncClient, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client: ApiClient = await make_client()

    async def explode(*_: Any, **__: Any) -> Any:
        raise RuntimeError("secret internal detail: table provider_product")

    monkeypatch.setattr(registry_service, "get", explode)
    response = await http.get(
        "/arc/v1/providers/products/MED-042", headers={**client.headers, "X-Request-Id": "req-1"}
    )
    info = assert_error(response, 500, "071-500")
    assert info == {"request_id": "req-1"}
    assert "secret" not in response.text
    assert "provider_product" not in response.text
    assert "Traceback" not in response.text


async def test_request_id_is_echoed_when_sane_and_replaced_otherwise(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz", headers={"X-Request-Id": "abc-123"})).headers[
        "x-request-id"
    ] == "abc-123"
    replaced = (await http.get("/healthz", headers={"X-Request-Id": "bad id <script>"})).headers[
        "x-request-id"
    ]
    assert replaced != "bad id <script>"
    assert len(replaced) == 32
    assert (await http.get("/healthz")).headers["x-request-id"]


async def test_openapi_lists_every_operation_with_error_responses(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    operations = {
        op["operationId"]: op
        for path in spec["paths"].values()
        for op in path.values()
        if "operationId" in op
    }
    expected = {
        "registerProviderProduct": {"400", "404", "409", "422", "401", "403", "429"},
        "listProviderProducts": {"422", "401", "403", "429"},
        "getProviderProduct": {"404", "401", "403", "429"},
        "deleteProviderProduct": {"404", "401", "403", "429"},
        "listMedications": {"422", "401", "429"},
        "getMedication": {"404", "401", "429"},
        "listProducts": {"422", "401", "429"},
        "getProduct": {"404", "401", "429"},
        "issueToken": {"400", "401", "429"},
        "registerProviderProductsBatch": {"422", "401", "403", "429"},
        "listProviderProductHistory": {"404", "401", "403", "429"},
        "validateProviderProducts": {"422", "401", "403", "429"},
        "createAuthorizationRequest": {"422", "401", "403", "429"},
        "completeAuthorizationRequest": {"404", "401", "403", "429"},
        "getAuthorizationRequest": {"404", "401", "403", "429"},
        "createPrescription": {"422", "401", "403", "429"},
        "getPrescription": {"404", "401", "403", "429"},
        "createOutpatientCareClaim": {"422", "401", "403", "429"},
        "getOutpatientCareClaim": {"404", "401", "403", "429"},
    }
    for operation_id, statuses in expected.items():
        assert operation_id in operations
        assert statuses <= set(operations[operation_id]["responses"]), operation_id
    register = operations["registerProviderProduct"]
    assert register["security"] == [{"OAuth2ClientCredentials": ["arc:write"]}]


async def test_docs_page_uses_local_assets(http: httpx.AsyncClient) -> None:
    page = await http.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text
    assert (await http.get("/static/docs/swagger-ui-bundle.js")).status_code == 200


async def test_readiness_before_the_first_snapshot_is_503(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    response = await http.get("/readyz")  # no search yet, and the in-process transport runs no warm-up
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "rate_limit_store": "ok", "search_index": "loading"},
        "search_index": {"revision": None},
    }


async def test_readiness_after_the_first_snapshot_reports_its_revision(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    await app.state.runtime.search_index.warm_up()
    response = await http.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "rate_limit_store": "ok", "search_index": "ok"},
        "search_index": {"revision": 1},
    }


async def test_readiness_fails_when_database_is_unreachable(app: FastAPI, http: httpx.AsyncClient) -> None:
    from provider_products.db.engine import Database

    app.state.runtime.database = Database("sqlite:////nonexistent-dir/x.db")
    response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "unavailable"


async def test_request_while_database_is_unreachable_is_503(
    app: FastAPI, http: httpx.AsyncClient, make_client: Any
) -> None:
    from provider_products.db.engine import Database

    client: ApiClient = await make_client()
    unreachable = Database("sqlite:////nonexistent-dir/x.db")
    app.state.runtime.database = unreachable
    app.state.runtime.directory._database = unreachable
    response = await http.get("/arc/v1/providers/products", headers=client.headers)
    assert_error(response, 503, "071-503")
    assert int(response.headers["retry-after"]) >= 1
