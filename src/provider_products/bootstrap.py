"""First start of the embedded sandbox: schema, catalogue, a demo OAuth client and a portal admin."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from provider_products.auth import security
from provider_products.auth import service as auth_service
from provider_products.catalogue import importer
from provider_products.catalogue import service as catalogue_service
from provider_products.db import migrate
from provider_products.db.engine import Database, sqlite_path
from provider_products.portal import service as portal_service

SANDBOX_PROVIDER = "sandbox-provider"
SANDBOX_PORTAL_USER = "admin@sandbox-provider.example"


@dataclass(frozen=True)
class SandboxState:
    """What the sandbox start found or created."""

    created: bool
    credentials: auth_service.ClientCredentials | None
    client_id: str | None
    catalogue_size: int
    portal_login: portal_service.NewPassword | None = None


async def ensure_schema(database: Database) -> None:
    """Bring a SQLite database to the newest schema, creating its file; PostgreSQL is migrated explicitly."""
    if database.dialect == "sqlite":
        sqlite_path(database.url).parent.mkdir(parents=True, exist_ok=True)
        await migrate.upgrade(database)


async def seed_sandbox(
    database: Database,
    *,
    on_created: Callable[[auth_service.ClientCredentials, int], None] | None = None,
    on_portal_user: Callable[[portal_service.NewPassword], None] | None = None,
) -> SandboxState:
    """On an empty database, load the sandbox catalogue and create a provider, an OAuth client and an admin.

    A start-up step of the ``serve`` command, run before the application exists: like the command
    that calls it, it opens the one transaction its work needs. ``on_created`` is called with the new
    credentials and the catalogue size inside that transaction, before it commits: a secret that
    was shown is one that works, and an interruption before the commit leaves an empty database
    that the next start seeds (and shows) afresh. ``on_portal_user`` is called the same way, just
    after, with the login of the provider's portal admin.
    """
    async with database.transaction(write=True) as conn:
        providers = await auth_service.list_providers(conn)
        size = await catalogue_service.count(conn)
        if providers or size:
            sandbox = await auth_service.list_clients(conn, provider_slug=SANDBOX_PROVIDER)
            return SandboxState(False, None, sandbox[0].client_id if sandbox else None, size)
        entries = importer.parse(importer.sandbox_catalogue(), "jsonl")
        result = await importer.upsert(conn, entries)
        await auth_service.create_provider(conn, slug=SANDBOX_PROVIDER, name="Sandbox Provider")
        credentials = await auth_service.create_client(
            conn, provider_slug=SANDBOX_PROVIDER, scopes=list(security.ALL_SCOPES)
        )
        login = await portal_service.create_user(
            conn, provider_slug=SANDBOX_PROVIDER, email=SANDBOX_PORTAL_USER, role="admin"
        )
        if on_created is not None:
            on_created(credentials, result.inserted)
        if on_portal_user is not None:
            on_portal_user(login)
    return SandboxState(True, credentials, credentials.client_id, result.inserted, login)
