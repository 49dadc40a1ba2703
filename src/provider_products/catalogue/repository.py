"""Catalogue queries: lookup by code and by id, pages by code, the index's rows and snapshots, bulk upsert."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql import Executable

from provider_products.catalogue.index import FORMAT_VERSION
from provider_products.catalogue.models import (
    CatalogueIndexChunk,
    CatalogueIndexSnapshot,
    CatalogueProduct,
    CatalogueRevision,
)
from provider_products.db.engine import Connection

catalogue = cast(Table, CatalogueProduct.__table__)
catalogue_revision = cast(Table, CatalogueRevision.__table__)
index_snapshot = cast(Table, CatalogueIndexSnapshot.__table__)
index_chunk = cast(Table, CatalogueIndexChunk.__table__)


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


async def insert_many(
    conn: Connection, entries: Sequence[EntryValues], *, now: datetime, revision: int
) -> None:
    """Insert new entries, stamped with the catalogue revision that adds them."""
    rows = [{**entry._asdict(), "updated_at": now, "revision": revision} for entry in entries]
    for start in range(0, len(rows), _BATCH):
        await conn.execute(insert(catalogue), rows[start : start + _BATCH])


async def update_many(
    conn: Connection, updates: Sequence[tuple[int, EntryValues]], *, now: datetime, revision: int
) -> None:
    """Overwrite existing entries; each update is an entry's row id and its new values."""
    await _update_by_id(
        conn,
        [
            {"row_id": id_, **values._asdict(), "updated_at": now, "revision": revision}
            for id_, values in updates
        ],
    )


async def deactivate(conn: Connection, ids: Sequence[int], *, now: datetime, revision: int) -> None:
    """Mark the given entries INACTIVE."""
    await _update_by_id(
        conn,
        [{"row_id": id_, "status": "INACTIVE", "updated_at": now, "revision": revision} for id_ in ids],
    )


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


async def lock_revision(conn: Connection) -> int:
    """Return the catalogue's revision, locked until the transaction ends (PostgreSQL; SQLite
    serialises every write transaction anyway), so that catalogue writers take turns."""
    value = (
        await conn.execute(
            select(catalogue_revision.c.revision).where(catalogue_revision.c.id == 1).with_for_update()
        )
    ).scalar()
    return int(value or 0)


async def set_revision(conn: Connection, revision: int, *, now: datetime) -> None:
    """Record the catalogue's new revision, so that every process rebuilds its search index."""
    changed = await conn.execute(
        update(catalogue_revision)
        .where(catalogue_revision.c.id == 1)
        .values(revision=revision, updated_at=now)
    )
    if not changed.rowcount:  # type: ignore[attr-defined]
        await conn.execute(insert(catalogue_revision).values(id=1, revision=revision, updated_at=now))


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


class SnapshotState(NamedTuple):
    """A revision's shared search snapshot in one format: who builds it (``token``), its state, size."""

    revision: int
    format_version: int
    token: str
    status: str
    lease_expires_at: datetime
    chunks: int
    size_bytes: int


def _snapshot_is(revision: int, format_version: int) -> Any:
    return (index_snapshot.c.revision == revision) & (index_snapshot.c.format_version == format_version)


def _claim_held(revision: int, format_version: int, token: str) -> Any:
    """The snapshot row still being built under this claimant's token."""
    return (
        _snapshot_is(revision, format_version)
        & (index_snapshot.c.token == token)
        & (index_snapshot.c.status == "building")
    )


async def snapshot_state(
    conn: Connection, revision: int, *, format_version: int = FORMAT_VERSION
) -> SnapshotState | None:
    """Return the state of the revision's snapshot in this format, or None when nobody has claimed it."""
    row = (
        await conn.execute(
            select(*(index_snapshot.c[name] for name in SnapshotState._fields)).where(
                _snapshot_is(revision, format_version)
            )
        )
    ).first()
    return None if row is None else SnapshotState._make(row)


async def claim_snapshot(
    conn: Connection,
    *,
    revision: int,
    token: str,
    now: datetime,
    lease_seconds: float,
    format_version: int = FORMAT_VERSION,
) -> bool:
    """Claim the build of the revision's snapshot: unclaimed, or claimed by a builder whose lease lapsed."""
    lease = now + timedelta(seconds=lease_seconds)
    values = {
        "revision": revision,
        "format_version": format_version,
        "token": token,
        "status": "building",
        "lease_expires_at": lease,
        "chunks": 0,
        "size_bytes": 0,
        "updated_at": now,
    }
    make_insert = postgresql_insert if conn.dialect_name == "postgresql" else sqlite_insert
    # The primary key admits one claim, whatever the number of processes racing for it.
    claimed = await conn.execute(make_insert(index_snapshot).values(values).on_conflict_do_nothing())
    if claimed.rowcount:  # type: ignore[attr-defined]
        return True
    taken_over = await conn.execute(
        update(index_snapshot)
        .where(
            _snapshot_is(revision, format_version),
            index_snapshot.c.status == "building",
            index_snapshot.c.lease_expires_at < now,
        )
        .values(token=token, lease_expires_at=lease, updated_at=now)
    )
    return bool(taken_over.rowcount)  # type: ignore[attr-defined]


async def renew_snapshot_lease(
    conn: Connection,
    *,
    revision: int,
    token: str,
    now: datetime,
    lease_seconds: float,
    format_version: int = FORMAT_VERSION,
) -> bool:
    """Extend the builder's lease; False when the claim was lost (lapsed and taken over)."""
    renewed = await conn.execute(
        update(index_snapshot)
        .where(_claim_held(revision, format_version, token))
        .values(lease_expires_at=now + timedelta(seconds=lease_seconds), updated_at=now)
    )
    return bool(renewed.rowcount)  # type: ignore[attr-defined]


async def release_snapshot(
    conn: Connection, *, revision: int, token: str, format_version: int = FORMAT_VERSION
) -> None:
    """Give up a claim (a failed build) and drop whatever chunks it wrote."""
    await conn.execute(delete(index_snapshot).where(_claim_held(revision, format_version, token)))
    await conn.execute(delete(index_chunk).where(index_chunk.c.token == token))


async def store_snapshot_chunk(conn: Connection, *, token: str, number: int, data: bytes) -> None:
    """Store one chunk of a snapshot being built."""
    await conn.execute(insert(index_chunk).values(token=token, number=number, data=data))


async def finish_snapshot(
    conn: Connection,
    *,
    revision: int,
    token: str,
    chunks: int,
    size_bytes: int,
    now: datetime,
    format_version: int = FORMAT_VERSION,
) -> bool:
    """Mark the snapshot ready for every process to load; False when the claim was lost meanwhile."""
    done = await conn.execute(
        update(index_snapshot)
        .where(_claim_held(revision, format_version, token))
        .values(status="ready", chunks=chunks, size_bytes=size_bytes, updated_at=now)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


async def discard_snapshot(
    conn: Connection, *, revision: int, token: str, format_version: int = FORMAT_VERSION
) -> None:
    """Drop a stored snapshot that cannot be read (so that it is built again) and its chunks."""
    await conn.execute(
        delete(index_snapshot).where(_snapshot_is(revision, format_version), index_snapshot.c.token == token)
    )
    await conn.execute(delete(index_chunk).where(index_chunk.c.token == token))


async def prune_snapshots(conn: Connection, *, below: int) -> None:
    """Drop the snapshots of revisions before ``below`` (every format), and chunks no row owns any more."""
    await conn.execute(delete(index_snapshot).where(index_snapshot.c.revision < below))
    await conn.execute(delete(index_chunk).where(index_chunk.c.token.not_in(select(index_snapshot.c.token))))


def snapshot_chunks(token: str, first: int, end: int) -> Executable:
    """The statement reading chunks ``first .. end - 1`` of a snapshot, in order (run off the event
    loop: they are large; a few at a time, so that a load never holds them all beside the snapshot)."""
    return (
        select(index_chunk.c.number, index_chunk.c.data)
        .where(index_chunk.c.token == token, index_chunk.c.number >= first, index_chunk.c.number < end)
        .order_by(index_chunk.c.number)
    )
