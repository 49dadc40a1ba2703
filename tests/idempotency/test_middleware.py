"""Idempotency-Key on POST: replay, conflict, concurrency, per-client keys, failures not kept."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from provider_products.db.base import utcnow
from provider_products.idempotency import middleware
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


async def test_same_key_with_another_body_is_422_payload_mismatch(
    http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client()
    await _post(http, client, "MED-042", "k-2")
    info = assert_error(await _post(http, client, "LAB-HEMO", "k-2"), 422, "071-106")
    assert info == {"reason": "payload_mismatch"}
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


async def _pending(
    app: Any, client: ApiClient, key: str, *, lease_seconds: float | None, owner: str | None
) -> None:
    """Leave a pending key as a process that died while executing its request would."""
    async with app.state.runtime.database.transaction(write=True) as conn:
        await conn.execute(
            IdempotencyKey.__table__.insert().values(
                client_id=client.client_id,
                key=key,
                request_hash=_hash(b'{"product_code":"MED-042"}'),
                created_at=utcnow(),
                owner=owner,
                lease_expires_at=None
                if lease_seconds is None
                else utcnow() + timedelta(seconds=lease_seconds),
            )
        )


def _hash(body: bytes) -> str:
    import hashlib

    return hashlib.sha256(b"\n".join([b"POST", PRODUCTS.encode(), b"", body])).hexdigest()


def _post_raw(http: httpx.AsyncClient, client: ApiClient, key: str) -> Any:
    return http.post(
        PRODUCTS,
        content=b'{"product_code":"MED-042"}',
        headers={**client.headers, "Idempotency-Key": key, "Content-Type": "application/json"},
    )


@pytest.mark.parametrize("owner", ["dead-process", None])
async def test_key_held_by_a_dead_execution_is_taken_over_and_runs(
    app: Any, http: httpx.AsyncClient, make_client: Any, owner: str | None
) -> None:
    client: ApiClient = await make_client()
    # The lease ran out a moment ago (owner None: a pending key left by a version without leases).
    await _pending(app, client, "k-dead", lease_seconds=-1 if owner else None, owner=owner)
    response = await _post_raw(http, client, "k-dead")
    assert response.status_code == 201, response.text
    assert "idempotent-replayed" not in response.headers
    replayed = await _post_raw(http, client, "k-dead")
    assert replayed.status_code == 201
    assert replayed.headers["idempotent-replayed"] == "true"


async def test_key_whose_lease_runs_out_while_waiting_is_taken_over(
    app: Any, http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client()
    await _pending(app, client, "k-dying", lease_seconds=1.0, owner="dying-process")
    response = await _post_raw(http, client, "k-dying")
    assert response.status_code == 201, response.text


async def test_key_held_by_a_live_execution_is_409_in_progress(
    app: Any, http: httpx.AsyncClient, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(middleware, "WAIT_FOR_FIRST_SECONDS", 0.3)
    client: ApiClient = await make_client()
    await _pending(app, client, "k-live", lease_seconds=60, owner="live-process")
    response = await _post_raw(http, client, "k-live")
    info = assert_error(response, 409, "071-106")
    assert info == {"reason": "in_progress"}
    assert response.headers["retry-after"] == "1"


async def test_request_running_longer_than_its_lease_keeps_its_key(
    http: httpx.AsyncClient, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The running request renews its lease, so a duplicate waits for it instead of running it again.
    monkeypatch.setattr(middleware, "LEASE_SECONDS", 0.6)
    monkeypatch.setattr(middleware, "RENEW_EVERY_SECONDS", 0.2)
    client: ApiClient = await make_client(rate_limit="1000/minute")
    real = registry_service.register
    calls = 0

    async def slow(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        await asyncio.sleep(2.0)
        return await real(*args, **kwargs)

    monkeypatch.setattr(registry_service, "register", slow)
    first = asyncio.create_task(_post_raw(http, client, "k-slow"))
    await asyncio.sleep(0.3)
    second = await _post_raw(http, client, "k-slow")
    assert (await first).status_code == second.status_code == 201
    assert second.headers["idempotent-replayed"] == "true"
    assert calls == 1
