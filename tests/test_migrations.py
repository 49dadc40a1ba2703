"""The migrations build exactly the schema the models describe, and can be undone."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from provider_products.db import migrate
from provider_products.db.engine import Database
from provider_products.db.models import Base


async def test_migrated_schema_matches_models(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'm.db'}")
    await migrate.upgrade(database)
    with database.sync_engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_object": lambda obj, name, type_, reflected, compare_to: (
                    not (type_ == "table" and str(name).startswith("catalogue_search"))
                ),
            },
        )
        diff = compare_metadata(context, Base.metadata)
    await database.dispose()
    assert diff == []


async def test_downgrade_to_base_removes_everything(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'm.db'}")
    await migrate.upgrade(database)
    assert await migrate.current_revision(database) == migrate.head_revision()
    await migrate.downgrade(database, "base")
    with database.sync_engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    await database.dispose()
    assert tables <= {"alembic_version"}
