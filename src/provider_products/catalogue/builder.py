"""Build one catalogue revision's search snapshot and store it in the database for every process.

A server process that claims a build runs this module as a child process
(``python -m provider_products.catalogue.builder``, its instructions as JSON on stdin), so reading
the rows and building never take the server's event loop or its memory: the server only loads the
finished snapshot, like every other process. The child renews the claim's lease while it works; if
it dies, the lease lapses and another process takes the build over.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from contextlib import suppress

import anyio.to_thread

from provider_products.catalogue import repository
from provider_products.catalogue.index import Snapshot
from provider_products.db.base import utcnow
from provider_products.db.engine import Database

logger = logging.getLogger("provider_products.catalogue")

BUILD_STATEMENT_SECONDS = 600.0
CHUNK_BYTES = 1 << 20  # one statement and one short write transaction per MiB
# Exit codes of the child: built and stored; nothing stored because the catalogue moved on or
# the claim was lost (not an error: whoever holds the newer claim builds).
BUILT, SUPERSEDED = 0, 3


class Superseded(Exception):
    """The claim is no longer this build's, or the catalogue changed while its rows were read."""


async def _rows(database: Database, revision: int) -> list[repository.IndexRow]:
    """Read every entry's index columns as of ``revision``; raise ``Superseded`` if it moved on."""
    async with database.transaction() as conn:
        if await repository.revision(conn) != revision:
            raise Superseded
        rows = await repository.index_rows(conn)
        # An import commits its rows and its revision bump together: the same revision after the
        # read means that no import committed in between, whatever the isolation level.
        if await repository.revision(conn) != revision:
            raise Superseded
    return rows


async def _renew(database: Database, revision: int, token: str, lease_seconds: float) -> None:
    """Renew the claim's lease every third of it, until cancelled; stop when the claim is lost."""
    while True:
        await asyncio.sleep(lease_seconds / 3)
        async with database.transaction(write=True) as conn:
            kept = await repository.renew_snapshot_lease(
                conn, revision=revision, token=token, now=utcnow(), lease_seconds=lease_seconds
            )
        if not kept:
            return


async def _store(database: Database, revision: int, token: str, data: bytes | bytearray) -> None:
    """Write the snapshot in chunks, then mark it ready and drop the older revisions' snapshots."""
    chunks = range(0, max(len(data), 1), CHUNK_BYTES)
    for number, start in enumerate(chunks):
        async with database.transaction(write=True) as conn:
            await repository.store_snapshot_chunk(
                conn, token=token, number=number, data=bytes(data[start : start + CHUNK_BYTES])
            )
    async with database.transaction(write=True) as conn:
        done = await repository.finish_snapshot(
            conn, revision=revision, token=token, chunks=len(chunks), size_bytes=len(data), now=utcnow()
        )
        if not done:
            raise Superseded
        await repository.prune_snapshots(conn, below=revision)


async def build_and_store(database: Database, *, revision: int, token: str, lease_seconds: float) -> int:
    """Build the snapshot of ``revision`` under the claim ``token`` and store it; return its size.

    Raise ``Superseded`` when the catalogue moved on or the claim was lost (the claim is then
    released so the next build starts at once); release the claim on any other failure too.
    """
    renewing = asyncio.create_task(_renew(database, revision, token, lease_seconds))
    try:
        started = time.perf_counter()
        rows = await _rows(database, revision)
        read = time.perf_counter()
        snapshot = await anyio.to_thread.run_sync(Snapshot.build, revision, rows)
        del rows
        built = time.perf_counter()
        await _store(database, revision, token, snapshot.data)
        logger.info(
            "search snapshot of revision %d built: %d entries, %.1f MiB; read %.2f s, build %.2f s, "
            "store %.2f s",
            revision,
            len(snapshot),
            len(snapshot.data) / 2**20,
            read - started,
            built - read,
            time.perf_counter() - built,
        )
        return len(snapshot.data)
    except BaseException:
        with suppress(Exception):
            async with database.transaction(write=True) as conn:
                await repository.release_snapshot(conn, revision=revision, token=token)
        raise
    finally:
        renewing.cancel()


async def claim(database: Database, *, revision: int, token: str, lease_seconds: float) -> bool:
    """Claim the build of ``revision``'s snapshot (see ``repository.claim_snapshot``)."""
    async with database.transaction(write=True) as conn:
        return await repository.claim_snapshot(
            conn, revision=revision, token=token, now=utcnow(), lease_seconds=lease_seconds
        )


async def _main(order: dict[str, object]) -> int:
    # Reading a few million rows may take longer than a request's statement timeout allows.
    database = Database(str(order["database_url"]), pool_size=2, command_timeout=BUILD_STATEMENT_SECONDS)
    try:
        await build_and_store(
            database,
            revision=int(str(order["revision"])),
            token=str(order["token"]),
            lease_seconds=float(str(order["lease_seconds"])),
        )
    except Superseded:
        return SUPERSEDED
    finally:
        await database.dispose()
    return BUILT


def main() -> int:
    """Read the build order (database URL, revision, claim token, lease) from stdin and carry it out."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(_main(json.loads(sys.stdin.read())))


if __name__ == "__main__":
    raise SystemExit(main())
