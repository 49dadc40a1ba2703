"""Load a generated catalogue straight into a migrated database, fast, for benchmarks of what follows.

The ``catalogue import`` command validates, compares with what is stored and writes in one
transaction through the service's statements: right for imports, slow for putting a million rows
in place before a benchmark (over 15 minutes on PostgreSQL on a loaded machine). This writes the
same columns (the importer's own ``parse`` and column derivation) with PostgreSQL's ``COPY``
(asyncpg) or SQLite's ``executemany`` in one transaction, as catalogue revision 1, and reports
how long each part took; what is measured afterwards does not depend on how the rows got there.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert

from provider_products.catalogue import importer, repository
from provider_products.db.base import utcnow
from provider_products.db.engine import normalise_url

COLUMNS = [*repository.EntryValues._fields, "updated_at", "revision"]
SQLITE_BATCH = 50_000


def load(database_url: str, catalogue: Path) -> dict[str, float]:
    """Write every entry of ``catalogue`` (JSON Lines) into an empty, migrated catalogue; return timings."""
    started = time.perf_counter()
    entries = importer.parse(catalogue.read_text(encoding="utf-8"), "jsonl")
    now = utcnow()
    rows = [(*importer._values(e), now, 1) for e in entries]
    del entries
    parsed = time.perf_counter()
    backend, url = normalise_url(database_url)
    if backend == "postgresql":
        asyncio.run(_copy(database_url, rows, now))
    else:
        _sqlite(url, rows, now)
    return {"parse_s": parsed - started, "write_s": time.perf_counter() - parsed, "rows": float(len(rows))}


def _sqlite(url: str, rows: list[tuple[Any, ...]], now: Any) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for start in range(0, len(rows), SQLITE_BATCH):
                batch = [dict(zip(COLUMNS, row, strict=True)) for row in rows[start : start + SQLITE_BATCH]]
                conn.execute(insert(repository.catalogue), batch)
            conn.execute(insert(repository.catalogue_revision).values(id=1, revision=1, updated_at=now))
    finally:
        engine.dispose()


async def _copy(database_url: str, rows: list[tuple[Any, ...]], now: Any) -> None:
    import json

    import asyncpg

    synonyms = COLUMNS.index("synonyms")
    records = [(*r[:synonyms], json.dumps(r[synonyms], ensure_ascii=False), *r[synonyms + 1 :]) for r in rows]
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await conn.copy_records_to_table("catalogue_product", records=records, columns=COLUMNS)
            await conn.execute(
                "INSERT INTO catalogue_revision (id, revision, updated_at) VALUES (1, 1, $1)", now
            )
        await conn.execute("ANALYZE catalogue_product")
    finally:
        await conn.close()


async def _import(database_url: str, content: str) -> None:
    from provider_products.db.engine import Database

    # The command's own statement timeout (15 s) is shorter than reading a million stored rows takes
    # on a loaded machine; the import is otherwise the command's (validate, compare, write, bump).
    database = Database(database_url, command_timeout=IMPORT_STATEMENT_SECONDS)
    try:
        await importer.import_content(database, content, "jsonl")
    finally:
        await database.dispose()


IMPORT_STATEMENT_SECONDS = 600.0


def main(argv: list[str]) -> int:
    """``catalogue_load.py import URL FILE``: an import as the command does it, without its timeout."""
    if len(argv) != 3 or argv[0] != "import":
        print("usage: catalogue_load.py import DATABASE_URL FILE", file=sys.stderr)
        return 2
    asyncio.run(_import(argv[1], Path(argv[2]).read_text(encoding="utf-8")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
