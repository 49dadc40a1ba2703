"""Contract fuzzing: schemathesis drives every operation of our own /openapi.json, valid and invalid.

No input may produce a 5xx; every response must have a documented status, content type and shape.
Bounded and deterministic (derandomized), so it can run on every submission.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.testclient import TestClient

from provider_products.app import create_app
from provider_products.auth import service as auth_service
from provider_products.catalogue import importer
from provider_products.config import Settings
from provider_products.db import migrate
from provider_products.db.engine import Database
from tests.conftest import TEST_JWT_SECRET

CHECKS = (not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance)
_WORKDIR = Path(tempfile.mkdtemp(prefix="pp-fuzz-"))


def _app_with_token() -> tuple[Any, dict[str, str]]:
    """An app on a fresh sandbox database, and a bearer header of a client with every scope."""
    url = f"sqlite:///{_WORKDIR / 'fuzz.db'}"

    async def prepare() -> auth_service.ClientCredentials:
        database = Database(url)
        await migrate.upgrade(database)
        await importer.import_content(database, importer.sandbox_catalogue(), "jsonl")
        async with database.transaction(write=True) as conn:
            await auth_service.create_provider(conn, slug="fuzz", name="Fuzz")
            credentials = await auth_service.create_client(
                conn,
                provider_slug="fuzz",
                scopes=["arc:read", "arc:write", "ehr:read", "ehr:write"],
                rate_limit="100000000/minute",
            )
        await database.dispose()
        return credentials

    credentials = asyncio.run(prepare())
    app = create_app(Settings(database_url=url, jwt_secret=TEST_JWT_SECRET, client_cache_seconds=0))
    with TestClient(app) as http:
        token = http.post(
            "/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(credentials.client_id, credentials.client_secret),
        ).json()["access_token"]
    return app, {"Authorization": f"Bearer {token}"}


APP, HEADERS = _app_with_token()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
# Valid and invalid inputs alike (NUL bytes included), the same examples on every run.
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], deterministic=True, allow_x00=True
)


@pytest.fixture(scope="module", autouse=True)
def _cleanup() -> Iterator[None]:
    yield
    shutil.rmtree(_WORKDIR, ignore_errors=True)


@schema.parametrize()
@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_within_its_contract(case: Any) -> None:
    if case.operation.path == "/v1/oauth/token":
        # The token endpoint authenticates with client credentials of its own, not a bearer token.
        case.call_and_validate(checks=CHECKS)
        return
    case.call_and_validate(headers=HEADERS, checks=CHECKS)
