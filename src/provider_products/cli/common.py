"""What the server's commands share: the consoles, the settings and running admin actions.

Server modules are imported inside the functions, so that ``--help`` and the integrator commands
(``onboard`` and ``match``, from ``provider_products_client.cli``) do not pay for loading the server.
"""

from __future__ import annotations

import asyncio
import difflib
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar

import typer
from rich.console import Console

if TYPE_CHECKING:
    from provider_products.config import Settings
    from provider_products.db.engine import Connection, Database

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)  # one message, one line, whatever the width
T = TypeVar("T")


def fail(message: object, code: int) -> NoReturn:
    """Print an error and leave with ``code``."""
    from rich.markup import escape

    # Escaped: file, sheet and column names may hold brackets that rich would take for markup.
    err.print(f"[red]error:[/red] {escape(str(message))}")
    raise typer.Exit(code) from None


# PROVIDER_PRODUCTS_* variables that are not settings of the server: the SDK's and the test suite's.
_OTHER_VARIABLES = frozenset(
    {"BASE_URL", "CLIENT_ID", "CLIENT_SECRET", "TEST_DATABASE_URL", "TEST_REDIS_URL"}
)


def warn_unknown_variables(known: set[str] | frozenset[str]) -> None:
    """Warn about ``PROVIDER_PRODUCTS_*`` variables that nothing reads, with the closest known name."""
    names = {n.upper() for n in known} | _OTHER_VARIABLES
    for variable in sorted(os.environ):
        if not variable.startswith("PROVIDER_PRODUCTS_"):
            continue
        name = variable.removeprefix("PROVIDER_PRODUCTS_")
        if name in names:
            continue
        close = difflib.get_close_matches(name, sorted(names), n=1, cutoff=0.6)
        hint = f"; did you mean PROVIDER_PRODUCTS_{close[0]}?" if close else ""
        err.print(f"[yellow]warning:[/yellow] {variable} is not a known setting{hint}", highlight=False)


def load_settings() -> Settings:
    """Read the settings from the environment; on a bad value, name the variable and exit 2."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from provider_products.config import Settings

    warn_unknown_variables(set(Settings.model_fields))
    try:
        return Settings()
    except SettingsError as exc:
        fail(f"configuration error: {exc}", 2)
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"])
            where = f" PROVIDER_PRODUCTS_{field.upper()}" if field else ""
            message = str(error["msg"]).removeprefix("Value error, ")
            err.print(f"[red]configuration error[/red]{where}: {message}", highlight=False)
        raise typer.Exit(2) from None


def describe_database(url: str) -> str:
    """Say which database a URL names, without its password: a SQLite file's absolute path."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite {Path(parsed.database or '').resolve()}"
    return f"PostgreSQL {parsed.render_as_string(hide_password=True)}"


def sqlite_problem(path: Path) -> str | None:
    """Why a SQLite file cannot be opened and written, or None when nothing is visibly wrong."""
    directory = path.parent
    if path.is_dir():
        return "it is a directory"
    if not directory.exists():
        return f"directory {directory} does not exist"
    if not directory.is_dir():
        return f"{directory} is not a directory"
    if path.exists():
        if not os.access(path, os.R_OK | os.W_OK):
            return "permission denied (the file is not readable and writable)"
        if not os.access(directory, os.W_OK | os.X_OK):
            return f"permission denied (SQLite must create its journal files in {directory})"
        return None
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"permission denied (cannot create files in {directory})"
    return None


def _open_failure(settings: Settings, exc: BaseException) -> NoReturn:
    """Leave with one line naming the database and the reason it could not be used."""
    from provider_products.db.engine import sqlite_path

    if settings.is_sqlite:
        path = sqlite_path(settings.database_url).resolve()
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        reason = sqlite_problem(path) or str(getattr(cause, "orig", None) or cause)
        fail(f"cannot open or write the database file {path}: {reason}", 2)
    fail(f"{getattr(exc, 'message', exc)}; check PROVIDER_PRODUCTS_DATABASE_URL and the server", 2)


def run(
    work: Callable[[Database], Awaitable[T]],
    *,
    check_schema: bool = True,
    create: bool = False,
    statement_seconds: float = 15,
) -> T:
    """Run one async admin action against the configured database.

    ``statement_seconds`` bounds each PostgreSQL statement: the serving default for quick admin
    actions; the catalogue's bulk commands pass an hour, since reading a million stored rows on a
    loaded database outlasts 15 s (interrupt them with Ctrl-C instead).

    SQLite is brought to the newest schema on the spot; PostgreSQL must have been migrated with
    ``db upgrade`` (a release step), and is refused otherwise. A SQLite file that does not exist is
    created only when ``create`` is set (``serve``, ``db upgrade``, ``catalogue import``); other
    commands say where they looked and how to make one, instead of creating an empty database.
    """
    from sqlalchemy.exc import DBAPIError

    from provider_products import bootstrap
    from provider_products.auth.service import AdminError
    from provider_products.db import migrate
    from provider_products.db.engine import Database, sqlite_path
    from provider_products.errors import StoreUnavailable

    settings = load_settings()
    err.print(f"database: {describe_database(settings.database_url)}", highlight=False)
    if settings.is_sqlite:
        path = sqlite_path(settings.database_url).resolve()
        if not create and not path.exists():
            fail(
                f"no database at {path}; start 'provider-products serve' (creates the sandbox), run "
                "'provider-products db upgrade' (an empty one), or set PROVIDER_PRODUCTS_DATABASE_URL",
                2,
            )
        problem = sqlite_problem(path)
        if problem is not None:
            fail(f"cannot open or write the database file {path}: {problem}", 2)

    async def main() -> T:
        database = Database(
            settings.database_url,
            sqlite_synchronous=settings.sqlite_synchronous,
            command_timeout=statement_seconds,
        )
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
    except AdminError as exc:
        fail(exc, 1)
    except migrate.SchemaOutdated as exc:
        fail(exc, 2)
    except StoreUnavailable as exc:
        _open_failure(settings, exc)
    except (OSError, DBAPIError) as exc:
        _open_failure(settings, exc)
    except KeyboardInterrupt:
        fail("interrupted; the unfinished transaction was rolled back", 130)


def in_transaction(fn: Callable[[Connection], Awaitable[T]]) -> Callable[[Database], Awaitable[T]]:
    """Wrap a function of a connection into an admin action that runs it in one write transaction."""

    async def work(database: Database) -> T:
        async with database.transaction(write=True) as conn:
            return await fn(conn)

    return work
