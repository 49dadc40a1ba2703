"""Faults under load: PostgreSQL and Redis stopped and restarted beneath a running server.

These stop the machine's own PostgreSQL and Redis for a few seconds (tests run one at a time, and
every service is started again in a ``finally``). Requests during an outage must be answered at
once with 503 ``071-503`` or served, never 500 or a hang; the service must recover by itself, and
every registration answered 201 must still be there.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from provider_products.catalogue import importer
from tests.conftest import TEST_DATABASE_URL, TEST_JWT_SECRET, TEST_REDIS_URL, pg_admin, pg_url
from tests.process.test_multiprocess import Cluster
from tests.servers import Server, clean_env, start_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not TEST_DATABASE_URL, reason="needs PROVIDER_PRODUCTS_TEST_DATABASE_URL and _REDIS_URL"
    ),
]

PRODUCTS = "/arc/v1/providers/products"
ACTIVE_CODES = [
    e.product_code for e in importer.parse(importer.sandbox_catalogue(), "jsonl") if e.status == "ACTIVE"
]
REQUEST_TIMEOUT = 20.0  # a request still unanswered after this counts as a hang


def _pg(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(
        [
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            version,
            "main",
            action,
            *(["-m", "fast"] if action == "stop" else []),
        ],
        check=True,
        timeout=120,
    )


def _pg_ready() -> bool:
    return subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"], check=False, timeout=10).returncode == 0


def _redis_stop() -> None:
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "shutdown", "nosave"], check=False, timeout=30)


def _redis_start() -> None:
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        check=True,
        timeout=30,
    )
    for _ in range(50):
        if (
            subprocess.run(
                ["redis-cli", "-h", "127.0.0.1", "ping"], capture_output=True, check=False
            ).returncode
            == 0
        ):
            return
        time.sleep(0.1)


@pytest.fixture
def server(
    pg_template: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[Server, Cluster]]:
    """One server on a fresh PostgreSQL database; ``failure_mode`` comes from the test's parameter."""
    assert TEST_REDIS_URL is not None
    failure_mode = getattr(request, "param", "open")
    name = f"pp_fault_{os.getpid()}"
    pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    pg_admin(f"CREATE DATABASE {name} TEMPLATE {pg_template} STRATEGY FILE_COPY")
    env = clean_env(
        database_url=pg_url(name),
        redis_url=TEST_REDIS_URL,
        jwt_secret=TEST_JWT_SECRET,
        rate_limit_failure_mode=failure_mode,
    )
    started = start_server(tmp_path, env, "server")
    try:
        yield started, Cluster([started], pg_url(name))
    finally:
        started.stop()
        if not _pg_ready():
            _pg("start")
        pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def _load(
    base_url: str, headers: dict[str, str], seconds: float, codes: list[str]
) -> list[tuple[float, str, int]]:
    """Register codes continuously, 3 requests in flight; record (time, code, status)."""
    results: list[tuple[float, str, int]] = []
    deadline = time.monotonic() + seconds
    queue = iter(codes)

    async def worker(http: httpx.AsyncClient) -> None:
        code = next(queue, None)
        while code is not None and time.monotonic() < deadline:
            try:
                r = await http.post(f"{base_url}{PRODUCTS}", json={"product_code": code}, headers=headers)
            except httpx.TimeoutException:
                results.append((time.monotonic(), code, -1))
                return
            results.append((time.monotonic(), code, r.status_code))
            if r.status_code == 503:
                assert r.json()["error_code"] == "071-503"
                await asyncio.sleep(0.2)  # retry the same code, as a client would
            else:
                code = next(queue, None)
                await asyncio.sleep(0.05)  # about 60 requests a second: codes last the whole run

    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as http:
        await asyncio.gather(*(worker(http) for _ in range(3)))
    return results


def test_postgres_restart_under_load_gives_503_or_service_and_loses_nothing(
    server: tuple[Server, Cluster],
) -> None:
    process, cluster = server
    headers = cluster.token(*cluster.create_client("100000/minute"))
    codes = ACTIVE_CODES

    async def scenario() -> list[tuple[float, str, int]]:
        load = asyncio.create_task(_load(process.base_url, headers, 14, codes))
        await asyncio.sleep(2)
        await asyncio.to_thread(_pg, "stop")
        await asyncio.sleep(3)
        await asyncio.to_thread(_pg, "start")
        restarted = time.monotonic()
        results = await load
        recovered = [t for t, _, status in results if t > restarted and status == 201]
        assert recovered, "no registration succeeded after PostgreSQL came back"
        assert recovered[0] - restarted < 10
        return results

    results = asyncio.run(scenario())
    statuses = {status for _, _, status in results}
    assert -1 not in statuses, "a request hung past the timeout"
    assert statuses <= {201, 409, 503}, statuses
    assert 503 in statuses  # the outage was seen
    created = {code for _, code, status in results if status == 201}
    listing = httpx.get(
        f"{process.base_url}{PRODUCTS}", params={"size": 200}, headers=headers, timeout=30
    ).json()
    listed = {i["product_code"] for i in listing["content"]}
    for page in range(1, listing["page"]["total_pages"]):
        more = httpx.get(
            f"{process.base_url}{PRODUCTS}", params={"size": 200, "page": page}, headers=headers, timeout=30
        ).json()
        listed |= {i["product_code"] for i in more["content"]}
    assert created <= listed
    assert "Traceback" not in process.stdout


@pytest.mark.parametrize("server", ["open", "closed"], indirect=True)
def test_redis_restart_under_load_is_served_or_503_by_setting(
    server: tuple[Server, Cluster], request: pytest.FixtureRequest
) -> None:
    process, cluster = server
    mode = request.node.callspec.params["server"]
    headers = cluster.token(*cluster.create_client("100000/minute"))
    codes = ACTIVE_CODES

    async def scenario() -> list[tuple[float, str, int]]:
        load = asyncio.create_task(_load(process.base_url, headers, 8, codes))
        await asyncio.sleep(1.5)
        await asyncio.to_thread(_redis_stop)
        await asyncio.sleep(2)
        await asyncio.to_thread(_redis_start)
        return await load

    try:
        results = asyncio.run(scenario())
    finally:
        _redis_start()
    statuses = {status for _, _, status in results}
    assert -1 not in statuses, "a request hung past the timeout"
    # Failing open serves every request while Redis is away; failing closed refuses them with 503.
    assert statuses <= ({201, 409} if mode == "open" else {201, 409, 503}), statuses
    if mode == "closed":
        assert 503 in statuses
    after = httpx.get(f"{process.base_url}{PRODUCTS}", headers=headers, timeout=30)
    assert after.status_code == 200
    assert "x-ratelimit-limit" in after.headers  # counting again once Redis is back
