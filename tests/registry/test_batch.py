"""Batch registration (extension): outcomes per code, limits, concurrency, rate-limit cost."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from provider_products.catalogue import importer
from tests.conftest import ApiClient, assert_error

ACTIVE_CODES = [
    e.product_code for e in importer.parse(importer.sandbox_catalogue(), "jsonl") if e.status == "ACTIVE"
]
BATCH = "/arc/v1/providers/products/batch"
PRODUCTS = "/arc/v1/providers/products"


async def test_batch_reports_each_outcome_in_order(
    http: httpx.AsyncClient, make_client: Any, inactive_code: str
) -> None:
    client: ApiClient = await make_client()
    await http.post(PRODUCTS, json={"product_code": "LAB-HEMO"}, headers=client.headers)
    codes = ["med-042", "LAB-HEMO", "NOPE-1", "bad code", inactive_code, "MED-042", " CONS-GEN "]
    response = await http.post(BATCH, json={"product_codes": codes}, headers=client.headers)
    assert response.status_code == 200
    body = response.json()
    outcomes = [(r["product_code"], r["outcome"], r.get("error_code")) for r in body["results"]]
    assert outcomes == [
        ("MED-042", "registered", None),
        ("LAB-HEMO", "already_registered", "071-102"),
        ("NOPE-1", "not_in_catalogue", "071-101"),
        ("bad code", "invalid", "071-105"),
        (inactive_code, "not_in_catalogue", "071-101"),
        ("MED-042", "already_registered", "071-102"),
        ("CONS-GEN", "registered", None),
    ]
    assert body["results"][0]["registered_at"].endswith("Z")
    assert body["counts"] == {"registered": 2, "already_registered": 2, "not_in_catalogue": 2, "invalid": 1}
    listed = (await http.get(PRODUCTS, headers=client.headers)).json()["content"]
    assert [i["product_code"] for i in listed] == ["CONS-GEN", "LAB-HEMO", "MED-042"]


async def test_batch_of_more_than_500_or_none_is_422(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    too_many = [f"MED-SBX-{n:04d}" for n in range(1, 502)]
    assert_error(
        await http.post(BATCH, json={"product_codes": too_many}, headers=client.headers), 422, "071-105"
    )
    assert_error(await http.post(BATCH, json={"product_codes": []}, headers=client.headers), 422, "071-105")
    assert_error(await http.post(BATCH, json={}, headers=client.headers), 422, "071-105")
    assert (await http.get(PRODUCTS, headers=client.headers)).json()["content"] == []


async def test_batch_of_500_registers_all_and_counts_once(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    response = await http.post(BATCH, json={"product_codes": ACTIVE_CODES[:500]}, headers=client.headers)
    assert response.json()["counts"]["registered"] == 500
    assert response.headers["x-ratelimit-remaining"] == "49"
    listing = await http.get(PRODUCTS, params={"size": 1}, headers=client.headers)
    assert listing.json()["page"]["total_elements"] == 500


async def test_concurrent_batches_and_singles_register_each_code_once(
    http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client(rate_limit="1000/minute")
    codes = ACTIVE_CODES[:40]
    batches = [http.post(BATCH, json={"product_codes": codes}, headers=client.headers) for _ in range(5)]
    singles = [http.post(PRODUCTS, json={"product_code": c}, headers=client.headers) for c in codes[:10]]
    responses = await asyncio.gather(*batches, *singles)
    registered = [
        item["product_code"]
        for r in responses[:5]
        for item in r.json()["results"]
        if item["outcome"] == "registered"
    ]
    registered += [r.json()["product_code"] for r in responses[5:] if r.status_code == 201]
    assert sorted(registered) == sorted(codes)
    listed = (await http.get(PRODUCTS, params={"size": 200}, headers=client.headers)).json()
    assert listed["page"]["total_elements"] == 40


async def test_batch_needs_write_scope(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client(scopes="arc:read")
    response = await http.post(BATCH, json={"product_codes": ["MED-042"]}, headers=client.headers)
    assert_error(response, 403, "071-403")


@pytest.mark.parametrize("path", [BATCH, f"{PRODUCTS}/validate"])
async def test_lone_surrogate_in_codes_is_422_and_commits_nothing(
    http: httpx.AsyncClient, make_client: Any, path: str
) -> None:
    client: ApiClient = await make_client()
    response = await http.post(
        path,
        content=b'{"product_codes": ["MED-042", "LAB-HEMO", "\\ud800"]}',
        headers={**client.headers, "Content-Type": "application/json"},
    )
    info = assert_error(response, 422, "071-105")
    assert info["errors"][0]["field"] == "product_codes.2"  # type: ignore[index]
    listed = (await http.get(PRODUCTS, headers=client.headers)).json()
    assert listed["content"] == []
