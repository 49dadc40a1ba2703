"""Catalogue queries: lookup by code, accent-insensitive word-prefix search, bulk upsert."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Row,
    Table,
    and_,
    bindparam,
    case,
    func,
    insert,
    select,
    update,
)

from provider_products.catalogue.models import CatalogueProduct, CatalogueRevision
from provider_products.db.engine import Connection

catalogue = cast(Table, CatalogueProduct.__table__)
catalogue_revision = cast(Table, CatalogueRevision.__table__)

PUBLIC_COLUMNS = (
    catalogue.c.product_code,
    catalogue.c.product_type,
    catalogue.c.name,
    catalogue.c.status,
    catalogue.c.active_ingredient,
    catalogue.c.concentration,
    catalogue.c.pharmaceutical_form,
    catalogue.c.presentation,
    catalogue.c.atc_code,
    catalogue.c.description,
    catalogue.c.coding_system,
    catalogue.c.coding_code,
)

_BY_CODE = select(catalogue.c.id, *PUBLIC_COLUMNS).where(catalogue.c.code_key == bindparam("code_key"))


async def get_by_code(conn: Connection, code_key: str) -> Row[Any] | None:
    """Return the entry whose code matches ``code_key`` (upper-cased code), or None."""
    return (await conn.execute(_BY_CODE, {"code_key": code_key})).first()


def word_match(words: Sequence[str]) -> ColumnElement[bool]:
    """Return a condition true for entries where every word is a prefix of one of their words.

    The search text holds the entry's folded words each preceded by a space, so ``LIKE '% w%'``
    says "some word starts with w". It serves lists of one provider's products (thousands of rows
    at most); the whole catalogue is searched through the in-process index instead.
    """
    return and_(*(catalogue.c.search_text.like(f"% {w}%") for w in words))


def relevance(code_key: str, name_prefix: str) -> ColumnElement[int]:
    """Rank an exact code match first, then names that start with the query, then the rest."""
    return case(
        (catalogue.c.code_key == code_key, 0),
        (catalogue.c.name_key.like(f"{name_prefix}%"), 1),
        else_=2,
    )


async def snapshot(conn: Connection) -> dict[str, dict[str, Any]]:
    """Map every code key to its stored row (id, public columns and derived keys)."""
    rows = await conn.execute(
        select(
            catalogue.c.id,
            catalogue.c.code_key,
            catalogue.c.name_key,
            catalogue.c.search_text,
            *PUBLIC_COLUMNS,
        )
    )
    return {r.code_key: dict(r._mapping) for r in rows.all()}


_BATCH = 5000  # rows per statement: bounded statement time and driver memory on big imports


async def insert_many(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert new entries."""
    for start in range(0, len(rows), _BATCH):
        await conn.execute(insert(catalogue), rows[start : start + _BATCH])


async def update_many(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Overwrite existing entries, each row carrying its ``row_id``."""
    if not rows:
        return
    # Bind names must differ from column names in an executemany UPDATE.
    columns: dict[str, Any] = {k: bindparam(f"b_{k}") for k in rows[0] if k != "row_id"}
    statement = update(catalogue).where(catalogue.c.id == bindparam("b_row_id")).values(columns)
    for start in range(0, len(rows), _BATCH):
        params = [{f"b_{k}": v for k, v in row.items()} for row in rows[start : start + _BATCH]]
        await conn.execute(statement, params)


async def deactivate(conn: Connection, ids: list[int], *, now: Any) -> None:
    """Mark the given entries INACTIVE."""
    await update_many(conn, [{"row_id": id_, "status": "INACTIVE", "updated_at": now} for id_ in ids])


async def count(conn: Connection) -> int:
    """Return how many entries the catalogue holds."""
    return int((await conn.execute(select(func.count()).select_from(catalogue))).scalar_one())


async def revision(conn: Connection) -> int:
    """Return the catalogue's revision (0 before any import)."""
    value = (
        await conn.execute(select(catalogue_revision.c.revision).where(catalogue_revision.c.id == 1))
    ).scalar()
    return int(value or 0)


async def bump_revision(conn: Connection, *, now: Any) -> None:
    """Record that the catalogue changed, so that every process rebuilds its search index."""
    changed = await conn.execute(
        update(catalogue_revision)
        .where(catalogue_revision.c.id == 1)
        .values(revision=catalogue_revision.c.revision + 1, updated_at=now)
    )
    if not changed.rowcount:  # type: ignore[attr-defined]
        await conn.execute(insert(catalogue_revision).values(id=1, revision=1, updated_at=now))


async def index_rows(conn: Connection) -> list[tuple[int, str, str, str, str]]:
    """Return ``(id, code_key, product_type, name_key, search_text)`` of every entry, for the index."""
    rows = await conn.execute(
        select(
            catalogue.c.id,
            catalogue.c.code_key,
            catalogue.c.product_type,
            catalogue.c.name_key,
            catalogue.c.search_text,
        )
    )
    return [cast(tuple[int, str, str, str, str], tuple(r)) for r in rows.all()]


async def get_by_ids(conn: Connection, ids: Sequence[int]) -> list[Row[Any]]:
    """Return the entries with these ids, in the order given."""
    if not ids:
        return []
    rows = {
        r.id: r
        for r in (
            await conn.execute(select(catalogue.c.id, *PUBLIC_COLUMNS).where(catalogue.c.id.in_(ids)))
        ).all()
    }
    return [rows[i] for i in ids if i in rows]


async def list_by_code(
    conn: Connection, *, product_type: str | None, limit: int, offset: int
) -> list[Row[Any]]:
    """Return one page of entries ordered by code."""
    query = select(*PUBLIC_COLUMNS).order_by(catalogue.c.code_key).limit(limit).offset(offset)
    if product_type is not None:
        query = query.where(catalogue.c.product_type == product_type)
    return list((await conn.execute(query)).all())


async def get_many_by_code(conn: Connection, code_keys: Sequence[str]) -> dict[str, Row[Any]]:
    """Map each code key found in the catalogue to its entry (id, code, status, type, name)."""
    if not code_keys:
        return {}
    query = select(
        catalogue.c.id,
        catalogue.c.code_key,
        catalogue.c.product_code,
        catalogue.c.status,
        catalogue.c.product_type,
        catalogue.c.name,
    ).where(catalogue.c.code_key.in_(code_keys))
    return {r.code_key: r for r in (await conn.execute(query)).all()}
