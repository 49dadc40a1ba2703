"""Registering, reading, listing and removing provider products, over HTTP."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from provider_products.app import create_app
from provider_products.catalogue import importer
from provider_products.config import Settings
from provider_products.registry.models import ProviderProduct
from tests.conftest import ApiClient, assert_error

PRODUCTS = "/arc/v1/providers/products"


async def _register(http: httpx.AsyncClient, client: ApiClient, code: str) -> httpx.Response:
    return await http.post(PRODUCTS, json={"product_code": code}, headers=client.headers)


async def _all_codes(http: httpx.AsyncClient, client: ApiClient, **params: Any) -> list[str]:
    response = await http.get(PRODUCTS, params={"size": 200, **params}, headers=client.headers)
    assert response.status_code == 200
    return [item["product_code"] for item in response.json()["content"]]


async def test_register_known_code_returns_201_with_whole_second_utc_time(
    http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client()
    before = datetime.now(UTC).replace(microsecond=0)
    response = await _register(http, client, "MED-042")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"product_code", "registered_at"}
    assert body["product_code"] == "MED-042"
    assert body["registered_at"].endswith("Z")
    assert "." not in body["registered_at"]
    registered = datetime.strptime(body["registered_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= registered <= datetime.now(UTC)
    assert response.headers["location"] == "/arc/v1/providers/products/MED-042"


async def test_register_lower_case_code_answers_catalogue_spelling(
    http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client()
    response = await _register(http, client, "  med-042 ")
    assert response.status_code == 201
    assert response.json()["product_code"] == "MED-042"
    assert (await http.get(f"{PRODUCTS}/Med-042", headers=client.headers)).json()["product_code"] == "MED-042"


async def test_register_ignores_unknown_fields(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    response = await http.post(
        PRODUCTS,
        json={"product_code": "MED-042", "note": "x", "provider_slug": "farmacia-b"},
        headers=client.headers,
    )
    assert response.status_code == 201


async def test_register_twice_is_409_product_already_registered(
    http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client()
    await _register(http, client, "MED-042")
    info = assert_error(await _register(http, client, "med-042"), 409, "071-102")
    assert info == {"product_code": "MED-042"}


async def test_register_unknown_code_is_404_not_in_catalogue(
    http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client()
    info = assert_error(await _register(http, client, "NO-SUCH-CODE"), 404, "071-101")
    assert info == {"product_code": "NO-SUCH-CODE"}


async def test_register_inactive_code_is_404_not_in_catalogue(
    http: httpx.AsyncClient, make_client: Any, inactive_code: str
) -> None:
    client: ApiClient = await make_client()
    assert_error(await _register(http, client, inactive_code), 404, "071-101")


async def test_register_without_product_code_is_422(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    info = assert_error(await http.post(PRODUCTS, json={}, headers=client.headers), 422, "071-105")
    assert info["errors"] == [{"field": "product_code", "message": "Field required"}]


async def test_register_ill_formed_codes_are_422(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    for bad in ["", "   ", "-MED", "MED 042", "MED/042", "x" * 65, "MÉD-042", 42, None, ["MED-042"]]:
        response = await http.post(PRODUCTS, json={"product_code": bad}, headers=client.headers)
        info = assert_error(response, 422, "071-105")
        assert info["errors"][0]["field"] == "product_code"


async def test_register_malformed_json_is_400(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    response = await http.post(
        PRODUCTS, content=b'{"product_code": ', headers={**client.headers, "Content-Type": "application/json"}
    )
    assert_error(response, 400, "071-100")


async def test_register_form_encoded_body_is_400(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    response = await http.post(PRODUCTS, data={"product_code": "MED-042"}, headers=client.headers)
    assert_error(response, 400, "071-100")


async def test_register_non_object_json_is_rejected(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    response = await http.post(PRODUCTS, json="MED-042", headers=client.headers)
    assert response.status_code in (400, 422)
    assert response.json()["error_code"] in ("071-100", "071-105")


async def test_get_registered_product_returns_type_and_name(
    http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client()
    created = (await _register(http, client, "LAB-HEMO")).json()
    response = await http.get(f"{PRODUCTS}/LAB-HEMO", headers=client.headers)
    assert response.status_code == 200
    assert response.json() == {
        "product_code": "LAB-HEMO",
        "product_type": "LAB",
        "name": "Hemograma completo",
        "registered_at": created["registered_at"],
    }


async def test_get_unregistered_code_is_404_not_registered(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    assert_error(await http.get(f"{PRODUCTS}/MED-042", headers=client.headers), 404, "071-103")
    assert_error(await http.get(f"{PRODUCTS}/NOT-IN-CATALOGUE", headers=client.headers), 404, "071-103")


async def test_get_ill_formed_code_is_422(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    assert_error(await http.get(f"{PRODUCTS}/bad%20code", headers=client.headers), 422, "071-105")


async def test_delete_registered_code_is_204_and_then_404(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    await _register(http, client, "MED-042")
    response = await http.delete(f"{PRODUCTS}/med-042", headers=client.headers)
    assert response.status_code == 204
    assert response.content == b""
    assert_error(await http.get(f"{PRODUCTS}/MED-042", headers=client.headers), 404, "071-103")
    assert_error(await http.delete(f"{PRODUCTS}/MED-042", headers=client.headers), 404, "071-103")
    assert await _all_codes(http, client) == []


async def test_delete_unknown_code_is_404_not_registered(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    assert_error(await http.delete(f"{PRODUCTS}/NOPE-1", headers=client.headers), 404, "071-103")


async def test_register_after_delete_opens_new_period_and_keeps_history(
    app: FastAPI, http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client()
    await _register(http, client, "MED-042")
    await http.delete(f"{PRODUCTS}/MED-042", headers=client.headers)
    again = await _register(http, client, "MED-042")
    assert again.status_code == 201
    table = ProviderProduct.__table__
    async with app.state.runtime.database.transaction() as conn:
        periods = (
            await conn.execute(select(table.c.registered_at, table.c.removed_at).order_by(table.c.id))
        ).all()
    assert len(periods) == 2
    assert periods[0].removed_at is not None
    assert periods[0].removed_at >= periods[0].registered_at
    assert periods[1].removed_at is None
    assert periods[1].registered_at >= periods[0].removed_at


async def test_list_is_ordered_by_code_and_filtered_by_type(
    http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client()
    for code in ["MED-042", "LAB-HEMO", "CONS-GEN", "MED-SBX-0002", "MED-SBX-0001"]:
        assert (await _register(http, client, code)).status_code == 201
    assert await _all_codes(http, client) == [
        "CONS-GEN",
        "LAB-HEMO",
        "MED-042",
        "MED-SBX-0001",
        "MED-SBX-0002",
    ]
    assert await _all_codes(http, client, product_type="MEDICATION") == [
        "MED-042",
        "MED-SBX-0001",
        "MED-SBX-0002",
    ]
    assert await _all_codes(http, client, product_type="LAB") == ["LAB-HEMO"]
    items = (await http.get(PRODUCTS, headers=client.headers)).json()["content"]
    assert set(items[0]) == {"product_code", "product_type", "name", "registered_at"}


async def test_list_query_searches_registered_products_only(
    http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client()
    await _register(http, client, "MED-042")
    await _register(http, client, "LAB-HEMO")
    assert await _all_codes(http, client, query="paracetamol") == ["MED-042"]
    assert await _all_codes(http, client, query="HEMOGRAMA comp") == ["LAB-HEMO"]
    assert await _all_codes(http, client, query="ibuprofeno") == []


async def test_list_with_unknown_product_type_is_422(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    response = await http.get(PRODUCTS, params={"product_type": "DRUG"}, headers=client.headers)
    info = assert_error(response, 422, "071-105")
    assert "MEDICATION" in info["errors"][0]["message"]


async def test_provider_never_sees_another_providers_registrations(
    http: httpx.AsyncClient, make_client: Any
) -> None:
    a: ApiClient = await make_client("farmacia-a")
    b: ApiClient = await make_client("farmacia-b")
    assert (await _register(http, b, "MED-042")).status_code == 201
    assert_error(await http.get(f"{PRODUCTS}/MED-042", headers=a.headers), 404, "071-103")
    assert_error(await http.delete(f"{PRODUCTS}/MED-042", headers=a.headers), 404, "071-103")
    assert await _all_codes(http, a) == []
    assert await _all_codes(http, a, query="paracetamol") == []
    listing = await http.get(PRODUCTS, headers=a.headers)
    assert listing.json()["page"]["total_elements"] == 0
    assert "MED-042" not in listing.text
    # A registers the same code independently; B's registration is untouched.
    assert (await _register(http, a, "MED-042")).status_code == 201
    assert await _all_codes(http, b) == ["MED-042"]


async def test_two_clients_of_one_provider_share_its_registrations(
    http: httpx.AsyncClient, make_client: Any
) -> None:
    first: ApiClient = await make_client("farmacia-a")
    second: ApiClient = await make_client("farmacia-a")
    await _register(http, first, "MED-042")
    assert_error(await _register(http, second, "MED-042"), 409, "071-102")


async def test_twenty_concurrent_registrations_give_one_201_and_nineteen_409(
    http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client(rate_limit="1000/minute")
    responses = await asyncio.gather(*(_register(http, client, "MED-SBX-0007") for _ in range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 19
    assert all(r.json()["error_code"] == "071-102" for r in responses if r.status_code == 409)
    assert await _all_codes(http, client) == ["MED-SBX-0007"]


async def test_registrations_survive_a_restart(
    settings: Settings, http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client()
    codes = ["CONS-GEN", "LAB-HEMO", "MED-042"]
    created = {c: (await _register(http, client, c)).json()["registered_at"] for c in codes}
    restarted = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=restarted), base_url="http://t") as fresh:
        listing = await fresh.get(PRODUCTS, headers=client.headers)
        assert {i["product_code"]: i["registered_at"] for i in listing.json()["content"]} == created
    await restarted.state.runtime.database.dispose()


async def test_withdrawn_product_stays_registered_and_listed(
    app: FastAPI, http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client()
    await _register(http, client, "MED-042")
    entry = (await http.get("/arc/v1/products/MED-042", headers=client.headers)).json()
    line = importer.CatalogueEntryIn.model_validate({**entry, "status": "INACTIVE"}).model_dump_json()
    await importer.import_content(app.state.runtime.database, line, "jsonl")
    assert await _all_codes(http, client) == ["MED-042"]
    await http.delete(f"{PRODUCTS}/MED-042", headers=client.headers)
    assert_error(await _register(http, client, "MED-042"), 404, "071-101")
