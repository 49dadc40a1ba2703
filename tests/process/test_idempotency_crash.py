"""A server killed (SIGKILL) during keyed requests: after a restart, retries with the same keys finish.

The keys the dead process held are pending in the database at the moment of the kill; their
leases run out within ``LEASE_SECONDS``, so each retry runs its request (or replays a stored answer)
instead of waiting 24 hours behind a key nobody executes.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from provider_products.auth import service as auth_service
from provider_products.catalogue import importer
from provider_products.db.engine import Database
from provider_products.idempotency.middleware import LEASE_SECONDS
from provider_products.idempotency.models import IdempotencyKey
from tests.conftest import TEST_JWT_SECRET, TEST_REDIS_URL, pg_admin, pg_url
from tests.servers import clean_env, start_server

pytestmark = pytest.mark.slow

BATCH = "/arc/v1/providers/products/batch"
CODES = sorted(
    e.product_code for e in importer.parse(importer.sandbox_catalogue(), "jsonl") if e.status == "ACTIVE"
)
REQUESTS = 24


@pytest.fixture
def crash_db(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own for the servers of this test."""
    if backend == "sqlite":
        target = tmp_path / "crash.db"
        shutil.copy(request.getfixturevalue("template_db"), target)
        yield f"sqlite:///{target}"
        return
    name = f"pp_crash_{uuid.uuid4().hex[:12]}"
    pg_admin(f"CREATE DATABASE {name} TEMPLATE {request.getfixturevalue('pg_template')} STRATEGY FILE_COPY")
    yield pg_url(name)
    pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def _client(url: str) -> tuple[str, str]:
    database = Database(url)
    async with database.transaction(write=True) as conn:
        await auth_service.create_provider(conn, slug="crash", name="Crash")
        creds = await auth_service.create_client(
            conn, provider_slug="crash", scopes=["arc:read", "arc:write"], rate_limit="100000/minute"
        )
    await database.dispose()
    return creds.client_id, creds.client_secret


async def _pending(url: str) -> int:
    database = Database(url)
    try:
        async with database.transaction() as conn:
            query = (
                select(func.count()).select_from(IdempotencyKey).where(IdempotencyKey.status_code.is_(None))
            )
            return int((await conn.execute(query)).scalar_one())
    finally:
        await database.dispose()


def _body(n: int) -> dict[str, list[str]]:
    return {"product_codes": CODES[n * 8 : n * 8 + 8] + [f"NOPE-{n}-{i}" for i in range(300)]}


def test_keys_of_a_killed_server_are_retried_after_restart(
    backend: str, crash_db: str, tmp_path: Path
) -> None:
    settings = {"database_url": crash_db, "jwt_secret": TEST_JWT_SECRET, "seed_sandbox": "false"}
    if backend == "postgresql":
        assert TEST_REDIS_URL is not None
        settings["redis_url"] = TEST_REDIS_URL
    env = clean_env(**settings)
    client_id, secret = asyncio.run(_client(crash_db))
    server = start_server(tmp_path, env, "first")
    try:
        token = httpx.post(
            f"{server.base_url}/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, secret),
            timeout=30,
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        keys = [f"crash-{n}" for n in range(REQUESTS)]
        stop = threading.Event()

        def send(n: int) -> None:
            # Keep the server busy with keyed requests until it dies.
            while not stop.is_set():
                try:
                    httpx.post(
                        server.base_url + BATCH,
                        json=_body(n),
                        headers={**headers, "Idempotency-Key": keys[n]},
                        timeout=30,
                    )
                except httpx.TransportError:
                    return

        threads = [threading.Thread(target=send, args=(n,), daemon=True) for n in range(REQUESTS)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while asyncio.run(_pending(crash_db)) == 0:
            assert time.monotonic() < deadline, "no keyed request was ever in flight"
        server.process.kill()  # SIGKILL: no cleanup of any kind
        server.process.wait(20)
        stop.set()
        for thread in threads:
            thread.join(30)
        held = asyncio.run(_pending(crash_db))
        assert held > 0  # keys the dead process held when it died
    finally:
        server.stop()

    restarted = start_server(tmp_path, env, "second")
    try:
        with httpx.Client(base_url=restarted.base_url, headers=headers, timeout=60) as http:
            started = time.monotonic()
            retried = [
                http.post(BATCH, json=_body(n), headers={"Idempotency-Key": key})
                for n, key in enumerate(keys)
            ]
            elapsed = time.monotonic() - started
            assert [r.status_code for r in retried] == [200] * REQUESTS, [r.text for r in retried]
            assert elapsed < LEASE_SECONDS + 10
            again = [
                http.post(BATCH, json=_body(n), headers={"Idempotency-Key": key})
                for n, key in enumerate(keys)
            ]
            assert all(r.headers.get("idempotent-replayed") == "true" for r in again)
            assert [r.json() for r in again] == [r.json() for r in retried]
            # Every code of every request is registered once, whichever attempt ran it.
            listed = http.get("/arc/v1/providers/products", params={"size": 200}).json()
            registered = sorted(i["product_code"] for i in listed["content"])
            assert registered == sorted(c for n in range(REQUESTS) for c in _body(n)["product_codes"][:8])
        assert asyncio.run(_pending(crash_db)) == 0
    finally:
        restarted.stop()
