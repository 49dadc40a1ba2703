"""Shared fixtures: a migrated, seeded database per test and the app driven over HTTP."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from provider_products.app import create_app
from provider_products.auth import service as auth_service
from provider_products.catalogue import importer
from provider_products.config import Settings
from provider_products.db.engine import Database
from provider_products.ratelimit.base import RateLimiter
from provider_products.ratelimit.memory import MemoryRateLimiter
from provider_products.ratelimit.redis import RedisRateLimiter
from tests.support import load_sandbox_database


class FakeClock:
    """A monotonic clock the tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


TEST_DATABASE_URL = os.environ.get("PROVIDER_PRODUCTS_TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("PROVIDER_PRODUCTS_TEST_REDIS_URL")
TEST_JWT_SECRET = "test-secret-" + "k" * 40
BACKENDS = ["sqlite", *(["postgresql"] if TEST_DATABASE_URL else [])]
if TEST_DATABASE_URL and not TEST_REDIS_URL:
    raise RuntimeError("PROVIDER_PRODUCTS_TEST_DATABASE_URL needs PROVIDER_PRODUCTS_TEST_REDIS_URL too")


def pg_admin(statement: str) -> None:
    """Run one statement on the test server's maintenance database (outside any transaction)."""
    import asyncpg

    assert TEST_DATABASE_URL is not None

    async def run() -> None:
        conn = await asyncpg.connect(TEST_DATABASE_URL.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


def pg_url(name: str) -> str:
    """The URL of another database on the test server."""
    assert TEST_DATABASE_URL is not None
    return str(make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False))


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to head and loaded with the sandbox catalogue, copied per test."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(load_sandbox_database(f"sqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A PostgreSQL database migrated and loaded once, cloned per test."""
    name = f"pp_template_{os.getpid()}"
    pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    pg_admin(f"CREATE DATABASE {name}")
    asyncio.run(load_sandbox_database(pg_url(name)))
    yield name
    pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The storage backend under test: SQLite, and PostgreSQL with Redis when their URLs are set."""
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh copy of the template database for this test."""
    if backend == "sqlite":
        target = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("template_db"), target)
        yield f"sqlite:///{target}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"pp_test_{uuid.uuid4().hex[:12]}"
    pg_admin(f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")
    yield pg_url(name)
    pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    """This test's database, for tests that open transactions and call services directly."""
    db = Database(db_url)
    yield db
    await db.dispose()


@pytest.fixture
def settings(backend: str, db_url: str) -> Settings:
    """Settings pointing at this test's database (and Redis, with PostgreSQL)."""
    return Settings(
        database_url=db_url,
        client_cache_seconds=0,
        catalogue_refresh_seconds=0,
        jwt_secret=TEST_JWT_SECRET,
        redis_url=TEST_REDIS_URL if backend == "postgresql" else None,
    )


@pytest.fixture
def clock() -> FakeClock:
    """The rate limiter's clock."""
    return FakeClock()


@pytest.fixture
def limiter(backend: str, clock: FakeClock) -> RateLimiter:
    """The rate limiter of the backend, on the test's clock; Redis keys are private to the test."""
    if backend == "sqlite":
        return MemoryRateLimiter(clock=clock)
    assert TEST_REDIS_URL is not None
    return RedisRateLimiter(
        Redis.from_url(TEST_REDIS_URL), prefix=f"pp:test:{uuid.uuid4().hex}:", clock=clock
    )


@pytest.fixture
def app(settings: Settings, limiter: RateLimiter) -> FastAPI:
    """The application, with a rate limiter whose clock the test controls."""
    return create_app(settings, limiter=limiter)


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    await app.state.runtime.database.dispose()
    await app.state.runtime.limiter.close()


@dataclass
class ApiClient:
    """An OAuth client of a provider, with a token ready."""

    client_id: str
    client_secret: str
    provider_slug: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        """The bearer header."""
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def make_client(app: FastAPI, http: httpx.AsyncClient):  # type: ignore[no-untyped-def]
    """Create a provider (if new) and an OAuth client for it, and fetch a token."""
    database: Database = app.state.runtime.database

    async def make(
        slug: str = "farmacia-a", *, scopes: str = "arc:read arc:write", rate_limit: str | None = None
    ) -> ApiClient:
        async with database.transaction(write=True) as conn:
            from provider_products.auth import repository

            if await repository.get_provider(conn, slug) is None:
                await auth_service.create_provider(conn, slug=slug, name=slug.title())
            creds = await auth_service.create_client(
                conn, provider_slug=slug, scopes=auth_service.parse_scopes(scopes), rate_limit=rate_limit
            )
        response = await http.post(
            "/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(creds.client_id, creds.client_secret),
        )
        assert response.status_code == 200, response.text
        return ApiClient(creds.client_id, creds.client_secret, slug, response.json()["access_token"])

    return make


def assert_error(response: httpx.Response, status: int, error_code: str) -> dict[str, object]:
    """Check the whole error envelope and return its additional information."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"error_code", "message", "additional_information"}
    assert body["error_code"] == error_code
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["additional_information"], dict)
    assert "x-request-id" in response.headers
    return body["additional_information"]  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def inactive_code() -> str:
    """A code that the sandbox catalogue lists as INACTIVE."""
    entries = importer.parse(importer.sandbox_catalogue(), "jsonl")
    return next(e.product_code for e in entries if e.status == "INACTIVE")
