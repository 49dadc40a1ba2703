"""The transactions of ``Database``: what reads and writes cost in round trips, and dead connections."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from provider_products.db import engine
from provider_products.db.engine import Database
from provider_products.errors import StoreUnavailable

# The id of the transaction a statement runs in: the same for every statement of one transaction,
# a new one for each statement run on its own (autocommit).
_XID = text("SELECT txid_current()")


@pytest.fixture
def pg_database(backend: str, database: Database) -> Database:
    """This test's database, on PostgreSQL only."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL only")
    return database


async def test_read_runs_each_statement_without_begin_and_commit(pg_database: Database) -> None:
    async with pg_database.transaction() as conn:
        first = (await conn.execute(_XID)).scalar_one()
        second = (await conn.execute(_XID)).scalar_one()
    assert first != second


async def test_write_runs_its_statements_in_one_transaction(pg_database: Database) -> None:
    async with pg_database.transaction(write=True) as conn:
        first = (await conn.execute(_XID)).scalar_one()
        second = (await conn.execute(_XID)).scalar_one()
    assert first == second


async def _kill_pooled_connection(database: Database) -> None:
    """Terminate the backend of the one connection the pool holds (it stays in the pool, dead)."""
    async with database.transaction() as conn:
        pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    other = Database(database.url)
    try:
        async with other.transaction() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await other.dispose()


async def test_idle_connection_that_died_is_replaced_before_use(
    pg_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "IDLE_PING_SECONDS", 0.0)
    await _kill_pooled_connection(pg_database)
    async with pg_database.transaction() as conn:
        assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1


async def test_connection_in_steady_use_is_not_pinged_so_its_death_is_a_503(
    pg_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "IDLE_PING_SECONDS", 3600.0)
    await _kill_pooled_connection(pg_database)
    with pytest.raises(StoreUnavailable):
        async with pg_database.transaction() as conn:
            await conn.execute(text("SELECT 1"))
    async with pg_database.transaction() as conn:  # the failure replaced the dead connection
        assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
