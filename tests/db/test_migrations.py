"""The migrations build exactly the schema the models describe, on each backend, and can be undone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from provider_products.db import migrate
from provider_products.db.engine import Database
from provider_products.db.models import Base
from tests.conftest import pg_admin, pg_url


def _backend_objects(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    # The search indexes are backend-specific and owned by the migrations, not the models.
    if type_ == "table" and str(name).startswith("catalogue_search"):
        return False
    return not (type_ == "index" and name == "ix_catalogue_product_search_trgm")


def _diff(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(
        conn, opts={"compare_type": True, "include_object": _backend_objects}
    )
    return list(compare_metadata(context, Base.metadata))


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


@pytest.fixture
def empty_database(backend: str, tmp_path: Path) -> Iterator[Database]:
    """An empty database of the backend under test."""
    if backend == "sqlite":
        yield Database(f"sqlite:///{tmp_path / 'm.db'}")
        return
    name = f"pp_migrations_{tmp_path.name[-8:].replace('-', '_')}"
    pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    pg_admin(f"CREATE DATABASE {name}")
    yield Database(pg_url(name))
    pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def _inspect(database: Database, fn: Any) -> Any:
    if database.dialect == "sqlite":
        with database.sync_engine.connect() as conn:
            return fn(conn)
    async with database.async_engine.connect() as aconn:
        return await aconn.run_sync(fn)


async def test_migrated_schema_matches_models(empty_database: Database) -> None:
    await migrate.upgrade(empty_database)
    diff = await _inspect(empty_database, _diff)
    await empty_database.dispose()
    assert diff == []


async def test_downgrade_to_base_removes_everything(empty_database: Database) -> None:
    await migrate.upgrade(empty_database)
    assert await migrate.current_revision(empty_database) == migrate.head_revision()
    await migrate.downgrade(empty_database, "base")
    tables = await _inspect(empty_database, _tables)
    assert await migrate.current_revision(empty_database) is None
    await empty_database.dispose()
    assert tables <= {"alembic_version"}


async def test_outdated_schema_is_refused(empty_database: Database) -> None:
    with pytest.raises(migrate.SchemaOutdated, match="provider-products db upgrade"):
        await migrate.require_current(empty_database)
    await empty_database.dispose()
