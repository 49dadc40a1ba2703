"""``provider-products catalogue``: load the global catalogue from a file or the bundled sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from provider_products.cli.common import err, fail, out, run

if TYPE_CHECKING:
    from provider_products.catalogue.importer import ImportResult
    from provider_products.db.engine import Database

app = typer.Typer(help="The global catalogue.", no_args_is_help=True)

_SHOWN_ERRORS = 200
# Each statement of an import or export may run this long (a million stored rows, a loaded server).
BULK_STATEMENT_SECONDS = 3600.0


@app.command("import")
def import_(
    file: Annotated[Path | None, typer.Argument(help="A .csv or .jsonl file of catalogue entries")] = None,
    sandbox: Annotated[bool, typer.Option("--sandbox", help="Load the bundled sandbox catalogue")] = False,
    deactivate_missing: Annotated[
        bool, typer.Option("--deactivate-missing", help="Mark entries absent from the file INACTIVE")
    ] = False,
) -> None:
    """Load or update catalogue entries (upsert by code); a file with bad rows writes nothing."""
    from provider_products.catalogue import importer
    from provider_products_client import tabular

    if (file is None) == (not sandbox):
        err.print("[red]error:[/red] give a FILE or --sandbox (not both)")
        raise typer.Exit(2)
    if file is not None:
        try:
            table = importer.read_file(file)
        except tabular.TableError as exc:
            fail(exc, 2)
    else:
        table = tabular.parse_text(importer.sandbox_catalogue(), "jsonl")

    async def work(database: Database) -> ImportResult:
        entries = importer.parse_table(table)
        async with database.transaction(write=True) as conn:
            return await importer.upsert(conn, entries, deactivate_missing=deactivate_missing)

    try:
        result = run(work, create=True, statement_seconds=BULK_STATEMENT_SECONDS)
    except importer.ImportRejected as exc:
        for row in exc.errors[:_SHOWN_ERRORS]:
            err.print(f"line {row.line}: {row.message}", markup=False, highlight=False)
        if len(exc.errors) > _SHOWN_ERRORS:
            err.print(f"... and {len(exc.errors) - _SHOWN_ERRORS} more")
        err.print(f"[red]{len(exc.errors)} bad row(s); nothing was imported[/red]")
        raise typer.Exit(1) from None
    out.print(
        f"{result.total_rows} rows: {result.inserted} inserted, {result.updated} updated, "
        f"{result.unchanged} unchanged, {result.deactivated} deactivated"
    )


_PRODUCT_TYPES = ("MEDICATION", "LAB", "IMAGING", "PROCEDURE")


def _product_types(values: list[str] | None) -> list[str]:
    """Read ``--product-type`` values (repeatable or comma-separated); exit 2 naming an unknown type."""
    types = [t.strip().upper() for value in values or () for t in value.split(",") if t.strip()]
    unknown = sorted(set(types) - set(_PRODUCT_TYPES))
    if unknown:
        fail(f"unknown --product-type {', '.join(unknown)} (use {', '.join(_PRODUCT_TYPES)})", 2)
    return list(dict.fromkeys(types))


@app.command("export")
def export(
    product_type: Annotated[
        list[str] | None,
        typer.Option(
            "--product-type",
            help="Only this type (repeatable or comma list: MEDICATION, LAB, IMAGING, PROCEDURE)",
        ),
    ] = None,
    active_only: Annotated[
        bool, typer.Option("--active-only", help="Leave withdrawn (INACTIVE) entries out")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of standard output")
    ] = None,
) -> None:
    """Write the catalogue as JSON Lines in code order, as `catalogue import` and `match` read it."""
    from provider_products.cli import export as exporting

    types = _product_types(product_type)
    try:
        count, revision = run(
            exporting.writer(output, product_types=types, active_only=active_only),
            statement_seconds=BULK_STATEMENT_SECONDS,
        )
    except exporting.OutputFailed as exc:
        fail(exc, 1)
    where = f" to {output}" if output is not None else ""
    err.print(
        f"exported {count} entries{where} at catalogue revision {revision}; the changes after it: "
        f"GET /arc/v1/products/changes?since_revision={revision}",
        highlight=False,
    )
