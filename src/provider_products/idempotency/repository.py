"""Queries on idempotency keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, delete, insert, select, update

from provider_products.db.engine import Connection
from provider_products.idempotency.models import IdempotencyKey

keys = cast(Table, IdempotencyKey.__table__)


class IdempotencyRecord(NamedTuple):
    """A client's key: pending while ``status_code`` is None, else the first answer to replay."""

    id: int
    client_id: str
    key: str
    request_hash: str
    status_code: int | None
    response_headers: list[Any] | None
    response_body: bytes | None
    created_at: datetime


_KEY = select(*(keys.c[name] for name in IdempotencyRecord._fields))


async def claim(conn: Connection, *, client_id: str, key: str, request_hash: str, at: datetime) -> None:
    """Insert a pending key; the unique constraint refuses a second one for the same client."""
    await conn.execute(
        insert(keys).values(client_id=client_id, key=key, request_hash=request_hash, created_at=at)
    )


async def get(conn: Connection, *, client_id: str, key: str) -> IdempotencyRecord | None:
    """Return a client's key, or None."""
    query = _KEY.where(keys.c.client_id == client_id, keys.c.key == key)
    row = (await conn.execute(query)).first()
    return None if row is None else IdempotencyRecord._make(row)


async def complete(
    conn: Connection, *, row_id: int, status_code: int, headers: list[list[str]], body: bytes
) -> None:
    """Store the answer to replay."""
    await conn.execute(
        update(keys)
        .where(keys.c.id == row_id)
        .values(status_code=status_code, response_headers=headers, response_body=body)
    )


async def release(conn: Connection, *, row_id: int) -> None:
    """Forget a key whose request failed, so that it may be retried."""
    await conn.execute(delete(keys).where(keys.c.id == row_id))


async def expire(conn: Connection, *, before: datetime) -> None:
    """Forget keys older than the replay window."""
    await conn.execute(delete(keys).where(keys.c.created_at < before))
