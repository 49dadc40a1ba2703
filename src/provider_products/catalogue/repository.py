"""Catalogue queries: lookup by code, accent-insensitive word-prefix search, bulk upsert."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    Table,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal_column,
    select,
    text,
    update,
)

from provider_products.catalogue.models import CatalogueProduct
from provider_products.db.engine import Connection

catalogue = cast(Table, CatalogueProduct.__table__)

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


def word_match(conn: Connection, words: Sequence[str], *, indexed: bool) -> ColumnElement[bool]:
    """Return a condition true for entries where every word is a prefix of one of their words.

    ``indexed`` asks for SQLite's FTS5 index (worth it over the whole catalogue); otherwise, and
    always on PostgreSQL (whose trigram index serves it), the equivalent ``LIKE '% word%'`` test
    on the normalised search text is used.
    """
    if indexed and conn.dialect_name == "sqlite":
        expression = " AND ".join(f'"{w}"*' for w in words)
        matching = text("SELECT rowid FROM catalogue_search WHERE catalogue_search MATCH :fts").bindparams(
            fts=expression
        )
        return catalogue.c.id.in_(matching.columns(literal_column("rowid")))
    return and_(*(catalogue.c.search_text.like(f"% {w}%") for w in words))


def relevance(code_key: str, name_prefix: str) -> ColumnElement[int]:
    """Rank an exact code match first, then names that start with the query, then the rest."""
    return case(
        (catalogue.c.code_key == code_key, 0),
        (catalogue.c.name_key.like(f"{name_prefix}%"), 1),
        else_=2,
    )


async def search(
    conn: Connection,
    *,
    product_type: str | None,
    words: Sequence[str] | None,
    code_key: str,
    limit: int,
    offset: int,
) -> tuple[list[Row[Any]], int]:
    """Return one page of catalogue entries and the total count.

    With ``words``, entries must match every word and come ordered by relevance, name, code;
    without, all entries come ordered by code.
    """
    conditions: list[ColumnElement[bool]] = []
    if product_type is not None:
        conditions.append(catalogue.c.product_type == product_type)
    if words is not None:
        conditions.append(word_match(conn, words, indexed=True))
    count = select(func.count()).select_from(catalogue).where(*conditions)
    total = int((await conn.execute(count)).scalar_one())
    if total == 0 or offset >= total:
        return [], total
    query: Select[Any] = select(*PUBLIC_COLUMNS).where(*conditions)
    if words is not None:
        query = query.order_by(
            relevance(code_key, " ".join(words)), catalogue.c.name_key, catalogue.c.code_key
        )
    else:
        query = query.order_by(catalogue.c.code_key)
    rows = (await conn.execute(query.limit(limit).offset(offset))).all()
    return list(rows), total


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


async def insert_many(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert new entries."""
    if rows:
        await conn.execute(insert(catalogue), rows)


async def update_many(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Overwrite existing entries, each row carrying its ``row_id``."""
    if not rows:
        return
    # Bind names must differ from column names in an executemany UPDATE.
    columns: dict[str, Any] = {k: bindparam(f"b_{k}") for k in rows[0] if k != "row_id"}
    params = [{f"b_{k}": v for k, v in row.items()} for row in rows]
    await conn.execute(
        update(catalogue).where(catalogue.c.id == bindparam("b_row_id")).values(columns), params
    )


async def deactivate(conn: Connection, ids: list[int], *, now: Any) -> None:
    """Mark the given entries INACTIVE."""
    await update_many(conn, [{"row_id": id_, "status": "INACTIVE", "updated_at": now} for id_ in ids])


async def count(conn: Connection) -> int:
    """Return how many entries the catalogue holds."""
    return int((await conn.execute(select(func.count()).select_from(catalogue))).scalar_one())
