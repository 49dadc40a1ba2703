"""What the integrator commands share: the consoles, one-line failures and the SDK's options."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:
    from provider_products_client import AsyncClient

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)  # one message, one line, whatever the width

BaseUrl = Annotated[str | None, typer.Option(help="Service URL [env: PROVIDER_PRODUCTS_BASE_URL]")]
ClientId = Annotated[str | None, typer.Option(help="OAuth client id [env: PROVIDER_PRODUCTS_CLIENT_ID]")]
ClientSecret = Annotated[
    str | None, typer.Option(help="OAuth client secret [env: PROVIDER_PRODUCTS_CLIENT_SECRET]")
]
Sheet = Annotated[str | None, typer.Option(help="The .xlsx sheet to read [default: the first]")]


def fail(message: object, code: int) -> NoReturn:
    """Print an error and leave with ``code``."""
    from rich.markup import escape

    # Escaped: file, sheet and column names may hold brackets that rich would take for markup.
    err.print(f"[red]error:[/red] {escape(str(message))}")
    raise typer.Exit(code) from None


def api_client(base_url: str | None, client_id: str | None, client_secret: str | None) -> AsyncClient:
    """Build the SDK client from the options or their environment variables; exit 2 if one is bad."""
    from urllib.parse import urlsplit

    from provider_products_client import AsyncClient

    url = base_url if base_url is not None else os.environ.get("PROVIDER_PRODUCTS_BASE_URL")
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            fail(f"base URL {url!r} needs http:// or https:// and a host, e.g. http://127.0.0.1:8000", 2)
    trace_calls()
    try:
        return AsyncClient(base_url=base_url, client_id=client_id, client_secret=client_secret)
    except ValueError as exc:
        fail(exc, 2)


def trace_calls() -> None:
    """Trace the SDK's calls when an OTLP endpoint is configured (``OTEL_*``; the otel extra)."""
    from provider_products_client import tracing

    if not tracing.wanted(os.environ.get("PROVIDER_PRODUCTS_TRACING", "auto").strip().lower()):
        return
    if tracing.missing_modules():
        fail(f"tracing is configured, but the otel extra is not installed: run {tracing.INSTALL_HINT}", 2)
    tracing.trace_outgoing_calls()


def sdk_error_line(exc: Exception, base_url: str) -> str:
    """Say in one line why a call to the service failed (credentials refused, unreachable, an error)."""
    from provider_products_client import errors

    if isinstance(exc, errors.AuthenticationFailed):
        return f"the service at {base_url} refused the client id or secret ({exc})"
    if isinstance(exc, errors.PermissionDenied):
        return f"this client may not do that at {base_url} ({exc})"
    if isinstance(exc, errors.TransportError):
        return f"cannot reach the service at {base_url}: {exc}"
    return f"the service at {base_url} answered {exc}"
