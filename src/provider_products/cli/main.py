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
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Each worker writes its metrics here, so /metrics sums them whichever worker answers.
        import tempfile

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="provider-products-metrics-")
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
        server_header=False,
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


def _api_client(base_url: str | None, client_id: str | None, client_secret: str | None) -> Any:
    from provider_products.client import AsyncClient

    try:
        return AsyncClient(base_url=base_url, client_id=client_id, client_secret=client_secret)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


BaseUrl = Annotated[str | None, typer.Option(help="Service URL [env: PROVIDER_PRODUCTS_BASE_URL]")]
ClientId = Annotated[str | None, typer.Option(help="OAuth client id [env: PROVIDER_PRODUCTS_CLIENT_ID]")]
ClientSecret = Annotated[
    str | None, typer.Option(help="OAuth client secret [env: PROVIDER_PRODUCTS_CLIENT_SECRET]")
]


@app.command()
def onboard(
    inventory: Annotated[Path, typer.Argument(help="CSV or JSON Lines with a product_code column")],
    base_url: BaseUrl = None,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Requests in flight at most")] = 8,
    state: Annotated[
        Path | None, typer.Option(help="Resume file [default: INVENTORY.onboard-state.jsonl]")
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Outcome report [default: INVENTORY.report.csv]")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check every code; register nothing")] = False,
    sync: Annotated[
        bool, typer.Option("--sync", help="Also remove registrations absent from the inventory")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before removing (with --sync)")] = False,
    batch: Annotated[bool, typer.Option(help="Use the batch extension when the server offers it")] = True,
) -> None:
    """Register every product of an inventory file, as fast as the rate limit allows; safe to re-run."""
    from provider_products.onboarding import onboard as onboarding

    try:
        columns, rows = onboarding.read_inventory(inventory)
    except onboarding.InventoryError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    state_path = state or inventory.with_name(inventory.name + ".onboard-state.jsonl")
    report_path = report or inventory.with_name(inventory.name + ".report.csv")
    client = _api_client(base_url, client_id, client_secret)
    run = onboarding.Onboarding(
        client=client,
        rows=rows,
        state=None if dry_run else onboarding.StateFile(state_path),
        concurrency=concurrency,
        use_batch=batch,
        dry_run=dry_run,
    )
    display = _ProgressDisplay()
    run.on_progress = display.update
    removed: list[str] = []

    async def main() -> onboarding.Progress:
        try:
            progress = await run.run()
            if sync and not dry_run:
                wanted = {r.key for r in rows if r.key}
                absent = sorted(set(await run.registered_codes()) - wanted)
                if absent and (
                    yes
                    or typer.confirm(f"Remove {len(absent)} registered products absent from the inventory?")
                ):
                    removed.extend(await run.remove_absent(absent))
            return progress
        finally:
            await client.aclose()

    try:
        with display:
            progress = asyncio.run(main())
    except KeyboardInterrupt:
        err.print("interrupted: what was acknowledged is saved; run the same command again to resume")
        raise typer.Exit(130) from None
    finally:
        if run.state is not None:
            run.state.close()
    onboarding.write_report(report_path, columns, rows, removed)
    counts = {k: v for k, v in sorted(progress.counts.items())}
    invalid = sum(1 for r in rows if r.outcome == "invalid")
    duplicates = sum(1 for r in rows if r.outcome == "duplicate")
    out.print(
        f"{len(rows)} rows: "
        + ", ".join(f"{v} {k}" for k, v in counts.items())
        + (f", {duplicates} duplicate" if duplicates else "")
        + (f", {len(removed)} removed" if sync else "")
        + f"; {run.requests} requests, {run.too_many_requests} answered 429"
    )
    out.print(f"report: {report_path}")
    if any(r.outcome in onboarding.FAILED for r in rows) or invalid:
        raise typer.Exit(1)


class _ProgressDisplay:
    """A progress bar on a terminal; a plain line every few seconds otherwise."""

    def __init__(self) -> None:
        import time as _time

        self._time = _time
        self._tty = out.is_terminal
        self._bar: Any = None
        self._task: Any = None
        self._last = 0.0
        self._started = _time.monotonic()

    def __enter__(self) -> _ProgressDisplay:
        if self._tty:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("onboarding"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[counts]}"),
                TimeRemainingColumn(),
                console=out,
            )
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)

    def update(self, progress: Any) -> None:
        counts = " ".join(f"{k}={v}" for k, v in sorted(progress.counts.items()))
        if self._bar is not None:
            if self._task is None:
                self._task = self._bar.add_task("onboarding", total=progress.total, counts=counts)
            self._bar.update(self._task, completed=progress.done, total=progress.total, counts=counts)
            return
        now = self._time.monotonic()
        if now - self._last >= 5 or progress.done == progress.total:
            from provider_products.onboarding.onboard import eta_seconds

            eta = eta_seconds(progress, self._started, now)
            eta_text = f", eta {int(eta)} s" if eta is not None else ""
            print(f"{progress.done}/{progress.total} {counts}{eta_text}", flush=True)
            self._last = now


@app.command()
def match(
    inventory: Annotated[
        Path, typer.Argument(help="CSV or JSON Lines with name (and active_ingredient, strength, form)")
    ],
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Proposals CSV [default: INVENTORY.matches.csv]")
    ] = None,
    top: Annotated[int, typer.Option(min=1, max=10, help="Candidates per row")] = 3,
    catalogue_file: Annotated[
        Path | None,
        typer.Option("--catalogue", help="Use this catalogue export (JSON Lines) instead of the API"),
    ] = None,
    base_url: BaseUrl = None,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
) -> None:
    """Propose catalogue codes for inventory rows that have names but no codes, for a person to review."""
    from provider_products.onboarding import match as matching

    try:
        items = matching.read_inventory(inventory)
    except (OSError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if catalogue_file is not None:
        entries = [
            _entry(json.loads(line))
            for line in catalogue_file.read_text("utf-8").splitlines()
            if line.strip()
        ]
    else:
        client = _api_client(base_url, client_id, client_secret)

        async def fetch() -> list[Any]:
            try:
                return [_entry(p.model_dump()) async for p in client.iter_products(size=200)]
            finally:
                await client.aclose()

        entries = asyncio.run(fetch())
    matcher = matching.Matcher(entries)
    proposals = [matcher.candidates(item, top=top) for item in items]
    destination = out_path or inventory.with_name(inventory.name + ".matches.csv")
    matching.write_proposals(destination, items, proposals, top=top)
    matched = sum(1 for p in proposals if p)
    out.print(f"{len(items)} rows, {matched} with a proposal; review {destination}, then run onboard on it")


def _entry(record: dict[str, Any]) -> Any:
    from provider_products.onboarding.match import CatalogueEntry

    return CatalogueEntry(
        product_code=record["product_code"],
        product_type=record["product_type"],
        name=record["name"],
        active_ingredient=record.get("active_ingredient"),
        concentration=record.get("concentration"),
        pharmaceutical_form=record.get("pharmaceutical_form"),
    )
