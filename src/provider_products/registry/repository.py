"""Queries on registration periods."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple, cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, case, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from provider_products.catalogue.models import CatalogueProduct
from provider_products.db.engine import Connection
from provider_products.registry.models import ProviderProduct

registration = cast(Table, ProviderProduct.__table__)
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
_ONE = (
    select(*_COLUMNS)
    .select_from(_ACTIVE_JOIN)
    .where(
        registration.c.provider_id == bindparam("provider_id"), catalogue.c.code_key == bindparam("code_key")
    )
)
_INSERT = insert(registration)
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


async def insert_registration(conn: Connection, *, provider_id: int, product_id: int, at: datetime) -> None:
    """Open a registration period; the partial unique index refuses a second active one."""
    await conn.execute(_INSERT, {"provider_id": provider_id, "product_id": product_id, "registered_at": at})


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
    values = [{"provider_id": provider_id, "product_id": p, "registered_at": at} for p in product_ids]
    dialect_insert = sqlite_insert if conn.dialect_name == "sqlite" else postgresql_insert
    statement = (
        dialect_insert(registration)
        .values(values)
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
