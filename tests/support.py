"""Set-up the OpenAPI tests and the contract fuzzing share: the sandbox database, the contract's headers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from provider_products.catalogue import importer
from provider_products.catalogue.sharing import SearchIndex
from provider_products.db import migrate
from provider_products.db.engine import Database

# Every header of the contract (CONTRACT.md), as a response might carry it.
CONTRACT_HEADERS = frozenset(
    {
        "ratelimit",
        "ratelimit-policy",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "retry-after",
        "link",
        "location",
        "x-request-id",
        "idempotent-replayed",
        "www-authenticate",
    }
)


async def load_sandbox_database(url: str) -> None:
    """Migrate the database at ``url`` to head and load the sandbox catalogue into it."""
    database = Database(url)
    await migrate.upgrade(database)
    await importer.import_content(database, importer.sandbox_catalogue(), "jsonl")
    # The sandbox's shared search snapshot, as the first server would have stored it: the tests'
    # servers load it instead of each building its own.
    await SearchIndex(database, refresh_seconds=0).current()
    if database.dialect == "sqlite":
        # Everything in the main file, so that a copy of it alone is the whole database.
        with database.sync_engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    await database.dispose()


def undeclared_contract_headers(declared: Mapping[str, Any], sent: Iterable[str]) -> frozenset[str]:
    """Return the contract headers among ``sent`` that the documented response ``declared`` omits."""
    names = {name.lower() for name in declared.get("headers", {})}
    return (CONTRACT_HEADERS & {name.lower() for name in sent}) - names
