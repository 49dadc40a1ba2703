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
    owner: str | None
    lease_expires_at: datetime | None


_KEY = select(*(keys.c[name] for name in IdempotencyRecord._fields))


async def claim(
    conn: Connection,
    *,
    client_id: str,
    key: str,
    request_hash: str,
    at: datetime,
    owner: str,
    lease_until: datetime,
) -> None:
    """Insert a pending key held by ``owner``; the unique constraint refuses a second one per client."""
    await conn.execute(
        insert(keys).values(
            client_id=client_id,
            key=key,
            request_hash=request_hash,
            created_at=at,
            owner=owner,
            lease_expires_at=lease_until,
        )
    )


async def take_over(
    conn: Connection, *, row_id: int, previous_owner: str | None, owner: str, lease_until: datetime
) -> bool:
    """Hold a pending key whose lease ran out; False when another execution took it first."""
    previous = keys.c.owner.is_(None) if previous_owner is None else keys.c.owner == previous_owner
    result = await conn.execute(
        update(keys)
        .where(keys.c.id == row_id, keys.c.status_code.is_(None), previous)
        .values(owner=owner, lease_expires_at=lease_until)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def renew(conn: Connection, *, row_id: int, owner: str, lease_until: datetime) -> bool:
    """Extend the lease of a pending key this execution still holds; False when it lost it."""
    result = await conn.execute(
        update(keys)
        .where(keys.c.id == row_id, keys.c.owner == owner, keys.c.status_code.is_(None))
        .values(lease_expires_at=lease_until)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def get(conn: Connection, *, client_id: str, key: str) -> IdempotencyRecord | None:
    """Return a client's key, or None."""
    query = _KEY.where(keys.c.client_id == client_id, keys.c.key == key)
    row = (await conn.execute(query)).first()
    return None if row is None else IdempotencyRecord._make(row)


async def complete(
    conn: Connection, *, row_id: int, owner: str, status_code: int, headers: list[list[str]], body: bytes
) -> None:
    """Store the answer to replay, if this execution still holds the key."""
    await conn.execute(
        update(keys)
        .where(keys.c.id == row_id, keys.c.owner == owner)
        .values(status_code=status_code, response_headers=headers, response_body=body, lease_expires_at=None)
    )


async def release(conn: Connection, *, row_id: int, owner: str | None = None) -> None:
    """Forget a key whose request failed, so that it may be retried (only if ``owner`` holds it, if given)."""
    query = delete(keys).where(keys.c.id == row_id)
    if owner is not None:
        query = query.where(keys.c.owner == owner)
    await conn.execute(query)


async def expire(conn: Connection, *, before: datetime) -> None:
    """Forget keys older than the replay window."""
    await conn.execute(delete(keys).where(keys.c.created_at < before))
