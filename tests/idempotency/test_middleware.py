"""Idempotency-Key on POST: replay, conflict, concurrency, per-client keys, failures not kept."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from provider_products.db.base import utcnow
from provider_products.idempotency.models import IdempotencyKey
from provider_products.registry import service as registry_service
from tests.conftest import ApiClient, assert_error

PRODUCTS = "/arc/v1/providers/products"


def _post(http: httpx.AsyncClient, client: ApiClient, code: str, key: str) -> Any:
    return http.post(
        PRODUCTS, json={"product_code": code}, headers={**client.headers, "Idempotency-Key": key}
    )


async def test_same_key_and_body_replays_the_first_answer(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    first = await _post(http, client, "MED-042", "k-1")
    second = await _post(http, client, "MED-042", "k-1")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    # Without the key the same request is a real second attempt.
    assert_error(
        await http.post(PRODUCTS, json={"product_code": "MED-042"}, headers=client.headers), 409, "071-102"
    )


async def test_replayed_error_is_the_first_error(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    first = await _post(http, client, "NOPE-1", "k-404")
    second = await _post(http, client, "NOPE-1", "k-404")
    assert first.status_code == second.status_code == 404
    assert second.json() == first.json()


async def test_same_key_with_another_body_is_409(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    await _post(http, client, "MED-042", "k-2")
    assert_error(await _post(http, client, "LAB-HEMO", "k-2"), 409, "071-106")
    listed = (await http.get(PRODUCTS, headers=client.headers)).json()["content"]
    assert [i["product_code"] for i in listed] == ["MED-042"]


async def test_concurrent_requests_with_one_key_run_once(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client(rate_limit="1000/minute")
    responses = await asyncio.gather(*(_post(http, client, "CONS-GEN", "k-3") for _ in range(8)))
    assert [r.status_code for r in responses] == [201] * 8
    assert len({r.text for r in responses}) == 1
    assert sum(1 for r in responses if "idempotent-replayed" not in r.headers) == 1


async def test_keys_are_per_client(http: httpx.AsyncClient, make_client: Any) -> None:
    a: ApiClient = await make_client("farmacia-a")
    b: ApiClient = await make_client("farmacia-b")
    assert (await _post(http, a, "MED-042", "shared")).status_code == 201
    other = await _post(http, b, "LAB-HEMO", "shared")
    assert other.status_code == 201
    assert other.json()["product_code"] == "LAB-HEMO"


async def test_failed_answer_is_not_kept_and_may_be_retried(
    http: httpx.AsyncClient, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client: ApiClient = await make_client()
    real = registry_service.register
    calls = 0

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("transient")
        return await real(*args, **kwargs)

    monkeypatch.setattr(registry_service, "register", flaky)
    assert (await _post(http, client, "MED-042", "k-4")).status_code == 500
    retried = await _post(http, client, "MED-042", "k-4")
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers


async def test_key_older_than_a_day_is_forgotten(app: Any, http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    await _post(http, client, "MED-042", "k-5")
    async with app.state.runtime.database.transaction(write=True) as conn:
        await conn.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=25)))
    # A day later the key is free again: the request runs (and finds the code registered).
    assert_error(await _post(http, client, "MED-042", "k-5"), 409, "071-102")


async def test_malformed_key_is_422(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    response = await _post(http, client, "MED-042", "has spaces in it")
    info = assert_error(response, 422, "071-105")
    assert info["errors"][0]["field"] == "Idempotency-Key"
