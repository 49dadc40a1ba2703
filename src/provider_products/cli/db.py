"""``provider-products db``: the database schema's migrations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from provider_products.cli.common import out, run

if TYPE_CHECKING:
    from provider_products.db.engine import Database

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Apply every pending migration."""
    from provider_products.db import migrate

    async def work(database: Database) -> str | None:
        await migrate.upgrade(database)
        return await migrate.current_revision(database)

    revision = run(work, check_schema=False, create=True)
    out.print(f"database at revision {revision}")


@app.command("current")
def current() -> None:
    """Show the database's revision and the newest one."""
    from provider_products.db import migrate

    async def work(database: Database) -> str | None:
        return await migrate.current_revision(database)

    out.print(f"current: {run(work, check_schema=False)}  head: {migrate.head_revision()}")
