"""The SDK's test harness: clients of the real app that record what they sent and how long they slept."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI

from provider_products_client import AsyncClient, Client
from tests.conftest import ApiClient, FakeClock

if TYPE_CHECKING:
    from starlette.testclient import TestClient

BASE_URL = "http://testserver"
TOKEN = "/v1/oauth/token"
READ_WRITE = "arc:read arc:write"


@dataclass
class Harness:
    """An SDK client and what it did: the requests it sent and the pauses it asked for."""

    api: AsyncClient
    requests: list[httpx.Request] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)

    def sent(self, path: str, method: str = "GET") -> int:
        """Count the requests sent to ``path`` with ``method``."""
        return sum(1 for r in self.requests if r.url.path == path and r.method == method)


class FlakyTransport(httpx.AsyncBaseTransport):
    """Refuse the first ``failures`` API connections, then lose the answers of ``lost`` API requests."""

    def __init__(self, inner: httpx.AsyncBaseTransport, failures: int, lost: int) -> None:
        self.inner = inner
        self.failures = failures
        self.lost = lost

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == TOKEN:
            return await self.inner.handle_async_request(request)
        if self.failures > 0:
            self.failures -= 1
            raise httpx.ConnectError("connection refused", request=request)
        response = await self.inner.handle_async_request(request)
        if self.lost > 0:
            # The app has done the work; only its answer goes missing on the way back.
            self.lost -= 1
            await response.aread()
            raise httpx.ReadError("connection reset", request=request)
        return response


Connect = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def connect(app: FastAPI, make_client: Any, clock: FakeClock) -> AsyncIterator[Connect]:
    """Make an ``AsyncClient`` for a new OAuth client of the app, recording requests and sleeps.

    Its sleeps take no time but advance the server's rate-limit clock (unless ``advance_clock`` is
    false), as real waiting would.
    """
    opened: list[httpx.AsyncClient] = []

    async def make(
        creds: ApiClient | None = None,
        *,
        scopes: str = READ_WRITE,
        rate_limit: str | None = None,
        max_retries: int = 5,
        advance_clock: bool = True,
        asgi: Any = None,
        flaky: int = 0,
        lost: int = 0,
        client_clock: Callable[[], float] | None = None,
    ) -> Harness:
        creds = creds or await make_client(scopes=scopes, rate_limit=rate_limit)
        harness: Harness

        async def record(request: httpx.Request) -> None:
            harness.requests.append(request)

        async def sleep(seconds: float) -> None:
            harness.sleeps.append(seconds)
            if advance_clock:
                clock.advance(seconds)

        transport: httpx.AsyncBaseTransport = httpx.ASGITransport(app=asgi or app)
        if flaky or lost:
            transport = FlakyTransport(transport, flaky, lost)
        http = httpx.AsyncClient(transport=transport, base_url=BASE_URL, event_hooks={"request": [record]})
        opened.append(http)
        api = AsyncClient(
            base_url=BASE_URL,
            client_id=creds.client_id,
            client_secret=creds.client_secret,
            max_retries=max_retries,
            http_client=http,
            sleep=sleep,
            clock=client_clock,
        )
        harness = Harness(api)
        return harness

    yield make
    for http in opened:
        await http.aclose()


# The blocking client, against the app served by Starlette's TestClient in its own thread and loop


@dataclass
class SyncHarness:
    """A blocking SDK client and what it did."""

    api: Client
    requests: list[httpx.Request]
    sleeps: list[float]

    def sent(self, path: str, method: str = "GET") -> int:
        """Count the requests sent to ``path`` with ``method``."""
        return sum(1 for r in self.requests if r.url.path == path and r.method == method)


SyncConnect = Callable[..., SyncHarness]


@pytest.fixture
def served(app: FastAPI, http: httpx.AsyncClient) -> Iterator[TestClient]:
    """The app running in TestClient's own thread and event loop (with its lifespan).

    It depends on ``http`` so that it stops first: its lifespan then closes the database
    connections on the loop that opened them, and ``http`` finds none left to close on its own.
    """
    from starlette.testclient import TestClient

    with TestClient(app, base_url=BASE_URL) as test_client:
        yield test_client


@pytest.fixture
def sync_connect(served: TestClient, make_client: Any, clock: FakeClock) -> SyncConnect:
    """Make a ``Client`` for a new OAuth client; the app's database work all runs on the server's loop."""

    def make(
        *,
        scopes: str = READ_WRITE,
        rate_limit: str | None = None,
        max_retries: int = 5,
        advance_clock: bool = True,
    ) -> SyncHarness:
        creds: ApiClient = served.portal.call(
            functools.partial(make_client, scopes=scopes, rate_limit=rate_limit)
        )
        requests: list[httpx.Request] = []
        sleeps: list[float] = []

        def sleep(seconds: float) -> None:
            sleeps.append(seconds)
            if advance_clock:
                clock.advance(seconds)

        served.event_hooks = {"request": [requests.append], "response": []}
        api = Client(
            base_url=BASE_URL,
            client_id=creds.client_id,
            client_secret=creds.client_secret,
            max_retries=max_retries,
            http_client=served,
            sleep=sleep,
        )
        return SyncHarness(api, requests, sleeps)

    return make
