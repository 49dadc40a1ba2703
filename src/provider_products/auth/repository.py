"""Queries on providers and OAuth clients."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple, cast

from sqlalchemy import Table, bindparam, insert, select, update

from provider_products.auth.models import OAuthClient, Provider
from provider_products.db.engine import Connection

provider = cast(Table, Provider.__table__)
client = cast(Table, OAuthClient.__table__)


class ProviderRecord(NamedTuple):
    """A provider as stored."""

    id: int
    slug: str
    name: str
    created_at: datetime


class ClientRecord(NamedTuple):
    """An OAuth client as stored (its secret's hash included), with its provider's id and slug."""

    client_id: str
    secret_hash: str
    scopes: str
    rate_limit: str | None
    is_active: bool
    created_at: datetime
    secret_rotated_at: datetime | None
    provider_id: int
    provider_slug: str


_PROVIDER = select(*(provider.c[name] for name in ProviderRecord._fields))
_CLIENT = select(
    *(client.c[name] for name in ClientRecord._fields if name != "provider_slug"),
    provider.c.slug.label("provider_slug"),
).join(provider, provider.c.id == client.c.provider_id)
_CLIENT_BY_ID = _CLIENT.where(client.c.client_id == bindparam("client_id"))


async def get_client(conn: Connection, client_id: str) -> ClientRecord | None:
    """Return a client joined with its provider, or None."""
    row = (await conn.execute(_CLIENT_BY_ID, {"client_id": client_id})).first()
    return None if row is None else ClientRecord._make(row)


async def list_clients(conn: Connection, provider_slug: str | None) -> list[ClientRecord]:
    """Return every client, optionally of one provider."""
    query = _CLIENT.order_by(provider.c.slug, client.c.created_at, client.c.client_id)
    if provider_slug is not None:
        query = query.where(provider.c.slug == provider_slug)
    return [ClientRecord._make(row) for row in (await conn.execute(query)).all()]


async def get_provider(conn: Connection, slug: str) -> ProviderRecord | None:
    """Return a provider by slug, or None."""
    row = (await conn.execute(_PROVIDER.where(provider.c.slug == slug))).first()
    return None if row is None else ProviderRecord._make(row)


async def list_providers(conn: Connection) -> list[ProviderRecord]:
    """Return every provider."""
    rows = (await conn.execute(_PROVIDER.order_by(provider.c.slug))).all()
    return [ProviderRecord._make(row) for row in rows]


async def insert_provider(conn: Connection, *, slug: str, name: str, created_at: datetime) -> int:
    """Insert a provider and return its id."""
    statement = insert(provider).values(slug=slug, name=name, created_at=created_at).returning(provider.c.id)
    return int((await conn.execute(statement)).scalar_one())


async def insert_client(
    conn: Connection,
    *,
    client_id: str,
    secret_hash: str,
    provider_id: int,
    scopes: str,
    rate_limit: str | None,
    created_at: datetime,
) -> None:
    """Insert an active OAuth client."""
    await conn.execute(
        insert(client).values(
            client_id=client_id,
            secret_hash=secret_hash,
            provider_id=provider_id,
            scopes=scopes,
            rate_limit=rate_limit,
            is_active=True,
            created_at=created_at,
        )
    )


async def set_secret_hash(
    conn: Connection, client_id: str, *, secret_hash: str, rotated_at: datetime
) -> bool:
    """Replace a client's secret hash; say whether the client exists."""
    return await _update(conn, client_id, secret_hash=secret_hash, secret_rotated_at=rotated_at)


async def set_active(conn: Connection, client_id: str, *, is_active: bool) -> bool:
    """Enable or disable a client; say whether it exists."""
    return await _update(conn, client_id, is_active=is_active)


async def _update(conn: Connection, client_id: str, **values: object) -> bool:
    result = await conn.execute(update(client).where(client.c.client_id == client_id).values(**values))
    return bool(result.rowcount)  # type: ignore[attr-defined]
