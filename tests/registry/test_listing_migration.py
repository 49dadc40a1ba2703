"""Migration 0007 backfills the copied columns and the counters of existing registrations."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from provider_products.catalogue import importer
from provider_products.db import migrate
from provider_products.db.engine import Database
from tests.catalogue.test_changes_migration import load_catalogue_rows


async def test_upgrade_to_0007_backfills_code_key_type_and_counters(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'b.db'}")
    await migrate.upgrade(database, "0006")
    with database.sync_engine.begin() as conn:
        # The catalogue as it was stored then (today's importer writes columns added since).
        load_catalogue_rows(conn, importer.parse(importer.sandbox_catalogue(), "jsonl"))
        conn.execute(
            text("INSERT INTO provider (id, slug, name, created_at) VALUES (1, 'a', 'A', '2026-01-01')")
        )
        conn.execute(
            text(
                "INSERT INTO provider_product (provider_id, product_id, registered_at, removed_at) "
                "SELECT 1, id, '2026-01-01', CASE WHEN id % 3 = 0 THEN '2026-01-02' END "
                "FROM catalogue_product WHERE id <= 40"
            )
        )
    await migrate.upgrade(database)
    with database.sync_engine.connect() as conn:
        stale = conn.execute(
            text(
                "SELECT COUNT(*) FROM provider_product p JOIN catalogue_product c ON c.id = p.product_id "
                "WHERE p.code_key <> c.code_key OR p.product_type <> c.product_type"
            )
        ).scalar_one()
        counters = set(conn.execute(text("SELECT * FROM provider_product_count")).all())
        real = set(
            conn.execute(
                text(
                    "SELECT provider_id, product_type, COUNT(*) FROM provider_product "
                    "WHERE removed_at IS NULL GROUP BY 1, 2"
                )
            ).all()
        )
    await migrate.downgrade(database, "0006")
    await database.dispose()
    assert stale == 0
    assert counters == real
    assert sum(c[2] for c in counters) == 27
