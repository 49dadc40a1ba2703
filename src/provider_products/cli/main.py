"""The ``provider-products`` command: serve, migrate, import catalogues, administer providers and clients."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from provider_products import bootstrap
from provider_products.auth import service as auth_service
from provider_products.catalogue import importer
from provider_products.config import Settings
from provider_products.db import migrate
from provider_products.db.engine import Connection, Database
from provider_products.errors import StoreUnavailable

app = typer.Typer(help="Health-insurance provider product registry.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
catalogue_app = typer.Typer(help="The global catalogue.", no_args_is_help=True)
providers_app = typer.Typer(help="Providers (pharmacies, clinics, labs).", no_args_is_help=True)
clients_app = typer.Typer(help="OAuth clients of providers.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(catalogue_app, name="catalogue")
app.add_typer(providers_app, name="providers")
app.add_typer(clients_app, name="clients")

out = Console(soft_wrap=True)
err = Console(stderr=True)
T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"])
            where = f" PROVIDER_PRODUCTS_{field.upper()}" if field else ""
            message = str(error["msg"]).removeprefix("Value error, ")
            err.print(f"[red]configuration error[/red]{where}: {message}", highlight=False)
        raise typer.Exit(2) from None


def _run(work: Callable[[Database], Awaitable[T]], *, check_schema: bool = True) -> T:
    """Run one async admin action against the configured database.

    SQLite is brought to the newest schema on the spot; PostgreSQL must have been migrated with
    ``db upgrade`` (a release step), and is refused otherwise.
    """
    settings = _settings()

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
    except auth_service.AdminError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    except migrate.SchemaOutdated as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    except StoreUnavailable as exc:
        err.print(f"[red]error:[/red] {exc.message}; check PROVIDER_PRODUCTS_DATABASE_URL and the server")
        raise typer.Exit(2) from None


def _in_transaction(fn: Callable[[Connection], Awaitable[T]]) -> Callable[[Database], Awaitable[T]]:
    async def work(database: Database) -> T:
        async with database.transaction(write=True) as conn:
            return await fn(conn)

    return work


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes")] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request line")] = False,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Load balancer addresses whose X-Forwarded-For to trust (comma-separated), so that "
            "per-address limits see the real client"
        ),
    ] = None,
) -> None:
    """Serve the API; on first start with SQLite, create and seed the sandbox database."""
    import uvicorn

    # Workers read their settings from the environment; validate the same values here first.
    os.environ["PROVIDER_PRODUCTS_WORKERS"] = str(workers)
    settings = _settings()

    async def prepare(database: Database) -> bootstrap.SandboxState | None:
        if database.dialect == "sqlite" and settings.seed_sandbox:
            return await bootstrap.seed_sandbox(database)
        return None

    state = _run(prepare)
    base = f"http://{host}:{port}"
    if state is not None and state.credentials is not None:
        c = state.credentials
        out.print(f"[green]Sandbox ready[/green]: {state.catalogue_size} catalogue products")
        out.print(f"  provider:      {c.provider_slug}")
        out.print(f"  client_id:     {c.client_id}")
        out.print(f"  client_secret: {c.client_secret}   (shown once; 'clients rotate' makes a new one)")
        out.print("  Get a token:")
        extract = "python3 -c 'import sys, json; print(json.load(sys.stdin)[\"access_token\"])'"
        out.print(
            f"  export TOKEN=$(curl -s -u '{c.client_id}:{c.client_secret}' "
            f"-d grant_type=client_credentials {base}/v1/oauth/token | {extract})",
            soft_wrap=True,
            markup=False,
            highlight=False,
        )
    elif state is not None:
        out.print(f"Using existing database ({state.catalogue_size} catalogue products).")
        if state.client_id:
            out.print(
                f"  sandbox client_id: {state.client_id} (secret shown at first start; "
                f"'provider-products clients rotate {state.client_id}' makes a new one)"
            )
    out.print(f"Serving on {base} (API docs at {base}/docs)")
    sys.stdout.flush()
    uvicorn.run(
        "provider_products.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=access_log,
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""

    async def work(database: Database) -> str | None:
        await migrate.upgrade(database)
        return await migrate.current_revision(database)

    revision = _run(work, check_schema=False)
    out.print(f"database at revision {revision}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's revision and the newest one."""

    async def work(database: Database) -> str | None:
        return await migrate.current_revision(database)

    out.print(f"current: {_run(work, check_schema=False)}  head: {migrate.head_revision()}")


@catalogue_app.command("import")
def catalogue_import(
    file: Annotated[Path | None, typer.Argument(help="A .csv or .jsonl file of catalogue entries")] = None,
    sandbox: Annotated[bool, typer.Option("--sandbox", help="Load the bundled sandbox catalogue")] = False,
    deactivate_missing: Annotated[
        bool, typer.Option("--deactivate-missing", help="Mark entries absent from the file INACTIVE")
    ] = False,
) -> None:
    """Load or update catalogue entries (upsert by code); a file with bad rows writes nothing."""
    if (file is None) == (not sandbox):
        err.print("[red]error:[/red] give a FILE or --sandbox (not both)")
        raise typer.Exit(2)
    if file is not None:
        try:
            fmt = importer.detect_format(file)
            content = file.read_text("utf-8-sig")  # spreadsheets write a BOM
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
    else:
        fmt, content = "jsonl", importer.sandbox_catalogue()
    try:
        result = _run(
            lambda db: importer.import_content(db, content, fmt, deactivate_missing=deactivate_missing)
        )
    except importer.ImportRejected as exc:
        for row in exc.errors[:200]:
            err.print(f"line {row.line}: {row.message}", markup=False, highlight=False)
        if len(exc.errors) > 200:
            err.print(f"... and {len(exc.errors) - 200} more")
        err.print(f"[red]{len(exc.errors)} bad row(s); nothing was imported[/red]")
        raise typer.Exit(1) from None
    out.print(
        f"{result.total_rows} rows: {result.inserted} inserted, {result.updated} updated, "
        f"{result.unchanged} unchanged, {result.deactivated} deactivated"
    )


@providers_app.command("create")
def providers_create(
    slug: Annotated[str, typer.Argument(help="Lower-case identifier, e.g. farmacia-central")],
    name: Annotated[str, typer.Option(help="Display name")],
) -> None:
    """Create a provider."""
    _run(_in_transaction(lambda conn: auth_service.create_provider(conn, slug=slug, name=name)))
    out.print(f"provider {slug} created")


@providers_app.command("list")
def providers_list() -> None:
    """List providers."""
    from provider_products.auth import repository

    rows = _run(_in_transaction(repository.list_providers))
    table = Table("slug", "name", "created_at")
    for row in rows:
        table.add_row(row.slug, row.name, row.created_at.isoformat())
    out.print(table)


def _print_credentials(credentials: auth_service.ClientCredentials, as_json: bool) -> None:
    data: dict[str, Any] = {
        "client_id": credentials.client_id,
        "client_secret": credentials.client_secret,
        "provider_slug": credentials.provider_slug,
        "scopes": credentials.scopes,
    }
    if as_json:
        print(json.dumps(data))
        return
    out.print(f"client_id:     {credentials.client_id}")
    out.print(f"client_secret: {credentials.client_secret}")
    out.print(f"provider:      {credentials.provider_slug}")
    out.print(f"scopes:        {' '.join(credentials.scopes)}")
    out.print("[yellow]The secret is shown only now; store it safely.[/yellow]")


@clients_app.command("create")
def clients_create(
    provider: Annotated[str, typer.Option(help="The provider's slug")],
    scopes: Annotated[str, typer.Option(help="Space-separated scopes")] = "arc:read arc:write",
    rate_limit: Annotated[str | None, typer.Option(help="Override, e.g. 600/minute")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Create an OAuth client for a provider; prints its secret once."""
    try:
        scope_list = auth_service.parse_scopes(scopes)
    except auth_service.AdminError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    credentials = _run(
        _in_transaction(
            lambda conn: auth_service.create_client(
                conn, provider_slug=provider, scopes=scope_list, rate_limit=rate_limit
            )
        )
    )
    _print_credentials(credentials, as_json)


@clients_app.command("list")
def clients_list(
    provider: Annotated[str | None, typer.Option(help="Only this provider's clients")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List OAuth clients (never their secrets)."""
    rows = _run(_in_transaction(lambda conn: auth_service.list_clients(conn, provider_slug=provider)))
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "client_id": r.client_id,
                        "provider_slug": r.provider_slug,
                        "scopes": r.scopes.split(),
                        "rate_limit": r.rate_limit,
                        "is_active": bool(r.is_active),
                        "created_at": r.created_at.isoformat(),
                    }
                    for r in rows
                ]
            )
        )
        return
    table = Table("client_id", "provider", "scopes", "rate_limit", "active", "created_at")
    for r in rows:
        table.add_row(
            r.client_id,
            r.provider_slug,
            r.scopes,
            r.rate_limit or "default",
            "yes" if r.is_active else "no",
            r.created_at.isoformat(timespec="seconds"),
        )
    out.print(table)


@clients_app.command("rotate")
def clients_rotate(
    client_id: Annotated[str, typer.Argument(help="The client to give a new secret")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Replace a client's secret; prints the new one once. Tokens already issued stay valid until expiry."""
    credentials = _run(_in_transaction(lambda conn: auth_service.rotate_secret(conn, client_id=client_id)))
    _print_credentials(credentials, as_json)


@clients_app.command("disable")
def clients_disable(client_id: Annotated[str, typer.Argument(help="The client to disable")]) -> None:
    """Disable a client: no new tokens, and its tokens are refused within the client cache time."""
    _run(_in_transaction(lambda conn: auth_service.set_active(conn, client_id=client_id, active=False)))
    out.print(f"client {client_id} disabled")


@clients_app.command("enable")
def clients_enable(client_id: Annotated[str, typer.Argument(help="The client to enable")]) -> None:
    """Enable a disabled client again."""
    _run(_in_transaction(lambda conn: auth_service.set_active(conn, client_id=client_id, active=True)))
    out.print(f"client {client_id} enabled")
