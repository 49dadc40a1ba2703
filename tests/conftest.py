"""Shared fixtures: a migrated, seeded database per test and the app driven over HTTP."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from provider_products.app import create_app
from provider_products.auth import service as auth_service
from provider_products.catalogue import importer
from provider_products.config import Settings
from provider_products.db import migrate
from provider_products.db.engine import Database
from provider_products.ratelimit.memory import MemoryRateLimiter


class FakeClock:
    """A monotonic clock the tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to head and loaded with the sandbox catalogue, copied per test."""
    path = tmp_path_factory.mktemp("template") / "template.db"

    async def build() -> None:
        database = Database(f"sqlite:///{path}")
        await migrate.upgrade(database)
        await importer.import_content(database, importer.sandbox_catalogue(), "jsonl")
        with database.sync_engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        await database.dispose()

    asyncio.run(build())
    return path


@pytest.fixture
def db_url(template_db: Path, tmp_path: Path) -> str:
    """A fresh copy of the template database for this test."""
    target = tmp_path / "test.db"
    shutil.copy(template_db, target)
    return f"sqlite:///{target}"


@pytest.fixture
def settings(db_url: str) -> Settings:
    """Settings pointing at this test's database."""
    return Settings(database_url=db_url, client_cache_seconds=0)


@pytest.fixture
def clock() -> FakeClock:
    """The rate limiter's clock."""
    return FakeClock()


@pytest.fixture
def app(settings: Settings, clock: FakeClock) -> FastAPI:
    """The application, with a rate limiter whose clock the test controls."""
    return create_app(settings, limiter=MemoryRateLimiter(clock=clock))


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    await app.state.runtime.database.dispose()


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
