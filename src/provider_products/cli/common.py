"""What the commands share: the consoles, the settings, running admin actions, and the SDK's options.

Server modules are imported inside the functions, so that ``--help`` and the integrator commands
do not pay for loading the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer
from rich.console import Console

if TYPE_CHECKING:
    from provider_products.client import AsyncClient
    from provider_products.config import Settings
    from provider_products.db.engine import Connection, Database

out = Console(soft_wrap=True)
err = Console(stderr=True)
T = TypeVar("T")

BaseUrl = Annotated[str | None, typer.Option(help="Service URL [env: PROVIDER_PRODUCTS_BASE_URL]")]
ClientId = Annotated[str | None, typer.Option(help="OAuth client id [env: PROVIDER_PRODUCTS_CLIENT_ID]")]
ClientSecret = Annotated[
    str | None, typer.Option(help="OAuth client secret [env: PROVIDER_PRODUCTS_CLIENT_SECRET]")
]


def fail(message: object, code: int) -> NoReturn:
    """Print an error and leave with ``code``."""
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code) from None


def load_settings() -> Settings:
    """Read the settings from the environment; on a bad value, name the variable and exit 2."""
    from pydantic import ValidationError

    from provider_products.config import Settings

    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"])
            where = f" PROVIDER_PRODUCTS_{field.upper()}" if field else ""
            message = str(error["msg"]).removeprefix("Value error, ")
            err.print(f"[red]configuration error[/red]{where}: {message}", highlight=False)
        raise typer.Exit(2) from None


def run(work: Callable[[Database], Awaitable[T]], *, check_schema: bool = True) -> T:
    """Run one async admin action against the configured database.

    SQLite is brought to the newest schema on the spot; PostgreSQL must have been migrated with
    ``db upgrade`` (a release step), and is refused otherwise.
    """
    from provider_products import bootstrap
    from provider_products.auth.service import AdminError
    from provider_products.db import migrate
    from provider_products.db.engine import Database
    from provider_products.errors import StoreUnavailable

    settings = load_settings()

    async def main() -> T:
        database = Database(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
        try:
            if check_schema and database.dialect == "sqlite":
                await bootstrap.ensure_schema(database)
            elif check_schema:
                await migrate.require_current(database)
            return await work(database)
        finally:
            await database.dispose()

    try:
        return asyncio.run(main())
    except AdminError as exc:
        fail(exc, 1)
    except migrate.SchemaOutdated as exc:
        fail(exc, 2)
    except StoreUnavailable as exc:
        fail(f"{exc.message}; check PROVIDER_PRODUCTS_DATABASE_URL and the server", 2)


def in_transaction(fn: Callable[[Connection], Awaitable[T]]) -> Callable[[Database], Awaitable[T]]:
    """Wrap a function of a connection into an admin action that runs it in one write transaction."""

    async def work(database: Database) -> T:
        async with database.transaction(write=True) as conn:
            return await fn(conn)

    return work


def api_client(base_url: str | None, client_id: str | None, client_secret: str | None) -> AsyncClient:
    """Build the SDK client from the options or their environment variables; exit 2 if one is bad."""
    import os
    from urllib.parse import urlsplit

    from provider_products.client import AsyncClient

    url = base_url if base_url is not None else os.environ.get("PROVIDER_PRODUCTS_BASE_URL")
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            fail(f"base URL {url!r} needs http:// or https:// and a host, e.g. http://127.0.0.1:8000", 2)
    try:
        return AsyncClient(base_url=base_url, client_id=client_id, client_secret=client_secret)
    except ValueError as exc:
        fail(exc, 2)


def sdk_error_line(exc: Exception, base_url: str) -> str:
    """Say in one line why a call to the service failed (credentials refused, unreachable, an error)."""
    from provider_products.client import errors

    if isinstance(exc, errors.AuthenticationFailed):
        return f"the service at {base_url} refused the client id or secret ({exc})"
    if isinstance(exc, errors.PermissionDenied):
        return f"this client may not do that at {base_url} ({exc})"
    if isinstance(exc, errors.TransportError):
        return f"cannot reach the service at {base_url}: {exc}"
    return f"the service at {base_url} answered {exc}"
