"""Queries on registration periods."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from provider_products.catalogue import repository as catalogue_repository
from provider_products.db.engine import Connection
from provider_products.registry.models import ProviderProduct

registration = cast(Table, ProviderProduct.__table__)
catalogue = catalogue_repository.catalogue

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


async def get_active(conn: Connection, *, provider_id: int, code_key: str) -> Row[Any] | None:
    """Return the provider's active registration of a code, with the product's type and name."""
    return (await conn.execute(_ONE, {"provider_id": provider_id, "code_key": code_key})).first()


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
) -> tuple[list[Row[Any]], int]:
    """Return one page of the provider's active registrations and their total count."""
    conditions = [registration.c.provider_id == provider_id]
    if product_type is not None:
        conditions.append(catalogue.c.product_type == product_type)
    if words is not None:
        conditions.append(catalogue_repository.word_match(words))
    count = select(func.count()).select_from(_ACTIVE_JOIN).where(*conditions)
    total = int((await conn.execute(count)).scalar_one())
    if total == 0 or offset >= total:
        return [], total
    query = select(*_COLUMNS).select_from(_ACTIVE_JOIN).where(*conditions)
    if words is not None:
        query = query.order_by(
            catalogue_repository.relevance(code_key, " ".join(words)),
            catalogue.c.name_key,
            catalogue.c.code_key,
        )
    else:
        query = query.order_by(catalogue.c.code_key)
    rows = (await conn.execute(query.limit(limit).offset(offset))).all()
    return list(rows), total


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


async def periods(conn: Connection, *, provider_id: int, product_id: int) -> list[Row[Any]]:
    """Return every registration period of a product for a provider, oldest first."""
    query = (
        select(registration.c.registered_at, registration.c.removed_at)
        .where(registration.c.provider_id == provider_id, registration.c.product_id == product_id)
        .order_by(registration.c.registered_at, registration.c.id)
    )
    return list((await conn.execute(query)).all())


async def registered_at(
    conn: Connection, *, provider_id: int, product_ids: Sequence[int], at: datetime
) -> dict[int, Row[Any]]:
    """Map each product registered at the moment ``at`` to its period (registered_at <= at < removed_at)."""
    if not product_ids:
        return {}
    query = select(registration.c.product_id, registration.c.registered_at, registration.c.removed_at).where(
        registration.c.provider_id == provider_id,
        registration.c.product_id.in_(product_ids),
        registration.c.registered_at <= at,
        or_(registration.c.removed_at.is_(None), registration.c.removed_at > at),
    )
    return {row.product_id: row for row in (await conn.execute(query)).all()}


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
