"""The ``provider-products`` command: serve, migrate, import catalogues, administer providers and clients.

This module only assembles the command groups; each lives in its own module and loads the server
(or the SDK) when it runs, not when ``--help`` is asked for.
"""

from __future__ import annotations

from typing import Annotated

import typer

from provider_products.cli import catalogue, db, providers, users
from provider_products.cli.serve import serve
from provider_products_client.cli.match import match
from provider_products_client.cli.onboard import onboard

app = typer.Typer(help="Health-insurance provider product registry.", no_args_is_help=True)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"provider-products {version('provider-products')}")
        raise typer.Exit


@app.callback()
def _main(
    _: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit"),
    ] = False,
) -> None:
    """Health-insurance provider product registry."""


app.add_typer(db.app, name="db")
app.add_typer(catalogue.app, name="catalogue")
app.add_typer(providers.providers_app, name="providers")
app.add_typer(providers.clients_app, name="clients")
app.add_typer(users.users_app, name="users")
app.command()(serve)
app.command()(onboard)
app.command()(match)
