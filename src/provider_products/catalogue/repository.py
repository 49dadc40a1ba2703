"""Catalogue queries: lookup by code and by id, pages by code, the index's rows, bulk upsert."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, func, insert, select, update

from provider_products.catalogue.models import CatalogueProduct, CatalogueRevision
from provider_products.db.engine import Connection

catalogue = cast(Table, CatalogueProduct.__table__)
catalogue_revision = cast(Table, CatalogueRevision.__table__)


class CatalogueEntry(NamedTuple):
    """A catalogue entry's row id and public columns."""

    id: int
    product_code: str
    product_type: str
    name: str
    status: str
    active_ingredient: str | None
    concentration: str | None
    pharmaceutical_form: str | None
    presentation: str | None
    atc_code: str | None
    description: str | None
    coding_system: str | None
    coding_code: str | None
    synonyms: list[dict[str, Any]]


class EntrySummary(NamedTuple):
    """What a reference to an entry by code needs: its row id, keys, status, type and name."""

    id: int
    code_key: str
    product_code: str
    status: str
    product_type: str
    name: str


class EntryValues(NamedTuple):
    """The columns an import writes for an entry: public columns and derived keys (no id, no time)."""

    product_code: str
    code_key: str
    product_type: str
    name: str
    status: str
    name_key: str
    search_text: str
    active_ingredient: str | None
    concentration: str | None
    pharmaceutical_form: str | None
    presentation: str | None
    atc_code: str | None
    description: str | None
    coding_system: str | None
    coding_code: str | None
    synonyms: list[dict[str, Any]]


class StoredEntry(NamedTuple):
    """An entry as stored, for an import to compare against: its row id and written columns."""

    id: int
    values: EntryValues


class IndexRow(NamedTuple):
    """The columns of an entry that the in-process search index is built from."""

    id: int
    code_key: str
    product_type: str
    name_key: str
    search_text: str
    synonyms: list[dict[str, Any]]


_ENTRY = select(*(catalogue.c[name] for name in CatalogueEntry._fields))
_BY_CODE = _ENTRY.where(catalogue.c.code_key == bindparam("code_key"))
# Built once: a search answers a page of ids through this statement on every request.
_BY_IDS = _ENTRY.where(catalogue.c.id.in_(bindparam("ids", expanding=True)))


async def get_by_code(conn: Connection, code_key: str) -> CatalogueEntry | None:
    """Return the entry whose code matches ``code_key`` (upper-cased code), or None."""
    row = (await conn.execute(_BY_CODE, {"code_key": code_key})).first()
    return None if row is None else CatalogueEntry._make(row)


async def snapshot(conn: Connection) -> dict[str, StoredEntry]:
    """Map every code key to its stored entry (id, public columns and derived keys)."""
    rows = await conn.execute(select(catalogue.c.id, *(catalogue.c[name] for name in EntryValues._fields)))
    return {row.code_key: StoredEntry(row[0], EntryValues._make(row[1:])) for row in rows.all()}


_BATCH = 5000  # rows per statement: bounded statement time and driver memory on big imports


async def insert_many(conn: Connection, entries: Sequence[EntryValues], *, now: datetime) -> None:
    """Insert new entries."""
    rows = [{**entry._asdict(), "updated_at": now} for entry in entries]
    for start in range(0, len(rows), _BATCH):
        await conn.execute(insert(catalogue), rows[start : start + _BATCH])


async def update_many(conn: Connection, updates: Sequence[tuple[int, EntryValues]], *, now: datetime) -> None:
    """Overwrite existing entries; each update is an entry's row id and its new values."""
    await _update_by_id(
        conn, [{"row_id": id_, **values._asdict(), "updated_at": now} for id_, values in updates]
    )


async def deactivate(conn: Connection, ids: Sequence[int], *, now: datetime) -> None:
    """Mark the given entries INACTIVE."""
    await _update_by_id(conn, [{"row_id": id_, "status": "INACTIVE", "updated_at": now} for id_ in ids])


async def _update_by_id(conn: Connection, rows: list[dict[str, object]]) -> None:
    """Update entries in batches, each row naming its entry by ``row_id``; all rows set the same columns."""
    if not rows:
        return
    # Bind names must differ from column names in an executemany UPDATE.
    columns: dict[str, object] = {k: bindparam(f"b_{k}") for k in rows[0] if k != "row_id"}
    statement = update(catalogue).where(catalogue.c.id == bindparam("b_row_id")).values(columns)
    for start in range(0, len(rows), _BATCH):
        params = [{f"b_{k}": v for k, v in row.items()} for row in rows[start : start + _BATCH]]
        await conn.execute(statement, params)


async def count(conn: Connection) -> int:
    """Return how many entries the catalogue holds."""
    return int((await conn.execute(select(func.count()).select_from(catalogue))).scalar_one())


async def revision(conn: Connection) -> int:
    """Return the catalogue's revision (0 before any import)."""
    value = (
        await conn.execute(select(catalogue_revision.c.revision).where(catalogue_revision.c.id == 1))
    ).scalar()
    return int(value or 0)


async def bump_revision(conn: Connection, *, now: datetime) -> None:
    """Record that the catalogue changed, so that every process rebuilds its search index."""
    changed = await conn.execute(
        update(catalogue_revision)
        .where(catalogue_revision.c.id == 1)
        .values(revision=catalogue_revision.c.revision + 1, updated_at=now)
    )
    if not changed.rowcount:  # type: ignore[attr-defined]
        await conn.execute(insert(catalogue_revision).values(id=1, revision=1, updated_at=now))


async def index_rows(conn: Connection) -> list[IndexRow]:
    """Return the index columns of every entry."""
    rows = await conn.execute(select(*(catalogue.c[name] for name in IndexRow._fields)))
    return [IndexRow._make(row) for row in rows.all()]


async def get_by_ids(conn: Connection, ids: Sequence[int]) -> list[CatalogueEntry]:
    """Return the entries with these ids, in the order given."""
    if not ids:
        return []
    rows = {row.id: row for row in (await conn.execute(_BY_IDS, {"ids": list(ids)})).all()}
    return [CatalogueEntry._make(rows[i]) for i in ids if i in rows]


async def list_by_code(
    conn: Connection, *, product_type: str | None, limit: int, offset: int
) -> list[CatalogueEntry]:
    """Return one page of entries ordered by code."""
    query = _ENTRY.order_by(catalogue.c.code_key).limit(limit).offset(offset)
    if product_type is not None:
        query = query.where(catalogue.c.product_type == product_type)
    return [CatalogueEntry._make(row) for row in (await conn.execute(query)).all()]


async def get_many_by_code(conn: Connection, code_keys: Sequence[str]) -> dict[str, EntrySummary]:
    """Map each code key found in the catalogue to its entry's summary."""
    if not code_keys:
        return {}
    query = select(*(catalogue.c[name] for name in EntrySummary._fields)).where(
        catalogue.c.code_key.in_(code_keys)
    )
    return {row.code_key: EntrySummary._make(row) for row in (await conn.execute(query)).all()}
