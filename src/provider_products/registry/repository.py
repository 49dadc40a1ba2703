"""Queries on registration periods."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import NamedTuple, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import Insert as PostgresqlInsert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.expression import Executable

from provider_products.catalogue.models import CatalogueProduct
from provider_products.db.base import BigIntKey
from provider_products.db.engine import Connection
from provider_products.registry.models import ProviderProduct, ProviderProductCount

registration = cast(Table, ProviderProduct.__table__)
counts = cast(Table, ProviderProductCount.__table__)
# Listing joins the catalogue's table in the same query (filter, search and order in one statement).
catalogue = cast(Table, CatalogueProduct.__table__)


class Registration(NamedTuple):
    """An active registration, with the product's catalogue code, type and name."""

    product_code: str
    product_type: str
    name: str
    registered_at: datetime


class Period(NamedTuple):
    """One registration period of a product; ``removed_at`` is None while it lasts."""

    registered_at: datetime
    removed_at: datetime | None


class ProductPeriod(NamedTuple):
    """The registration period of a product that covers a given moment."""

    product_id: int
    registered_at: datetime
    removed_at: datetime | None


_ACTIVE_JOIN = registration.join(
    catalogue, and_(catalogue.c.id == registration.c.product_id, registration.c.removed_at.is_(None))
)
_COLUMNS = (
    catalogue.c.product_code,
    catalogue.c.product_type,
    catalogue.c.name,
    registration.c.registered_at,
)
# The registration's own copy of the code key: the lookup is one probe of the partial listing index
# (provider, code key) whatever the planner's statistics say, then one catalogue row by primary key.
_ONE = (
    select(*_COLUMNS)
    .select_from(_ACTIVE_JOIN)
    .where(
        registration.c.provider_id == bindparam("provider_id"),
        registration.c.code_key == bindparam("code_key"),
    )
)
_INSERT_COLUMNS = ["provider_id", "product_id", "code_key", "product_type", "registered_at"]
# The copied code key and type come from the catalogue row in the same statement.
_ONE_SOURCE = select(
    bindparam("provider_id"),
    catalogue.c.id,
    catalogue.c.code_key,
    catalogue.c.product_type,
    bindparam("registered_at", type_=registration.c.registered_at.type),
).where(catalogue.c.id == bindparam("product_id"))


def _insert_if_free(dialect_insert: Callable[[Table], PostgresqlInsert | SqliteInsert]) -> Executable:
    """Insert one period unless an active one exists, returning its id only when it was inserted.

    ``ON CONFLICT DO NOTHING`` instead of catching the unique violation: on PostgreSQL a failed
    statement aborts the whole transaction, so a caller that handles "already registered" could
    not go on using it.
    """
    return (
        dialect_insert(registration)
        .from_select(_INSERT_COLUMNS, _ONE_SOURCE)
        .on_conflict_do_nothing(
            index_elements=[registration.c.provider_id, registration.c.product_id],
            index_where=registration.c.removed_at.is_(None),
        )
        .returning(registration.c.id)
    )


_INSERT = {"sqlite": _insert_if_free(sqlite_insert), "postgresql": _insert_if_free(postgresql_insert)}
_REMOVE = (
    update(registration)
    .where(
        registration.c.provider_id == bindparam("b_provider_id"),
        registration.c.product_id == bindparam("b_product_id"),
        registration.c.removed_at.is_(None),
    )
    .values(removed_at=bindparam("b_removed_at"))
)


async def get_active(conn: Connection, *, provider_id: int, code_key: str) -> Registration | None:
    """Return the provider's active registration of a code, with the product's type and name."""
    row = (await conn.execute(_ONE, {"provider_id": provider_id, "code_key": code_key})).first()
    return None if row is None else Registration._make(row)


async def insert_registration(conn: Connection, *, provider_id: int, product_id: int, at: datetime) -> bool:
    """Open a registration period; say False when one is already active (the partial unique index)."""
    values = {"provider_id": provider_id, "product_id": product_id, "registered_at": at}
    result = await conn.execute(_INSERT[conn.dialect_name], values)
    return result.first() is not None


async def close_registration(conn: Connection, *, provider_id: int, product_id: int, at: datetime) -> bool:
    """Close the active period of a product; say whether there was one."""
    result = await conn.execute(
        _REMOVE, {"b_provider_id": provider_id, "b_product_id": product_id, "b_removed_at": at}
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def list_active(
    conn: Connection,
    *,
    provider_id: int,
    product_type: str | None,
    words: Sequence[str] | None,
    code_key: str,
    limit: int,
    offset: int,
) -> tuple[list[Registration], int]:
    """Return one page of the provider's active registrations and their total count."""
    if words is None:
        return await _list_by_code(
            conn, provider_id=provider_id, product_type=product_type, limit=limit, offset=offset
        )
    conditions = [registration.c.provider_id == provider_id]
    if product_type is not None:
        conditions.append(catalogue.c.product_type == product_type)
    if words is not None:
        conditions.append(_word_match(words))
    count = select(func.count()).select_from(_ACTIVE_JOIN).where(*conditions)
    total = int((await conn.execute(count)).scalar_one())
    if total == 0 or offset >= total:
        return [], total
    query = select(*_COLUMNS).select_from(_ACTIVE_JOIN).where(*conditions)
    if words is not None:
        query = query.order_by(
            _relevance(code_key, " ".join(words)),
            catalogue.c.name_key,
            catalogue.c.code_key,
        )
    else:
        query = query.order_by(catalogue.c.code_key)
    rows = (await conn.execute(query.limit(limit).offset(offset))).all()
    return [Registration._make(row) for row in rows], total


@functools.cache
def _count_statement(typed: bool) -> Select[tuple[int]]:
    """The count of a provider's active registrations (of one type when ``typed``), built once."""
    query = select(func.coalesce(func.sum(counts.c.active_count), 0)).where(
        counts.c.provider_id == bindparam("provider_id")
    )
    return query.where(counts.c.product_type == bindparam("product_type")) if typed else query


@functools.cache
def _page_statement(typed: bool, backwards: bool) -> Select[tuple[str, str, str, datetime]]:
    """One page of a provider's active registrations in code order, built once per variant.

    Building a statement per request costs more than SQLite takes to run it (SQLAlchemy computes
    its cache key from the whole expression); the page's bounds are parameters instead.
    """
    ids = select(registration.c.id).where(
        registration.c.provider_id == bindparam("provider_id"), registration.c.removed_at.is_(None)
    )
    if typed:
        ids = ids.where(registration.c.product_type == bindparam("product_type"))
    order = registration.c.code_key.desc() if backwards else registration.c.code_key
    page = ids.order_by(order).limit(bindparam("limit")).offset(bindparam("offset")).subquery()
    return (
        select(*_COLUMNS)
        .select_from(page.join(registration, registration.c.id == page.c.id))
        .join(catalogue, catalogue.c.id == registration.c.product_id)
        .order_by(registration.c.code_key)
    )


async def count_active(conn: Connection, *, provider_id: int, product_type: str | None) -> int:
    """Return how many active registrations the provider has (of one type), from the counter rows."""
    statement = _count_statement(product_type is not None)
    params = {"provider_id": provider_id, "product_type": product_type}
    return int((await conn.execute(statement, params)).scalar_one())


async def _list_by_code(
    conn: Connection, *, provider_id: int, product_type: str | None, limit: int, offset: int
) -> tuple[list[Registration], int]:
    """Serve a page in code order from a partial listing index, counting from the counter rows.

    The index holds only active rows, in page order, so a page reads ``limit`` entries after
    skipping ``offset``; a page in the back half of the list is read backwards from the end, so
    the first and the last pages skip nothing and a middle page skips at most half the list.
    """
    total = await count_active(conn, provider_id=provider_id, product_type=product_type)
    end = min(offset + limit, total)
    if offset >= end:
        return [], total
    backwards = offset > total - end
    statement = _page_statement(product_type is not None, backwards)
    params = {
        "provider_id": provider_id,
        "product_type": product_type,
        "limit": end - offset,
        "offset": total - end if backwards else offset,
    }
    rows = (await conn.execute(statement, params)).all()
    return [Registration._make(row) for row in rows], total


def _word_match(words: Sequence[str]) -> ColumnElement[bool]:
    """Return a condition true for entries where every word is a prefix of one of their words.

    The catalogue's search text holds an entry's folded words each preceded by a space
    (``catalogue.text.search_text``), so ``LIKE '% w%'`` says "some word starts with w". It serves
    lists of one provider's products (thousands of rows at most); the whole catalogue is searched
    through the in-process index instead.
    """
    return and_(*(catalogue.c.search_text.like(f"% {w}%") for w in words))


def _relevance(code_key: str, name_prefix: str) -> ColumnElement[int]:
    """Rank an exact code match first, then names that start with the query, then the rest."""
    return case(
        (catalogue.c.code_key == code_key, 0),
        (catalogue.c.name_key.like(f"{name_prefix}%"), 1),
        else_=2,
    )


async def insert_missing(
    conn: Connection, *, provider_id: int, product_ids: Sequence[int], at: datetime
) -> set[int]:
    """Open a registration period for each product not actively registered; return the ones opened.

    ``ON CONFLICT DO NOTHING`` on the partial unique index makes concurrent batches and single
    registrations settle in the database, exactly as for one registration.
    """
    if not product_ids:
        return set()
    # Rows go in in (type, id) order, so concurrent batches take the counter rows their triggers
    # update in the same order and never deadlock on PostgreSQL.
    source = (
        select(
            literal(provider_id, BigIntKey),
            catalogue.c.id,
            catalogue.c.code_key,
            catalogue.c.product_type,
            literal(at, registration.c.registered_at.type),
        )
        .where(catalogue.c.id.in_(list(product_ids)))
        .order_by(catalogue.c.product_type, catalogue.c.id)
    )
    dialect_insert = sqlite_insert if conn.dialect_name == "sqlite" else postgresql_insert
    statement = (
        dialect_insert(registration)
        .from_select(["provider_id", "product_id", "code_key", "product_type", "registered_at"], source)
        .on_conflict_do_nothing(
            index_elements=[registration.c.provider_id, registration.c.product_id],
            index_where=registration.c.removed_at.is_(None),
        )
        .returning(registration.c.product_id)
    )
    return {row[0] for row in (await conn.execute(statement)).all()}


async def periods(conn: Connection, *, provider_id: int, product_id: int) -> list[Period]:
    """Return every registration period of a product for a provider, oldest first."""
    query = (
        select(*(registration.c[name] for name in Period._fields))
        .where(registration.c.provider_id == provider_id, registration.c.product_id == product_id)
        .order_by(registration.c.registered_at, registration.c.id)
    )
    return [Period._make(row) for row in (await conn.execute(query)).all()]


async def registered_at(
    conn: Connection, *, provider_id: int, product_ids: Sequence[int], at: datetime
) -> dict[int, ProductPeriod]:
    """Map each product registered at the moment ``at`` to its period (registered_at <= at < removed_at)."""
    if not product_ids:
        return {}
    query = select(*(registration.c[name] for name in ProductPeriod._fields)).where(
        registration.c.provider_id == provider_id,
        registration.c.product_id.in_(product_ids),
        registration.c.registered_at <= at,
        or_(registration.c.removed_at.is_(None), registration.c.removed_at > at),
    )
    return {row.product_id: ProductPeriod._make(row) for row in (await conn.execute(query)).all()}


async def lock_active(conn: Connection, *, provider_id: int, product_ids: Sequence[int]) -> set[int]:
    """Return which products are actively registered, locking those rows until the transaction ends.

    The share lock makes a concurrent removal wait, so a record is never filed against a
    registration that is being closed at the same moment (SQLite serialises writers anyway).
    """
    if not product_ids:
        return set()
    query = select(registration.c.product_id).where(
        registration.c.provider_id == provider_id,
        registration.c.product_id.in_(product_ids),
        registration.c.removed_at.is_(None),
    )
    if conn.dialect_name == "postgresql":
        query = query.with_for_update(read=True)
    return {row[0] for row in (await conn.execute(query)).all()}


class Change(NamedTuple):
    """A registration or a removal of a product, for a provider's recent activity."""

    product_code: str
    product_type: str
    name: str
    kind: str
    at: datetime


async def counts_by_type(conn: Connection, *, provider_id: int) -> dict[str, int]:
    """Return the provider's active registrations per product type, from the counter rows."""
    query = select(counts.c.product_type, counts.c.active_count).where(counts.c.provider_id == provider_id)
    rows = [tuple(row) for row in (await conn.execute(query)).all()]
    return {str(values[0]): int(values[1]) for values in rows}


async def recent_changes(conn: Connection, *, provider_id: int, limit: int) -> list[Change]:
    """Return the provider's latest registrations and removals, newest first."""
    product = (catalogue.c.product_code, catalogue.c.product_type, catalogue.c.name)
    joined = registration.join(catalogue, catalogue.c.id == registration.c.product_id)
    registered = (
        select(*product, literal("registered").label("kind"), registration.c.registered_at.label("at"))
        .select_from(joined)
        .where(registration.c.provider_id == provider_id)
        .order_by(registration.c.registered_at.desc(), registration.c.id.desc())
        .limit(limit)
    )
    removed = (
        select(*product, literal("removed").label("kind"), registration.c.removed_at.label("at"))
        .select_from(joined)
        .where(registration.c.provider_id == provider_id, registration.c.removed_at.is_not(None))
        .order_by(registration.c.removed_at.desc(), registration.c.id.desc())
        .limit(limit)
    )
    rows = [Change._make(r) for r in (await conn.execute(registered)).all()]
    rows += [Change._make(r) for r in (await conn.execute(removed)).all()]
    rows.sort(key=lambda c: (c.at, c.kind == "removed"), reverse=True)
    return rows[:limit]
