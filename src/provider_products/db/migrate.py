"""Schema migrations: upgrade to head, and tell whether a database is up to date."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from provider_products.db.engine import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """Return the newest migration's revision id."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(_config(connection), revision)


def _downgrade(connection: Connection, revision: str) -> None:
    command.downgrade(_config(connection), revision)


async def upgrade(database: Database, revision: str = "head") -> None:
    """Apply every pending migration up to ``revision``."""
    await _run(database, _upgrade, revision)


async def downgrade(database: Database, revision: str) -> None:
    """Revert migrations down to ``revision``."""
    await _run(database, _downgrade, revision)


async def current_revision(database: Database) -> str | None:
    """Return the revision the database is at, or None for an empty database."""
    if database.dialect == "sqlite":
        with database.sync_engine.connect() as conn:
            return _current(conn)
    async with database.async_engine.connect() as aconn:
        return await aconn.run_sync(_current)


async def _run(database: Database, fn: object, revision: str) -> None:
    assert callable(fn)
    if database.dialect == "sqlite":
        with database.sync_engine.begin() as conn:
            fn(conn, revision)
        return
    async with database.async_engine.begin() as aconn:
        await aconn.run_sync(fn, revision)


class SchemaOutdated(RuntimeError):
    """The database is not at the newest migration."""


async def require_current(database: Database) -> None:
    """Refuse to go on unless the database is at the newest migration."""
    current, head = await current_revision(database), head_revision()
    if current != head:
        raise SchemaOutdated(
            f"the database schema is at revision {current or 'none'}, this release needs {head}: "
            "run 'provider-products db upgrade' first"
        )
