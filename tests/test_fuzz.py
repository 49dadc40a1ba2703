"""Contract fuzzing: schemathesis drives every operation of our own /openapi.json, valid and invalid.

Every check schemathesis has runs (no 5xx; documented status, content type, headers and shape;
invalid data refused, valid data accepted; ...), plus ours: every contract header an answer carries
is declared for that answer. Bounded and deterministic (derandomized), so it runs on every submission.
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
from schemathesis.checks import CHECKS as REGISTERED_CHECKS
from schemathesis.config._checks import (
    POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES,
    PositiveDataAcceptanceConfig,
)
from schemathesis.specs.openapi import checks as _openapi_checks  # noqa: F401 (registers them)
from starlette.testclient import TestClient

from provider_products.app import create_app
from provider_products.auth import service as auth_service
from provider_products.config import Settings
from provider_products.db.engine import Database
from tests.conftest import TEST_JWT_SECRET
from tests.support import load_sandbox_database, undeclared_contract_headers


def contract_headers_declared(ctx: Any, response: Any, case: Any) -> bool | None:
    """Fail when an answer carries a contract header its operation does not declare for its status."""
    responses = case.operation.definition.raw.get("responses", {})
    declared = responses.get(str(response.status_code)) or responses.get("default")
    if declared is None:
        # An answer to another method, or an undocumented status: other checks judge those.
        return None
    undeclared = sorted(undeclared_contract_headers(declared, response.headers))
    assert not undeclared, f"{response.status_code} carries undeclared headers {undeclared}"
    return None


CHECKS = (*REGISTERED_CHECKS.get_all(), contract_headers_declared)
_WORKDIR = Path(tempfile.mkdtemp(prefix="pp-fuzz-"))


def _app_with_token() -> tuple[Any, dict[str, str]]:
    """An app on a fresh sandbox database, and a bearer header of a client with every scope."""
    url = f"sqlite:///{_WORKDIR / 'fuzz.db'}"

    async def prepare() -> auth_service.ClientCredentials:
        await load_sandbox_database(url)
        database = Database(url)
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

# A schema-valid filing that cites codes the provider has not registered is the contract's 422 071-104
# (and a well-formed id of another provider's record 404): valid data may be refused for what it says.
schema.config.checks.positive_data_acceptance = PositiveDataAcceptanceConfig(
    expected_statuses=[*POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES, "422"]
)
# ``/batch``, ``/validate`` and ``/lookup`` are also a ``/{product_code}`` (GET, and DELETE for the
# registry, answer 404 there), so their 405 rightly allows more: the Allow check cannot know that.
SHADOWED = {
    "/arc/v1/providers/products/batch",
    "/arc/v1/providers/products/validate",
    "/arc/v1/products/lookup",
}
ALLOW_CHECK = next(c for c in REGISTERED_CHECKS.get_all() if c.__name__ == "allow_header_conformance")


@pytest.fixture(scope="module", autouse=True)
def _cleanup() -> Iterator[None]:
    yield
    shutil.rmtree(_WORKDIR, ignore_errors=True)


@schema.parametrize()
@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_within_its_contract(case: Any) -> None:
    if case.operation.path == "/v1/oauth/token":
        # The token endpoint authenticates with client credentials of its own, not a bearer token.
        case.call_and_validate(checks=list(CHECKS))
        return
    excluded = [ALLOW_CHECK] if case.operation.path in SHADOWED else []
    case.call_and_validate(headers=HEADERS, checks=list(CHECKS), excluded_checks=excluded)
