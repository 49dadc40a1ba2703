"""Provider and OAuth client rules: administration, client authentication, caller resolution."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError

from provider_products.auth import repository, security
from provider_products.config import parse_rate
from provider_products.db.base import utcnow
from provider_products.db.engine import Connection, Database

SLUG_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}[a-z0-9]|[a-z0-9]")
CLIENT_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def plausible_client_id(client_id: str) -> bool:
    """Say whether a presented client id has the form of one (anything else is unknown unseen)."""
    return CLIENT_ID_PATTERN.fullmatch(client_id) is not None


class AdminError(Exception):
    """An administrative command could not be carried out; the message says why."""


@dataclass(frozen=True)
class ClientInfo:
    """What the service needs to know about a client on every request."""

    client_id: str
    provider_id: int
    provider_slug: str
    scopes: frozenset[str]
    rate_limit: str | None
    is_active: bool


@dataclass(frozen=True)
class ClientCredentials:
    """A newly created or rotated client secret; the only time it is visible."""

    client_id: str
    client_secret: str
    provider_slug: str
    scopes: list[str]


def _info(row: Row[Any]) -> ClientInfo:
    return ClientInfo(
        client_id=row.client_id,
        provider_id=row.provider_id,
        provider_slug=row.provider_slug,
        scopes=frozenset(row.scopes.split()),
        rate_limit=row.rate_limit,
        is_active=bool(row.is_active),
    )


def parse_scopes(raw: str | None, *, default: tuple[str, ...] = security.DEFAULT_SCOPES) -> list[str]:
    """Split and check a space-separated scope list."""
    scopes = list(dict.fromkeys(raw.split())) if raw else list(default)
    unknown = [s for s in scopes if s not in security.ALL_SCOPES]
    if unknown:
        raise AdminError(f"unknown scope(s) {' '.join(unknown)}; known: {' '.join(security.ALL_SCOPES)}")
    if not scopes:
        raise AdminError("a client needs at least one scope")
    return scopes


async def create_provider(conn: Connection, *, slug: str, name: str) -> int:
    """Create a provider; its slug is lower-case letters, digits and dashes."""
    if not SLUG_PATTERN.fullmatch(slug):
        raise AdminError("a provider slug is 1 to 64 lower-case letters, digits and dashes")
    if not name.strip():
        raise AdminError("a provider needs a name")
    if await repository.get_provider(conn, slug) is not None:
        raise AdminError(f"provider {slug!r} already exists")
    return await repository.insert_provider(
        conn, {"slug": slug, "name": name.strip(), "created_at": utcnow()}
    )


async def create_client(
    conn: Connection, *, provider_slug: str, scopes: list[str], rate_limit: str | None = None
) -> ClientCredentials:
    """Create an OAuth client for a provider and return its secret, which is not stored."""
    provider = await repository.get_provider(conn, provider_slug)
    if provider is None:
        raise AdminError(
            f"no provider {provider_slug!r}; create it with 'provider-products providers create'"
        )
    if rate_limit is not None:
        try:
            parse_rate(rate_limit)
        except ValueError as exc:
            raise AdminError(str(exc)) from None
    client_id, secret = security.new_client_id(), security.new_secret()
    try:
        await repository.insert_client(
            conn,
            {
                "client_id": client_id,
                "secret_hash": security.hash_secret(secret),
                "provider_id": provider.id,
                "scopes": " ".join(scopes),
                "rate_limit": rate_limit,
                "is_active": True,
                "created_at": utcnow(),
            },
        )
    except IntegrityError as exc:  # pragma: no cover - 96 random bits do not collide
        raise AdminError("client id collision; try again") from exc
    return ClientCredentials(client_id, secret, provider_slug, scopes)


async def rotate_secret(conn: Connection, *, client_id: str) -> ClientCredentials:
    """Replace a client's secret; the old one stops working at once."""
    row = await repository.get_client(conn, client_id)
    if row is None:
        raise AdminError(f"no client {client_id!r}")
    secret = security.new_secret()
    await repository.update_client(
        conn, client_id, {"secret_hash": security.hash_secret(secret), "secret_rotated_at": utcnow()}
    )
    return ClientCredentials(client_id, secret, row.provider_slug, row.scopes.split())


async def set_active(conn: Connection, *, client_id: str, active: bool) -> None:
    """Enable or disable a client."""
    if not await repository.update_client(conn, client_id, {"is_active": active}):
        raise AdminError(f"no client {client_id!r}")


async def list_clients(conn: Connection, *, provider_slug: str | None = None) -> list[Row[Any]]:
    """Return clients (never their secrets)."""
    return await repository.list_clients(conn, provider_slug)


async def authenticate_client(database: Database, *, client_id: str, secret: str) -> ClientInfo | None:
    """Return an active client whose secret matches, or None; unknown ids cost as much as wrong secrets."""
    row = None
    if plausible_client_id(client_id):
        async with database.transaction() as conn:
            row = await repository.get_client(conn, client_id)
    # argon2 takes milliseconds of CPU by design: verify off the event loop (cffi releases the GIL).
    ok = await anyio.to_thread.run_sync(security.verify_secret, row.secret_hash if row else None, secret)
    if row is None or not ok or not row.is_active:
        return None
    return _info(row)


class ClientDirectory:
    """Per-process cache of client records, so a request need not read its client from the database.

    Entries live ``ttl`` seconds: disabling a client or changing its limit takes effect in every
    process within that time (0 disables the cache).
    """

    def __init__(self, database: Database, ttl: float) -> None:
        self._database = database
        self._ttl = ttl
        self._entries: dict[str, tuple[float, ClientInfo | None]] = {}

    async def get(self, client_id: str) -> ClientInfo | None:
        """Return the client's current record, or None when it no longer exists."""
        now = time.monotonic()
        cached = self._entries.get(client_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self._database.transaction() as conn:
            row = await repository.get_client(conn, client_id)
        info = _info(row) if row is not None else None
        if self._ttl > 0:
            if len(self._entries) > 100_000:
                self._entries.clear()
            self._entries[client_id] = (now + self._ttl, info)
        return info
