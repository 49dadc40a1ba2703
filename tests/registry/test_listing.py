"""Lists served from the listing indexes and the counter rows: pages, totals and counter drift."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite

from provider_products.catalogue import importer
from provider_products.catalogue.schemas import code_key
from provider_products.db.engine import Database
from provider_products.registry import repository
from tests.conftest import ApiClient

ENTRIES = [e for e in importer.parse(importer.sandbox_catalogue(), "jsonl") if e.status == "ACTIVE"]
PRODUCTS = "/arc/v1/providers/products"
BATCH = "/arc/v1/providers/products/batch"

_COUNTERS = text(
    "SELECT provider_id, product_type, active_count FROM provider_product_count WHERE active_count <> 0"
)
_REAL = text(
    "SELECT provider_id, product_type, COUNT(*) FROM provider_product "
    "WHERE removed_at IS NULL GROUP BY provider_id, product_type"
)


async def _counters_and_counts(app: FastAPI) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    database: Database = app.state.runtime.database
    async with database.transaction() as conn:
        counters = {tuple(r) for r in (await conn.execute(_COUNTERS)).all()}
        real = {tuple(r) for r in (await conn.execute(_REAL)).all()}
    return counters, real


async def _all_pages(http: httpx.AsyncClient, client: ApiClient, size: int, **filters: str) -> list[str]:
    codes: list[str] = []
    first = (await http.get(PRODUCTS, params={"size": size, **filters}, headers=client.headers)).json()
    for number in range(first["page"]["total_pages"]):
        params = {"size": size, "page": number, **filters}
        body = (await http.get(PRODUCTS, params=params, headers=client.headers)).json()
        assert body["page"]["total_elements"] == first["page"]["total_elements"]
        codes += [item["product_code"] for item in body["content"]]
    return codes


async def test_list_every_page_forward_and_backward_reads_the_ordered_list(
    http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client(rate_limit="100000/minute")
    chosen = random.Random(7).sample(ENTRIES, 83)
    await http.post(BATCH, json={"product_codes": [e.product_code for e in chosen]}, headers=client.headers)
    expected = sorted(chosen, key=lambda e: e.product_code.upper())
    for size in (1, 7, 15, 83, 200):
        assert await _all_pages(http, client, size) == [e.product_code for e in expected]
    for kind in ("MEDICATION", "LAB", "IMAGING", "PROCEDURE"):
        codes = [e.product_code for e in expected if e.product_type == kind]
        assert await _all_pages(http, client, 4, product_type=kind) == codes
    past = await http.get(PRODUCTS, params={"size": 15, "page": 9}, headers=client.headers)
    assert past.json()["content"] == []
    assert past.json()["page"]["total_elements"] == 83


async def test_list_total_counts_only_the_callers_provider(http: httpx.AsyncClient, make_client: Any) -> None:
    a: ApiClient = await make_client("farmacia-a", rate_limit="100000/minute")
    b: ApiClient = await make_client("farmacia-b", rate_limit="100000/minute")
    await http.post(BATCH, json={"product_codes": [e.product_code for e in ENTRIES[:30]]}, headers=a.headers)
    await http.post(
        BATCH, json={"product_codes": [e.product_code for e in ENTRIES[20:25]]}, headers=b.headers
    )
    page = (await http.get(PRODUCTS, params={"size": 2, "page": 2}, headers=b.headers)).json()
    assert page["page"]["total_elements"] == 5
    assert [i["product_code"] for i in page["content"]] == sorted(
        (e.product_code for e in ENTRIES[20:25]), key=str.upper
    )[4:]


async def test_counters_equal_real_count_after_concurrent_register_batch_remove(
    app: FastAPI, http: httpx.AsyncClient, make_client: Any
) -> None:
    clients: list[ApiClient] = [
        await make_client("farmacia-a", rate_limit="100000/minute"),
        await make_client("farmacia-b", rate_limit="100000/minute"),
    ]
    pool = [e.product_code for e in ENTRIES[:60]]
    rng = random.Random(12)

    async def one(n: int) -> None:
        client = clients[n % 2]
        action = rng.choice(("register", "batch", "remove", "remove"))
        if action == "register":
            await http.post(PRODUCTS, json={"product_code": rng.choice(pool)}, headers=client.headers)
        elif action == "batch":
            codes = rng.sample(pool, 8)
            await http.post(BATCH, json={"product_codes": codes}, headers=client.headers)
        else:
            await http.delete(f"{PRODUCTS}/{rng.choice(pool)}", headers=client.headers)

    for _ in range(3):
        await asyncio.gather(*(one(n) for n in range(60)))
        counters, real = await _counters_and_counts(app)
        assert counters == real
    for client in clients:
        listed = await _all_pages(http, client, 200)
        total = (await http.get(PRODUCTS, headers=client.headers)).json()["page"]["total_elements"]
        assert total == len(listed)


async def test_reregistration_race_keeps_counter_at_one(
    app: FastAPI, http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client(rate_limit="100000/minute")
    for _ in range(3):
        results = await asyncio.gather(
            *(
                http.post(PRODUCTS, json={"product_code": "MED-042"}, headers=client.headers)
                for _ in range(6)
            ),
            http.post(BATCH, json={"product_codes": ["MED-042", "LAB-HEMO"]}, headers=client.headers),
        )
        assert sum(r.status_code == 201 for r in results[:-1]) <= 1
        counters, real = await _counters_and_counts(app)
        assert counters == real
        assert sum(c[2] for c in counters) == 2
        await asyncio.gather(
            *(http.delete(f"{PRODUCTS}/MED-042", headers=client.headers) for _ in range(4)),
            http.delete(f"{PRODUCTS}/LAB-HEMO", headers=client.headers),
        )
        counters, real = await _counters_and_counts(app)
        assert counters == real == set()


async def test_catalogue_type_change_moves_registration_to_its_new_type(
    app: FastAPI, http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client(rate_limit="100000/minute")
    await http.post(BATCH, json={"product_codes": ["LAB-HEMO", "MED-042"]}, headers=client.headers)
    line = next(e for e in ENTRIES if e.product_code == "LAB-HEMO").model_dump(exclude_none=True)
    retyped = json.dumps({**line, "product_type": "IMAGING"})
    await importer.import_content(app.state.runtime.database, retyped, "jsonl")
    imaging = (await http.get(PRODUCTS, params={"product_type": "IMAGING"}, headers=client.headers)).json()
    lab = (await http.get(PRODUCTS, params={"product_type": "LAB"}, headers=client.headers)).json()
    assert [i["product_code"] for i in imaging["content"]] == ["LAB-HEMO"]
    assert imaging["page"]["total_elements"] == 1
    assert lab["page"]["total_elements"] == 0
    counters, real = await _counters_and_counts(app)
    assert counters == real


async def test_get_one_registration_is_a_probe_of_the_listing_index(
    http: httpx.AsyncClient, make_client: Any, app: FastAPI
) -> None:
    """The lookup filters on the registration's own code key, so that the (provider, code key) index
    serves it: one probe, not a walk over the provider's rows or a second index's."""
    client: ApiClient = await make_client(rate_limit="100000/minute")
    codes = [e.product_code for e in random.Random(3).sample(ENTRIES, 300)]
    await http.post(BATCH, json={"product_codes": codes}, headers=client.headers)
    database: Database = app.state.runtime.database
    async with database.transaction(write=True) as conn:
        provider_id = (await conn.execute(text("SELECT MAX(provider_id) FROM provider_product"))).scalar_one()
        await conn.execute(text("ANALYZE"))
    statement = repository._ONE.params(provider_id=provider_id, code_key=code_key(codes[0]))
    dialect = postgresql.dialect() if database.dialect == "postgresql" else sqlite.dialect()
    sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    explain = "EXPLAIN " if database.dialect == "postgresql" else "EXPLAIN QUERY PLAN "
    async with database.transaction() as conn:
        plan = " ".join(str(row[-1]) for row in (await conn.execute(text(explain + sql))).all())
    assert "ix_provider_product_listing" in plan, plan
