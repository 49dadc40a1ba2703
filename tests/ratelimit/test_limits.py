"""Rate limits: the exact rolling window, honest headers, 429 and recovery."""

from __future__ import annotations

import math
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from provider_products.ratelimit.memory import MemoryRateLimiter
from tests.conftest import ApiClient, FakeClock, assert_error

LIST = "/arc/v1/providers/products"


async def test_fifty_first_request_in_a_minute_is_429_then_admitted_after_retry_after(
    http: httpx.AsyncClient, make_client: Any, clock: FakeClock
) -> None:
    client: ApiClient = await make_client()
    for n in range(50):
        response = await http.get(LIST, headers=client.headers)
        assert response.status_code == 200
        assert response.headers["x-ratelimit-remaining"] == str(49 - n)
        clock.advance(0.5)
    refused = await http.get(LIST, headers=client.headers)
    info = assert_error(refused, 429, "071-429")
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert info == {"retry_after_seconds": retry_after}
    assert refused.headers["x-ratelimit-remaining"] == "0"
    # The first request was made 25 s ago, so its slot frees in 35 s.
    assert retry_after == 35
    clock.advance(retry_after - 1)
    assert (await http.get(LIST, headers=client.headers)).status_code == 429
    clock.advance(1)
    assert (await http.get(LIST, headers=client.headers)).status_code == 200


async def test_refused_requests_do_not_count(
    http: httpx.AsyncClient, make_client: Any, clock: FakeClock
) -> None:
    client: ApiClient = await make_client(rate_limit="3/minute")
    for _ in range(3):
        await http.get(LIST, headers=client.headers)
    for _ in range(10):
        assert (await http.get(LIST, headers=client.headers)).status_code == 429
    clock.advance(60)
    statuses = [(await http.get(LIST, headers=client.headers)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


async def test_every_authenticated_outcome_counts(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client(rate_limit="4/minute", scopes="arc:read")
    outcomes = [
        await http.get(f"{LIST}/NOPE-1", headers=client.headers),  # 404
        await http.post(LIST, json={"product_code": "MED-042"}, headers=client.headers),  # 403
        await http.get("/arc/v1/products", params={"size": 0}, headers=client.headers),  # 422
        await http.get("/arc/v1/unknown-route", headers=client.headers),  # 404 route
    ]
    assert [r.status_code for r in outcomes] == [404, 403, 422, 404]
    assert_error(await http.get(LIST, headers=client.headers), 429, "071-429")


async def test_success_carries_ratelimit_headers(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    response = await http.get(LIST, headers=client.headers)
    assert response.headers["ratelimit-policy"] == '"default";q=50;w=60'
    assert response.headers["ratelimit"] == '"default";r=49;t=60'
    assert response.headers["x-ratelimit-limit"] == "50"
    assert response.headers["x-ratelimit-remaining"] == "49"
    assert response.headers["x-ratelimit-reset"] == "60"


async def test_limits_are_per_client(http: httpx.AsyncClient, make_client: Any) -> None:
    first: ApiClient = await make_client("farmacia-a", rate_limit="2/minute")
    second: ApiClient = await make_client("farmacia-a", rate_limit="2/minute")
    for _ in range(2):
        await http.get(LIST, headers=first.headers)
    assert (await http.get(LIST, headers=first.headers)).status_code == 429
    assert (await http.get(LIST, headers=second.headers)).status_code == 200


async def test_client_override_replaces_default(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client(rate_limit="600/minute")
    response = await http.get(LIST, headers=client.headers)
    assert response.headers["x-ratelimit-limit"] == "600"


async def test_token_endpoint_allows_ten_per_minute_per_client(
    http: httpx.AsyncClient, make_client: Any, clock: FakeClock
) -> None:
    client: ApiClient = await make_client()  # fetching its token used one
    auth = (client.client_id, client.client_secret)
    for _ in range(9):
        assert (
            await http.post("/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=auth)
        ).status_code == 200
    refused = await http.post("/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=auth)
    assert_error(refused, 429, "071-429")
    assert int(refused.headers["retry-after"]) >= 1
    clock.advance(int(refused.headers["retry-after"]))
    assert (
        await http.post("/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=auth)
    ).status_code == 200


async def test_token_endpoint_limits_unknown_clients_by_address(http: httpx.AsyncClient) -> None:
    statuses = [
        (
            await http.post(
                "/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=(f"cli_{n}", "x")
            )
        ).status_code
        for n in range(11)
    ]
    assert statuses == [401] * 10 + [429]


@settings(max_examples=200, deadline=None)
@given(
    limit=st.integers(1, 8),
    window=st.integers(1, 20),
    gaps=st.lists(st.floats(0, 5, allow_nan=False), min_size=1, max_size=80),
)
async def test_memory_limiter_is_exact_in_every_window(limit: int, window: int, gaps: list[float]) -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock=clock)
    admitted: list[float] = []
    for gap in gaps:
        clock.advance(gap)
        in_window = [t for t in admitted if t > clock.now - window]
        decision = await limiter.hit("k", limit=limit, window=window)
        # Admitted exactly when the rolling window has room.
        assert decision.allowed == (len(in_window) < limit)
        if decision.allowed:
            admitted.append(clock.now)
            assert decision.remaining == limit - len(in_window) - 1
        else:
            oldest_blocking = sorted(in_window)[len(in_window) - limit]
            assert decision.reset_after == max(1, math.ceil(oldest_blocking + window - clock.now))
    # No window of `window` seconds ever holds more than `limit` admissions.
    for start in admitted:
        assert sum(1 for t in admitted if start <= t < start + window) <= limit


async def test_waiting_retry_after_in_real_time_is_admitted(settings: Any, make_client: Any) -> None:
    import asyncio

    from provider_products.app import create_app

    app = create_app(settings.model_copy(update={"rate_limit": "2/2 seconds"}))  # real monotonic clock
    client: ApiClient = await make_client()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        for _ in range(2):
            assert (await http.get(LIST, headers=client.headers)).status_code == 200
        refused = await http.get(LIST, headers=client.headers)
        assert refused.status_code == 429
        await asyncio.sleep(int(refused.headers["retry-after"]))
        assert (await http.get(LIST, headers=client.headers)).status_code == 200
    await app.state.runtime.database.dispose()
