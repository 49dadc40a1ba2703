"""``provider-products serve``: bind the port, prepare the database (the sandbox on first start), run uvicorn.

The port is bound before anything else happens, so that a busy port fails the command before a
database is created or a "shown once" sandbox secret is printed. Then uvicorn runs on that socket
with this service's connection protocol (``provider_products.http.protocol``: bounded request
heads, a timeout for receiving a request).
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

import typer

from provider_products.cli.common import fail, load_settings, out, run

if TYPE_CHECKING:
    from provider_products.auth.service import ClientCredentials
    from provider_products.bootstrap import SandboxState
    from provider_products.db.engine import Database
    from provider_products.portal.service import NewPassword

DEFAULT_KEEP_ALIVE = 5.0
DEFAULT_LIMIT_CONCURRENCY = 1000


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes", min=1, max=64)] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request line")] = False,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Load balancer addresses whose X-Forwarded-For to trust (comma-separated), so that "
            "per-address limits see the real client"
        ),
    ] = None,
    keep_alive_timeout: Annotated[
        float, typer.Option(help="Seconds an idle connection is kept open", min=0.1, max=3600)
    ] = DEFAULT_KEEP_ALIVE,
    limit_concurrency: Annotated[
        int,
        typer.Option(
            help="Connections or running requests per process beyond which new requests get 503",
            min=1,
            max=1_000_000,
        ),
    ] = DEFAULT_LIMIT_CONCURRENCY,
    request_timeout: Annotated[
        float | None,
        typer.Option(
            help="Seconds a client has to send a whole request (head and body) before it is closed "
            "[env: PROVIDER_PRODUCTS_REQUEST_TIMEOUT; default 20]",
            min=0.1,
            max=3600,
        ),
    ] = None,
    max_header_bytes: Annotated[
        int | None,
        typer.Option(
            help="Largest request head (request line and headers) in bytes; beyond it 431 "
            "[env: PROVIDER_PRODUCTS_MAX_HEADER_BYTES; default 32768]",
            min=1024,
            max=1024 * 1024,
        ),
    ] = None,
) -> None:
    """Serve the API; on first start with SQLite, create and seed the sandbox database."""
    import uvicorn

    from provider_products.http.protocol import BoundedHttpToolsProtocol

    # Workers read their settings from the environment; validate the same values here first.
    os.environ["PROVIDER_PRODUCTS_WORKERS"] = str(workers)
    if request_timeout is not None:
        os.environ["PROVIDER_PRODUCTS_REQUEST_TIMEOUT"] = str(request_timeout)
    if max_header_bytes is not None:
        os.environ["PROVIDER_PRODUCTS_MAX_HEADER_BYTES"] = str(max_header_bytes)
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Each worker writes its metrics here, so /metrics sums them whichever worker answers.
        import tempfile

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="provider-products-metrics-")
    settings = load_settings()
    sock = _bind(host, port)
    base = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"
    try:
        state = run(_prepare(settings.seed_sandbox, base), create=True)
    except KeyboardInterrupt:
        fail("interrupted before the server started", 130)
    if state is not None and state.credentials is None:
        _print_existing(state)
    out.print(f"Serving on {base} (API docs at {base}/docs, provider portal at {base}/portal/)")
    sys.stdout.flush()
    config = uvicorn.Config(
        "provider_products.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=BoundedHttpToolsProtocol,
        log_level="info",
        access_log=access_log,
        server_header=False,
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
        timeout_keep_alive=keep_alive_timeout,  # type: ignore[arg-type]
        limit_concurrency=limit_concurrency,
    )
    _run_uvicorn(config, sock, base)


def _bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket now (as uvicorn would), or leave with one clear line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", 1)
    sock.set_inheritable(True)
    return sock


def _prepare(seed: bool, base: str) -> Callable[[Database], Awaitable[SandboxState | None]]:
    """The start-up action: on SQLite, seed the sandbox and print its credentials before they commit."""
    from provider_products import bootstrap

    async def prepare(database: Database) -> SandboxState | None:
        if database.dialect == "sqlite" and seed:
            return await bootstrap.seed_sandbox(
                database,
                on_created=lambda c, n: _print_new(c, n, base),
                on_portal_user=lambda login: _print_portal_login(login, base),
            )
        return None

    return prepare


def _run_uvicorn(config: object, sock: socket.socket, base: str) -> None:
    """Run uvicorn on the bound socket: one server in this process, or a supervisor of workers.

    uvicorn logs "Uvicorn running on ..." only for sockets it binds itself; it is logged here (once
    the server listens, or before the workers start), as operators and scripts wait for it.
    """
    import logging

    from uvicorn import Config, Server
    from uvicorn.supervisors import Multiprocess

    assert isinstance(config, Config)
    logger = logging.getLogger("uvicorn.error")
    message = f"Uvicorn running on {base} (Press CTRL+C to quit)"

    class _Server(Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                logger.info(message)

    server = _Server(config=config)
    try:
        if config.workers > 1:
            logger.info(message)
            Multiprocess(config, sockets=[sock]).run()
        else:
            config.load_app()
            server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    if config.workers == 1 and not server.started:
        raise typer.Exit(3)


def _print_new(c: ClientCredentials, catalogue_size: int, base: str) -> None:
    """Show a new sandbox's credentials; printed before the seed commits, so a shown secret works."""
    out.print(f"[green]Sandbox ready[/green]: {catalogue_size} catalogue products")
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
    sys.stdout.flush()


def _print_portal_login(login: NewPassword, base: str) -> None:
    """Show the sandbox provider's portal login; printed before the seed commits, like the secret."""
    out.print("  Provider portal (Spanish; English one click away):")
    out.print(f"    open:     {base}/portal/login", markup=False, highlight=False)
    out.print(f"    email:    {login.email}", markup=False, highlight=False)
    out.print(
        f"    password: {login.password}   "
        f"(shown once; 'provider-products users reset-password {login.email}' makes a new one)",
        markup=False,
        highlight=False,
    )
    sys.stdout.flush()


def _print_existing(state: SandboxState) -> None:
    """Say what the existing database holds."""
    out.print(f"Using existing database ({state.catalogue_size} catalogue products).")
    if state.client_id:
        out.print(
            f"  sandbox client_id: {state.client_id} (secret shown at first start; "
            f"'provider-products clients rotate {state.client_id}' makes a new one)"
        )
