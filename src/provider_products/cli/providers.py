"""``provider-products providers`` and ``clients``: the providers and their OAuth clients."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from provider_products.cli.common import fail, in_transaction, out, run

if TYPE_CHECKING:
    from provider_products.auth.service import ClientCredentials

providers_app = typer.Typer(help="Providers (pharmacies, clinics, labs).", no_args_is_help=True)
clients_app = typer.Typer(help="OAuth clients of providers.", no_args_is_help=True)


@providers_app.command("create")
def providers_create(
    slug: Annotated[str, typer.Argument(help="Lower-case identifier, e.g. farmacia-central")],
    name: Annotated[str, typer.Option(help="Display name")],
) -> None:
    """Create a provider."""
    from provider_products.auth import service as auth_service

    run(in_transaction(lambda conn: auth_service.create_provider(conn, slug=slug, name=name)))
    out.print(f"provider {slug} created")


@providers_app.command("list")
def providers_list() -> None:
    """List providers."""
    from rich.table import Table

    from provider_products.auth import service as auth_service

    rows = run(in_transaction(auth_service.list_providers))
    table = Table("slug", "name", "created_at")
    for row in rows:
        table.add_row(row.slug, row.name, row.created_at.isoformat())
    out.print(table)


def _print_credentials(credentials: ClientCredentials, as_json: bool) -> None:
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
    from provider_products.auth import service as auth_service

    try:
        scope_list = auth_service.parse_scopes(scopes)
    except auth_service.AdminError as exc:
        fail(exc, 2)
    credentials = run(
        in_transaction(
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
    from rich.measure import Measurement
    from rich.table import Table

    from provider_products.auth import service as auth_service

    rows = run(in_transaction(lambda conn: auth_service.list_clients(conn, provider_slug=provider)))
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
    headers = ("client_id", "provider", "scopes", "rate_limit", "active", "created_at")
    records = [
        (
            r.client_id,
            r.provider_slug,
            r.scopes,
            r.rate_limit or "default",
            "yes" if r.is_active else "no",
            r.created_at.isoformat(timespec="seconds"),
        )
        for r in rows
    ]
    table = Table(*headers)
    for record in records:
        table.add_row(*record)
    if Measurement.get(out, out.options.update_width(100_000), table).maximum <= out.width:
        out.print(table)
        return
    # Too narrow for the table: one block per client, so that no id is ever cut.
    for record in records:
        for name, value in zip(headers, record, strict=True):
            out.print(f"{name + ':':<12}{value}", markup=False, highlight=False)
        out.print()


@clients_app.command("rotate")
def clients_rotate(
    client_id: Annotated[str, typer.Argument(help="The client to give a new secret")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Replace a client's secret; prints the new one once. Tokens already issued stay valid until expiry."""
    from provider_products.auth import service as auth_service

    credentials = run(in_transaction(lambda conn: auth_service.rotate_secret(conn, client_id=client_id)))
    _print_credentials(credentials, as_json)


@clients_app.command("disable")
def clients_disable(client_id: Annotated[str, typer.Argument(help="The client to disable")]) -> None:
    """Disable a client: no new tokens, and its tokens are refused within the client cache time."""
    from provider_products.auth import service as auth_service

    run(in_transaction(lambda conn: auth_service.set_active(conn, client_id=client_id, active=False)))
    out.print(f"client {client_id} disabled")


@clients_app.command("enable")
def clients_enable(client_id: Annotated[str, typer.Argument(help="The client to enable")]) -> None:
    """Enable a disabled client again."""
    from provider_products.auth import service as auth_service

    run(in_transaction(lambda conn: auth_service.set_active(conn, client_id=client_id, active=True)))
    out.print(f"client {client_id} enabled")
