"""Queries on providers and OAuth clients."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, insert, select, update

from provider_products.auth.models import OAuthClient, Provider
from provider_products.db.engine import Connection

provider = cast(Table, Provider.__table__)
client = cast(Table, OAuthClient.__table__)

_CLIENT = select(
    client.c.client_id,
    client.c.secret_hash,
    client.c.scopes,
    client.c.rate_limit,
    client.c.is_active,
    client.c.created_at,
    client.c.secret_rotated_at,
    provider.c.id.label("provider_id"),
    provider.c.slug.label("provider_slug"),
).join(provider, provider.c.id == client.c.provider_id)
_CLIENT_BY_ID = _CLIENT.where(client.c.client_id == bindparam("client_id"))


async def get_client(conn: Connection, client_id: str) -> Row[Any] | None:
    """Return a client joined with its provider, or None."""
    return (await conn.execute(_CLIENT_BY_ID, {"client_id": client_id})).first()


async def list_clients(conn: Connection, provider_slug: str | None) -> list[Row[Any]]:
    """Return every client, optionally of one provider."""
    query = _CLIENT.order_by(provider.c.slug, client.c.created_at, client.c.client_id)
    if provider_slug is not None:
        query = query.where(provider.c.slug == provider_slug)
    return list((await conn.execute(query)).all())


async def get_provider(conn: Connection, slug: str) -> Row[Any] | None:
    """Return a provider by slug, or None."""
    return (await conn.execute(select(provider).where(provider.c.slug == slug))).first()


async def list_providers(conn: Connection) -> list[Row[Any]]:
    """Return every provider."""
    return list((await conn.execute(select(provider).order_by(provider.c.slug))).all())


async def insert_provider(conn: Connection, values: dict[str, Any]) -> int:
    """Insert a provider and return its id."""
    result = await conn.execute(insert(provider).values(**values).returning(provider.c.id))
    return int(result.scalar_one())


async def insert_client(conn: Connection, values: dict[str, Any]) -> None:
    """Insert an OAuth client."""
    await conn.execute(insert(client).values(**values))


async def update_client(conn: Connection, client_id: str, values: dict[str, Any]) -> bool:
    """Update a client; say whether it existed."""
    result = await conn.execute(update(client).where(client.c.client_id == client_id).values(**values))
    return bool(result.rowcount)  # type: ignore[attr-defined]
