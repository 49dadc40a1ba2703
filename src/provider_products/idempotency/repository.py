"""Queries on idempotency keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, delete, insert, select, update

from provider_products.db.engine import Connection
from provider_products.idempotency.models import IdempotencyKey

keys = cast(Table, IdempotencyKey.__table__)


async def claim(conn: Connection, *, client_id: str, key: str, request_hash: str, at: datetime) -> None:
    """Insert a pending key; the unique constraint refuses a second one for the same client."""
    await conn.execute(
        insert(keys).values(client_id=client_id, key=key, request_hash=request_hash, created_at=at)
    )


async def get(conn: Connection, *, client_id: str, key: str) -> Row[Any] | None:
    """Return a client's key, or None."""
    query = select(keys).where(keys.c.client_id == client_id, keys.c.key == key)
    return (await conn.execute(query)).first()


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
