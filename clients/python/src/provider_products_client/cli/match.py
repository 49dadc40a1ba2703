"""``match``: propose catalogue codes for an inventory that has only product names.

Run as ``provider-products-client match`` or, with the server installed, ``provider-products match``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from provider_products_client.cli.common import BaseUrl, ClientId, ClientSecret, Sheet, api_client, fail, out

if TYPE_CHECKING:
    from provider_products_client.onboarding.match import CatalogueEntry


def match(
    inventory: Annotated[
        Path,
        typer.Argument(help="CSV, .xlsx or JSON Lines with name (and active_ingredient, strength, form)"),
    ],
    sheet: Sheet = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Proposals CSV [default: INVENTORY.matches.csv]")
    ] = None,
    top: Annotated[int, typer.Option(min=1, max=10, help="Candidates per row")] = 3,
    catalogue_file: Annotated[
        Path | None,
        typer.Option("--catalogue", help="Use this catalogue export (JSON Lines) instead of the API"),
    ] = None,
    product_type: Annotated[
        list[str] | None,
        typer.Option(
            "--product-type",
            help="Only propose this type (repeatable or comma list: MEDICATION, LAB, IMAGING, PROCEDURE)",
        ),
    ] = None,
    base_url: BaseUrl = None,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
) -> None:
    """Propose catalogue codes for inventory rows that have names but no codes, for a person to review."""
    from provider_products_client.onboarding import match as matching

    types = [t.strip().upper() for value in product_type or () for t in value.split(",") if t.strip()]
    unknown = sorted(set(types) - set(matching.PRODUCT_TYPES))
    if unknown:
        fail(
            ValueError(
                f"unknown --product-type {', '.join(unknown)} (use {', '.join(matching.PRODUCT_TYPES)})"
            ),
            2,
        )
    try:
        items = matching.read_inventory(inventory, sheet=sheet)
    except ValueError as exc:
        fail(exc, 2)
    if catalogue_file is not None:
        try:
            entries = matching.read_catalogue(catalogue_file, product_types=types or None)
        except ValueError as exc:
            fail(exc, 2)
    else:
        client = api_client(base_url, client_id, client_secret)

        async def fetch() -> list[CatalogueEntry]:
            try:
                return await matching.fetch_catalogue(client, product_types=types or None)
            finally:
                await client.aclose()

        entries = asyncio.run(fetch())
    matcher = matching.Matcher(entries)
    proposals = [matcher.candidates(item, top=top) for item in items]
    destination = out_path or inventory.with_name(inventory.name + ".matches.csv")
    matching.write_proposals(destination, items, proposals, top=top)
    matched = sum(1 for p in proposals if p)
    out.print(f"{len(items)} rows, {matched} with a proposal; review {destination}, then run onboard on it")
