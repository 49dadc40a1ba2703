"""Provider and OAuth client rules: administration, client authentication, caller resolution."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import anyio.to_thread
from sqlalchemy.exc import IntegrityError

from provider_products.auth import repository, security
from provider_products.config import parse_rate
from provider_products.db.base import utcnow
from provider_products.db.engine import Connection

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
    secret_rotated_at: datetime | None = None

    def accepts_token_issued_at(self, issued_at: int) -> bool:
        """Say whether a token issued at ``issued_at`` (Unix seconds) predates no rotation of the secret.

        Token times are whole seconds, so a token of the very second of a rotation is kept: the
        fresh token a client fetches right after a rotation must work.
        """
        return self.secret_rotated_at is None or issued_at >= int(self.secret_rotated_at.timestamp())


@dataclass(frozen=True)
class ClientCredentials:
    """A newly created or rotated client secret; the only time it is visible."""

    client_id: str
    client_secret: str
    provider_slug: str
    scopes: list[str]


def _info(client: repository.ClientRecord) -> ClientInfo:
    return ClientInfo(
        client_id=client.client_id,
        provider_id=client.provider_id,
        provider_slug=client.provider_slug,
        scopes=frozenset(client.scopes.split()),
        rate_limit=client.rate_limit,
        is_active=bool(client.is_active),
        secret_rotated_at=client.secret_rotated_at,
    )


class InvalidScopes(AdminError):
    """A client was given scopes outside the known set, or none at all; ``unknown`` lists the strangers."""

    def __init__(self, unknown: Sequence[str]) -> None:
        self.unknown = list(unknown)
        if self.unknown:
            # Quoted only when it would not read as one word: "arc:read arc:write" passed as one scope.
            shown = " ".join(s if s.split() == [s] else repr(s) for s in self.unknown)
            super().__init__(f"unknown scope(s) {shown}; known: {' '.join(security.ALL_SCOPES)}")
        else:
            super().__init__("a client needs at least one scope")


def check_scopes(scopes: Iterable[str]) -> list[str]:
    """Return the scopes without repeats, in order; ``InvalidScopes`` if one is unknown or none is given."""
    checked = list(dict.fromkeys(scopes))
    unknown = [s for s in checked if s not in security.ALL_SCOPES]
    if unknown or not checked:
        raise InvalidScopes(unknown)
    return checked


def parse_scopes(raw: str | None, *, default: tuple[str, ...] = security.DEFAULT_SCOPES) -> list[str]:
    """Split and check a space-separated scope list."""
    return check_scopes(raw.split() if raw else default)


async def create_provider(conn: Connection, *, slug: str, name: str) -> int:
    """Create a provider; its slug is lower-case letters, digits and dashes."""
    if not SLUG_PATTERN.fullmatch(slug):
        raise AdminError("a provider slug is 1 to 64 lower-case letters, digits and dashes")
    if not name.strip():
        raise AdminError("a provider needs a name")
    if await repository.get_provider(conn, slug) is not None:
        raise AdminError(f"provider {slug!r} already exists")
    return await repository.insert_provider(conn, slug=slug, name=name.strip(), created_at=utcnow())


async def create_client(
    conn: Connection, *, provider_slug: str, scopes: list[str], rate_limit: str | None = None
) -> ClientCredentials:
    """Create an OAuth client for a provider and return its secret, which is not stored.

    The scopes are checked here whoever the caller is: one unknown scope (or none) is ``InvalidScopes``.
    """
    scopes = check_scopes(scopes)
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
            client_id=client_id,
            secret_hash=security.hash_secret(secret),
            provider_id=provider.id,
            scopes=" ".join(scopes),
            rate_limit=rate_limit,
            created_at=utcnow(),
        )
    except IntegrityError as exc:  # pragma: no cover - 96 random bits do not collide
        raise AdminError("client id collision; try again") from exc
    return ClientCredentials(client_id, secret, provider_slug, scopes)


async def rotate_secret(conn: Connection, *, client_id: str) -> ClientCredentials:
    """Replace a client's secret: the old one stops working at once, and so do the tokens issued before.

    The edge compares each token's ``iat`` with ``secret_rotated_at``; a process that cached the
    client record (``client_cache_seconds``) sees the rotation within that time.
    """
    row = await repository.get_client(conn, client_id)
    if row is None:
        raise AdminError(f"no client {client_id!r}")
    secret = security.new_secret()
    await repository.set_secret_hash(
        conn, client_id, secret_hash=security.hash_secret(secret), rotated_at=utcnow()
    )
    return ClientCredentials(client_id, secret, row.provider_slug, row.scopes.split())


async def set_active(conn: Connection, *, client_id: str, active: bool) -> None:
    """Enable or disable a client."""
    if not await repository.set_active(conn, client_id, is_active=active):
        raise AdminError(f"no client {client_id!r}")


async def list_clients(
    conn: Connection, *, provider_slug: str | None = None
) -> list[repository.ClientRecord]:
    """Return clients (never their secrets)."""
    return await repository.list_clients(conn, provider_slug)


async def list_providers(conn: Connection) -> list[repository.ProviderRecord]:
    """Return every provider, by slug."""
    return await repository.list_providers(conn)


async def find_provider(conn: Connection, *, slug: str) -> repository.ProviderRecord | None:
    """Return the provider with this slug, or None."""
    return await repository.get_provider(conn, slug)


async def find_client(conn: Connection, *, client_id: str) -> repository.ClientRecord | None:
    """Return the client with this id, joined with its provider, or None."""
    return await repository.get_client(conn, client_id)


async def verify_client(client: repository.ClientRecord | None, *, secret: str) -> ClientInfo | None:
    """Return the client if it is active and ``secret`` is its secret, else None.

    ``client`` is what ``find_client`` found, None included: unknown ids cost as much as wrong
    secrets. No transaction is needed, and none should be held while the hash is checked.
    """
    # argon2 takes milliseconds of CPU by design: verify off the event loop (cffi releases the GIL).
    secret_hash = client.secret_hash if client is not None else None
    ok = await anyio.to_thread.run_sync(security.verify_secret, secret_hash, secret)
    if client is None or not ok or not client.is_active:
        return None
    return _info(client)


async def client_info(conn: Connection, *, client_id: str) -> ClientInfo | None:
    """Return what a request needs to know about a client, or None when it does not exist."""
    client = await repository.get_client(conn, client_id)
    return None if client is None else _info(client)
