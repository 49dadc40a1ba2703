"""The typer application behind ``provider-products-client`` (needs the ``tools`` extra)."""

from __future__ import annotations

from typing import Annotated

import typer

from provider_products_client.cli.match import match
from provider_products_client.cli.onboard import onboard

app = typer.Typer(help="Integrator tools of the provider-products API.", no_args_is_help=True)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"provider-products-client {version('provider-products-client')}")
        raise typer.Exit


@app.callback()
def _main(
    _: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit"),
    ] = False,
) -> None:
    """Integrator tools of the provider-products API."""


app.command()(onboard)
app.command()(match)
