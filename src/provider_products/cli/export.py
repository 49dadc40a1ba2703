"""The work of ``catalogue export``: stream the catalogue, a keyset page at a time, to a file or stdout.

Memory stays flat whatever the catalogue's size: one page of rows is held at a time. A file is
written beside its destination and moved into place when complete, so an interrupted export never
leaves a truncated file where a complete one is expected.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from provider_products.db.engine import Database


class OutputFailed(Exception):
    """The export could not be written (a full disk, a closed pipe, a directory that is not there)."""


async def write_lines(
    database: Database, stream: IO[bytes], *, product_types: Sequence[str], active_only: bool
) -> tuple[int, int]:
    """Write every entry as one JSON line, in one read transaction; return ``(entries, revision)``.

    The revision is read first: every entry written is at least as new as it, so the change feed
    since that revision brings a copy made from the file up to date.
    """
    from provider_products.catalogue import changes

    count = 0
    async with database.transaction() as conn:
        revision = await changes.revision(conn)
        async for page in changes.export_pages(conn, product_types=product_types, active_only=active_only):
            try:
                stream.write(b"".join(orjson.dumps(changes.export_record(e)) + b"\n" for e in page))
            except OSError as exc:
                # Raised as our own error: the transaction would take an OSError for the database's.
                raise OutputFailed(exc.strerror or str(exc)) from exc
            count += len(page)
    return count, revision


def writer(
    output: Path | None, *, product_types: Sequence[str], active_only: bool
) -> Callable[[Database], Awaitable[tuple[int, int]]]:
    """Return the admin action that exports to ``output`` (a file) or to standard output."""

    async def to_stdout(database: Database) -> tuple[int, int]:
        try:
            result = await write_lines(
                database, sys.stdout.buffer, product_types=product_types, active_only=active_only
            )
            sys.stdout.buffer.flush()
        except (OutputFailed, OSError) as exc:
            cause = exc.__cause__ if isinstance(exc, OutputFailed) else exc
            if isinstance(cause, BrokenPipeError):
                # The reader stopped early (``| head``); keep Python from failing again at exit.
                with contextlib.suppress(OSError):
                    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                raise OutputFailed("standard output was closed before the export ended") from None
            raise OutputFailed(f"cannot write to standard output: {exc}") from None
        return result

    async def to_file(database: Database) -> tuple[int, int]:
        assert output is not None
        try:
            handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed, or removed, below
                "wb", dir=output.parent, prefix=f".{output.name}.", suffix=".part", delete=False
            )
        except OSError as exc:
            raise OutputFailed(f"cannot write {output}: {exc.strerror or exc}") from None
        try:
            with handle:
                result = await write_lines(
                    database, handle, product_types=product_types, active_only=active_only
                )
            os.replace(handle.name, output)
        except (OutputFailed, OSError) as exc:
            reason = exc if isinstance(exc, OutputFailed) else (exc.strerror or exc)
            raise OutputFailed(f"cannot write {output}: {reason}") from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(handle.name)
        return result

    return to_file if output is not None else to_stdout
