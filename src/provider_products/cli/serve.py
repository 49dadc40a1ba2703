"""``provider-products serve``: prepare the database (the sandbox on first start) and run uvicorn."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from provider_products.cli.common import load_settings, out, run

if TYPE_CHECKING:
    from provider_products.bootstrap import SandboxState
    from provider_products.db.engine import Database


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

    from provider_products import bootstrap

    # Workers read their settings from the environment; validate the same values here first.
    os.environ["PROVIDER_PRODUCTS_WORKERS"] = str(workers)
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Each worker writes its metrics here, so /metrics sums them whichever worker answers.
        import tempfile

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="provider-products-metrics-")
    settings = load_settings()

    async def prepare(database: Database) -> SandboxState | None:
        if database.dialect == "sqlite" and settings.seed_sandbox:
            return await bootstrap.seed_sandbox(database)
        return None

    state = run(prepare)
    base = f"http://{host}:{port}"
    if state is not None:
        _print_sandbox(state, base)
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


def _print_sandbox(state: SandboxState, base: str) -> None:
    """Show the sandbox's credentials on first start, or what the existing database holds."""
    if state.credentials is not None:
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
        return
    out.print(f"Using existing database ({state.catalogue_size} catalogue products).")
    if state.client_id:
        out.print(
            f"  sandbox client_id: {state.client_id} (secret shown at first start; "
            f"'provider-products clients rotate {state.client_id}' makes a new one)"
        )
