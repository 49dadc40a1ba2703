"""Two real server processes on one PostgreSQL database and one Redis stay exactly correct together."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from provider_products.auth import service as auth_service
from provider_products.db import migrate
from provider_products.db.engine import Database
from tests.conftest import TEST_DATABASE_URL, TEST_JWT_SECRET, TEST_REDIS_URL, pg_admin, pg_url
from tests.servers import Server, clean_env, start_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not TEST_DATABASE_URL, reason="needs PROVIDER_PRODUCTS_TEST_DATABASE_URL and _REDIS_URL"
    ),
]

PRODUCTS = "/arc/v1/providers/products"


@dataclass
class Cluster:
    """Two servers sharing one database and one Redis."""

    servers: list[Server]
    database_url: str

    def create_client(self, rate_limit: str | None) -> tuple[str, str]:
        """Create a provider client directly in the shared database."""

        async def create() -> tuple[str, str]:
            database = Database(self.database_url)
            slug = f"prov-{rate_limit or 'default'}".replace("/", "-").replace(" ", "-")
            async with database.transaction(write=True) as conn:
                from provider_products.auth import repository

                if await repository.get_provider(conn, slug) is None:
                    await auth_service.create_provider(conn, slug=slug, name=slug)
                creds = await auth_service.create_client(
                    conn, provider_slug=slug, scopes=["arc:read", "arc:write"], rate_limit=rate_limit
                )
            await database.dispose()
            return creds.client_id, creds.client_secret

        return asyncio.run(create())

    def token(self, client_id: str, secret: str) -> dict[str, str]:
        """A bearer header for a client, obtained from the first server."""
        response = httpx.post(
            f"{self.servers[0].base_url}/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, secret),
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(scope="module")
def cluster(pg_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two ``serve`` processes on a fresh PostgreSQL database and the test Redis."""
    assert TEST_REDIS_URL is not None
    name = "pp_mp_" + pg_template.rsplit("_", 1)[-1]
    pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    pg_admin(f"CREATE DATABASE {name} TEMPLATE {pg_template} STRATEGY FILE_COPY")
    url = pg_url(name)
    env = clean_env(database_url=url, redis_url=TEST_REDIS_URL, jwt_secret=TEST_JWT_SECRET)
    workdir = tmp_path_factory.mktemp("cluster")
    started: list[Server] = []
    try:
        for n in range(2):
            started.append(start_server(workdir, env, f"server{n}"))
        yield Cluster(started, url)
    finally:
        for server in started:
            server.stop()
        pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def _spread(
    cluster: Cluster, requests: list[tuple[str, str, dict[str, object]]]
) -> list[httpx.Response]:
    """Send requests concurrently, alternating between the servers."""
    bases = itertools.cycle(s.base_url for s in cluster.servers)
    async with httpx.AsyncClient(timeout=30) as http:
        return await asyncio.gather(
            *(http.request(method, next(bases) + path, **kwargs) for method, path, kwargs in requests)  # type: ignore[arg-type]
        )


def test_hundred_concurrent_registrations_over_two_processes_give_one_201(cluster: Cluster) -> None:
    headers = cluster.token(*cluster.create_client("1000/minute"))
    body = {"json": {"product_code": "MED-SBX-0042"}, "headers": headers}
    responses = asyncio.run(_spread(cluster, [("POST", PRODUCTS, body)] * 100))
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 1
    assert statuses.count(409) == 99
    listing = httpx.get(f"{cluster.servers[1].base_url}{PRODUCTS}", headers=headers, timeout=30).json()
    assert [i["product_code"] for i in listing["content"]] == ["MED-SBX-0042"]


def test_one_client_alternating_processes_is_admitted_exactly_the_limit(cluster: Cluster) -> None:
    headers = cluster.token(*cluster.create_client(None))  # the default 50/minute
    responses = asyncio.run(_spread(cluster, [("GET", PRODUCTS, {"headers": headers})] * 120))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 50
    assert statuses.count(429) == 70
    assert all(int(r.headers["retry-after"]) >= 1 for r in responses if r.status_code == 429)


def test_rolling_window_is_shared_across_processes(cluster: Cluster) -> None:
    headers = cluster.token(*cluster.create_client("6/3 seconds"))
    first = asyncio.run(_spread(cluster, [("GET", PRODUCTS, {"headers": headers})] * 10))
    assert [r.status_code for r in first].count(200) == 6
    wait = max(int(r.headers["retry-after"]) for r in first if r.status_code == 429)
    asyncio.run(asyncio.sleep(wait))
    second = asyncio.run(_spread(cluster, [("GET", PRODUCTS, {"headers": headers})] * 10))
    assert [r.status_code for r in second].count(200) == 6


def test_both_processes_refuse_an_outdated_schema(pg_template: str, tmp_path: Path) -> None:
    assert TEST_REDIS_URL is not None
    import subprocess

    from tests.servers import CLI

    name = f"pp_empty_{pg_template.rsplit('_', 1)[-1]}"
    pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    pg_admin(f"CREATE DATABASE {name}")
    try:
        env = clean_env(database_url=pg_url(name), redis_url=TEST_REDIS_URL, jwt_secret=TEST_JWT_SECRET)
        refused = subprocess.run(
            [str(CLI), "serve", "--port", "1"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 2
        assert "provider-products db upgrade" in " ".join(refused.stderr.split())
        upgraded = subprocess.run(
            [str(CLI), "db", "upgrade"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert upgraded.returncode == 0, upgraded.stderr
        assert migrate.head_revision() in upgraded.stdout
    finally:
        pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_serve_with_two_workers_shares_one_limit(cluster: Cluster, tmp_path: Path) -> None:
    assert TEST_REDIS_URL is not None
    env = clean_env(database_url=cluster.database_url, redis_url=TEST_REDIS_URL, jwt_secret=TEST_JWT_SECRET)
    server = start_server(tmp_path, env, "workers", "--workers", "2")
    try:
        pair = Cluster([server], cluster.database_url)
        headers = pair.token(*pair.create_client(None))
        responses = asyncio.run(_spread(pair, [("GET", PRODUCTS, {"headers": headers})] * 80))
        assert [r.status_code for r in responses].count(200) == 50
        assert server.stderr.count("Started server process") == 2
    finally:
        server.stop()
