"""Migration 0008 stamps existing catalogue entries with the current revision, and can be undone."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import column, insert, table, text
from sqlalchemy.engine import Connection

from provider_products.catalogue import importer
from provider_products.catalogue.schemas import CatalogueEntryIn
from provider_products.db import migrate
from provider_products.db.engine import Database


def load_catalogue_rows(conn: Connection, entries: Sequence[CatalogueEntryIn]) -> None:
    """Insert entries with the columns of schema 0005 to 0007, bypassing today's importer."""
    rows = []
    for entry in entries:
        values = importer._values(entry)._asdict()
        values["synonyms"] = json.dumps(values["synonyms"])
        rows.append({**values, "updated_at": "2026-01-01 00:00:00"})
    conn.execute(insert(table("catalogue_product", *(column(name) for name in rows[0]))), rows)


async def test_upgrade_to_0009_stamps_entries_with_the_current_revision(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'c.db'}")
    await migrate.upgrade(database, "0008")
    with database.sync_engine.begin() as conn:
        load_catalogue_rows(conn, importer.parse(importer.sandbox_catalogue(), "jsonl")[:50])
        conn.execute(
            text("INSERT INTO catalogue_revision (id, revision, updated_at) VALUES (1, 7, '2026-01-01')")
        )
    await migrate.upgrade(database, "0009")
    with database.sync_engine.connect() as conn:
        stamps = conn.execute(text("SELECT revision, COUNT(*) FROM catalogue_product GROUP BY 1")).all()
        indexes = {row[1] for row in conn.execute(text("PRAGMA index_list(catalogue_product)")).all()}
    await migrate.downgrade(database, "0008")
    with database.sync_engine.connect() as conn:
        columns = {row[1] for row in conn.execute(text("PRAGMA table_info(catalogue_product)")).all()}
        count = conn.execute(text("SELECT COUNT(*) FROM catalogue_product")).scalar_one()
    await database.dispose()
    assert stamps == [(7, 50)]
    assert "ix_catalogue_product_revision" in indexes
    assert "revision" not in columns
    assert count == 50


async def test_upgrade_to_0009_of_a_never_imported_catalogue_stamps_zero(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'd.db'}")
    await migrate.upgrade(database, "0008")
    with database.sync_engine.begin() as conn:
        load_catalogue_rows(conn, importer.parse(importer.sandbox_catalogue(), "jsonl")[:3])
    await migrate.upgrade(database, "0009")
    with database.sync_engine.connect() as conn:
        stamps = conn.execute(text("SELECT DISTINCT revision FROM catalogue_product")).scalars().all()
    await database.dispose()
    assert stamps == [0]
