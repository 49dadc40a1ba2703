"""``provider-products catalogue export``: the catalogue as JSON Lines, on each backend.

The file is what ``catalogue import`` and ``match --catalogue`` read: exporting, importing into a
fresh database and exporting again gives the same bytes and the same stored entries.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from provider_products.catalogue import changes, importer, repository
from provider_products.catalogue.schemas import CatalogueEntryIn
from provider_products.cli.main import app
from provider_products.db.engine import Database
from tests.conftest import TEST_JWT_SECRET, TEST_REDIS_URL, pg_admin, pg_url

SANDBOX = importer.parse(importer.sandbox_catalogue(), "jsonl")


def _cli(db_url: str, *args: str) -> Any:
    """Run a command in-process against ``db_url``, with only the settings it needs."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("PROVIDER_PRODUCTS_")}
    env["PROVIDER_PRODUCTS_DATABASE_URL"] = db_url
    if db_url.startswith("postgresql"):
        env["PROVIDER_PRODUCTS_REDIS_URL"] = TEST_REDIS_URL
        env["PROVIDER_PRODUCTS_JWT_SECRET"] = TEST_JWT_SECRET
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the backend under test, migrated to head."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
        assert _cli(url, "db", "upgrade").exit_code == 0
        yield url
        return
    name = f"pp_fresh_{uuid.uuid4().hex[:12]}"
    pg_admin(f"CREATE DATABASE {name}")
    url = pg_url(name)
    assert _cli(url, "db", "upgrade").exit_code == 0
    yield url
    pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def _stored(url: str) -> dict[str, repository.EntryValues]:
    database = Database(url)
    try:
        async with database.transaction() as conn:
            return {key: entry.values for key, entry in (await repository.snapshot(conn)).items()}
    finally:
        await database.dispose()


async def _load(url: str, entries: list[CatalogueEntryIn]) -> None:
    database = Database(url)
    try:
        async with database.transaction(write=True) as conn:
            await importer.upsert(conn, entries)
    finally:
        await database.dispose()


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_export_then_import_into_fresh_database_gives_identical_entries(
    db_url: str, fresh_url: str, tmp_path: Path
) -> None:
    # Beyond the sandbox: every field filled, characters JSON must escape, synonyms of each kind.
    odd = CatalogueEntryIn(
        product_code="med.odd_1",
        product_type="MEDICATION",
        name='Jarabe "infantil" \\ 120 ml \u2013 ñandú',
        status="INACTIVE",
        active_ingredient="Ibuprofeno",
        concentration="100 mg/5 ml",
        pharmaceutical_form="Suspensión",
        presentation="Frasco x 120 ml",
        atc_code="M01AE01",
        synonyms=[
            {"name": "Motrin [niños]", "kind": "brand", "countries": ["MX", "CO"]},
            {"name": "Ibu | jarabe", "kind": "abbreviation"},
        ],
    )
    asyncio.run(_load(db_url, [odd]))
    export = tmp_path / "catalogue.jsonl"

    result = _cli(db_url, "catalogue", "export", "--output", str(export))
    assert result.exit_code == 0, result.stderr
    assert f"exported {len(SANDBOX) + 1} entries to {export} at catalogue revision 2" in result.stderr
    imported = _cli(fresh_url, "catalogue", "import", str(export))
    assert imported.exit_code == 0, imported.stderr

    assert asyncio.run(_stored(fresh_url)) == asyncio.run(_stored(db_url))
    again = _cli(fresh_url, "catalogue", "export")
    assert again.exit_code == 0, again.stderr
    assert again.stdout == export.read_text("utf-8")
    assert _lines(again.stdout)[[r["product_code"] for r in _lines(again.stdout)].index("med.odd_1")] == {
        "product_code": "med.odd_1",
        "product_type": "MEDICATION",
        "name": 'Jarabe "infantil" \\ 120 ml \u2013 ñandú',
        "status": "INACTIVE",
        "active_ingredient": "Ibuprofeno",
        "concentration": "100 mg/5 ml",
        "pharmaceutical_form": "Suspensión",
        "presentation": "Frasco x 120 ml",
        "atc_code": "M01AE01",
        "synonyms": [
            {"name": "Motrin [niños]", "kind": "brand", "countries": ["MX", "CO"]},
            {"name": "Ibu | jarabe", "kind": "abbreviation", "countries": []},
        ],
    }


def test_export_lists_every_entry_in_code_order(db_url: str) -> None:
    result = _cli(db_url, "catalogue", "export")
    assert result.exit_code == 0, result.stderr
    codes = [r["product_code"] for r in _lines(result.stdout)]
    assert sorted(codes) == sorted(e.product_code for e in SANDBOX)
    assert len(set(codes)) == len(codes)
    service = next(r for r in _lines(result.stdout) if r["product_type"] != "MEDICATION")
    assert set(service) == {
        "product_code", "product_type", "name", "status", "description", "coding_system", "coding_code",
        "synonyms",
    }  # fmt: skip


def test_export_product_type_and_active_only_filter_entries(db_url: str) -> None:
    result = _cli(db_url, "catalogue", "export", "--product-type", "lab,imaging", "--active-only")
    assert result.exit_code == 0, result.stderr
    got = {r["product_code"] for r in _lines(result.stdout)}
    assert got == {
        e.product_code for e in SANDBOX if e.product_type in ("LAB", "IMAGING") and e.status == "ACTIVE"
    }
    assert got


def test_export_unknown_product_type_exits_2(db_url: str) -> None:
    result = _cli(db_url, "catalogue", "export", "--product-type", "LAB,DRUG")
    assert result.exit_code == 2
    assert "unknown --product-type DRUG" in result.stderr
    assert result.stdout == ""


def test_export_to_unwritable_path_exits_1_and_leaves_nothing(db_url: str, tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "catalogue.jsonl"
    result = _cli(db_url, "catalogue", "export", "--output", str(target))
    assert result.exit_code == 1
    assert f"cannot write {target}" in " ".join(result.stderr.split())
    assert not target.parent.exists()


def test_export_then_match_with_the_file_proposes_codes(db_url: str, tmp_path: Path) -> None:
    export = tmp_path / "catalogue.jsonl"
    assert _cli(db_url, "catalogue", "export", "-o", str(export)).exit_code == 0
    wanted = [e for e in SANDBOX if e.product_type == "MEDICATION" and e.status == "ACTIVE"][:20]
    inventory = tmp_path / "inventory.csv"
    inventory.write_text("name\n" + "".join(f"{e.name}\n" for e in wanted), encoding="utf-8")

    result = _cli(db_url, "match", str(inventory), "--catalogue", str(export))

    assert result.exit_code == 0, result.stderr
    with (tmp_path / "inventory.csv.matches.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["candidate_name"] for r in rows] == [e.name for e in wanted]
    filled = [(r["name"], r["product_code"]) for r in rows if r["product_code"]]
    assert filled
    assert set(filled) <= {(e.name, e.product_code) for e in wanted}


async def test_export_reads_in_bounded_keyset_pages(database: Database) -> None:
    async with database.transaction() as conn:
        pages = [page async for page in changes.export_pages(conn, page_rows=100)]
    assert [len(p) for p in pages[:-1]] == [100] * (len(pages) - 1)
    assert 0 < len(pages[-1]) <= 100
    codes = [e.product_code for page in pages for e in page]
    assert sorted(codes) == sorted(e.product_code for e in SANDBOX)
    assert len(set(codes)) == len(codes)


def test_bulk_commands_allow_long_statements_and_quick_ones_keep_the_serving_bound(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Reading a million stored rows on a loaded PostgreSQL outlasts the serving 15-s bound; an
    # import or export must not fail with "database unavailable" for it.
    from provider_products.cli.catalogue import BULK_STATEMENT_SECONDS
    from provider_products.db import engine

    bounds: list[float] = []
    real_init = engine.Database.__init__

    def recording_init(self: Database, url: str, *args: Any, **kwargs: Any) -> None:
        bounds.append(kwargs.get("command_timeout", 15))
        real_init(self, url, *args, **kwargs)

    monkeypatch.setattr(engine.Database, "__init__", recording_init)
    exported = tmp_path / "catalogue.jsonl"
    assert _cli(db_url, "catalogue", "export", "--output", str(exported)).exit_code == 0
    assert _cli(db_url, "catalogue", "import", str(exported)).exit_code == 0
    assert _cli(db_url, "providers", "list").exit_code == 0
    assert bounds == [BULK_STATEMENT_SECONDS, BULK_STATEMENT_SECONDS, 15]
