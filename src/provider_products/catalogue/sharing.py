"""The process's search snapshot: loaded from the database, built once per revision by one process.

Imports bump ``catalogue_revision``. The first process that sees a revision without a snapshot
claims its build (a row whose primary key admits one claim, with a lease) and runs the builder as a
child process (``catalogue/builder.py``), which stores the serialised snapshot in the database;
every process, the claimant included, then loads it from there. A process never builds a revision
whose snapshot exists in its format (``index.FORMAT_VERSION``; a snapshot of another format, or one
that cannot be read, counts as absent), and none of this holds the event loop: the build runs in
another process, the chunks are read off the loop a few at a time straight into the one buffer the
snapshot is served from, and opened in a worker thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
import uuid
from collections.abc import Sequence

import anyio.to_thread

from provider_products.catalogue import builder, repository
from provider_products.catalogue.index import Snapshot, SnapshotFormatError
from provider_products.db.base import utcnow
from provider_products.db.engine import Database
from provider_products.errors import StoreUnavailable

logger = logging.getLogger("provider_products.catalogue")

BUILDER_COMMAND = (sys.executable, "-m", "provider_products.catalogue.builder")
LOAD_CHUNKS = 8  # chunks (1 MiB each) per read while loading: what a load holds beside the snapshot


class SnapshotBuildFailed(StoreUnavailable):
    """This process's builder failed; searches answer 503 until a build succeeds."""


class SearchIndex:
    """The process's current snapshot, refreshed when the catalogue's revision changes.

    Like the edge's client cache, it is a per-process component outside any request: its refresh
    runs in the background or before a search takes a connection, so it opens its own short read
    transactions instead of being handed the request's.
    """

    def __init__(
        self,
        database: Database,
        *,
        refresh_seconds: float = 2.0,
        lease_seconds: float = 30.0,
        poll_seconds: float = 0.1,
        builder_command: Sequence[str] = BUILDER_COMMAND,
    ) -> None:
        self._database = database
        self._refresh_seconds = refresh_seconds
        self._lease_seconds = lease_seconds
        self._poll_seconds = poll_seconds
        self._builder_command = tuple(builder_command)
        self._snapshot: Snapshot | None = None
        self._checked_at = 0.0
        self._lock = asyncio.Lock()
        self._refreshing: asyncio.Task[None] | None = None
        self.builds = 0  # snapshots this process built (and stored) itself
        self.loads = 0  # snapshots this process loaded from the database

    @property
    def revision(self) -> int | None:
        """The catalogue revision this process serves, or None before its first snapshot."""
        return None if self._snapshot is None else self._snapshot.revision

    async def current(self) -> Snapshot:
        """Return the current snapshot; refresh it when the catalogue's revision has changed.

        Once a snapshot exists, a stale one is refreshed in the background while searches go on
        answering from it (with a refresh interval of 0, as in tests, the refresh is waited for).
        """
        snapshot = self._snapshot
        if snapshot is not None and time.monotonic() - self._checked_at < self._refresh_seconds:
            return snapshot
        if snapshot is not None and self._refresh_seconds > 0:
            if self._refreshing is None or self._refreshing.done():
                self._refreshing = asyncio.create_task(self._refresh_quietly())
            return snapshot
        return await self._refresh()

    async def _refresh(self) -> Snapshot:
        async with self._lock:
            snapshot = self._snapshot
            if snapshot is not None and time.monotonic() - self._checked_at < self._refresh_seconds:
                return snapshot
            revision = await self._revision()
            if snapshot is None or snapshot.revision < revision:
                snapshot = self._snapshot = await self._obtain(revision)
            self._checked_at = time.monotonic()
            return snapshot

    async def _revision(self) -> int:
        async with self._database.transaction() as conn:
            return await repository.revision(conn)

    async def _obtain(self, revision: int) -> Snapshot:
        """Load the snapshot of ``revision`` (or a newer one), building it first if nobody has."""
        while True:
            async with self._database.transaction() as conn:
                state = await repository.snapshot_state(conn, revision)
            if state is not None and state.status == "ready":
                loaded = await self._load(state)
                if loaded is not None:
                    return loaded
            elif state is None or state.lease_expires_at < utcnow():
                await self._build(revision)
                continue  # the snapshot is stored now (or the catalogue moved on): load it
            else:
                await asyncio.sleep(self._poll_seconds)  # another process is building it
            # A newer revision supersedes the one being waited for; its snapshot replaces it.
            revision = max(revision, await self._revision())

    async def _load(self, state: repository.SnapshotState) -> Snapshot | None:
        """Read and open a stored snapshot; None when it was pruned meanwhile (a newer one exists) or
        cannot be read (then it is dropped, so that the caller builds it again)."""
        started = time.perf_counter()
        data = bytearray(state.size_bytes)
        at = 0
        for first in range(0, state.chunks, LOAD_CHUNKS):
            end = min(first + LOAD_CHUNKS, state.chunks)
            rows = await self._database.fetch_off_loop(repository.snapshot_chunks(state.token, first, end))
            if [number for number, _ in rows] != list(range(first, end)):
                return None
            for _, chunk in rows:
                data[at : at + len(chunk)] = chunk
                at += len(chunk)
            del rows
        try:
            if at != len(data):
                raise SnapshotFormatError(f"search snapshot has {at} bytes, its row says {len(data)}")
            snapshot = await anyio.to_thread.run_sync(Snapshot, data)
        except SnapshotFormatError as exc:
            logger.error(
                "search snapshot of revision %d cannot be read, building it again: %s", state.revision, exc
            )
            async with self._database.transaction(write=True) as conn:
                await repository.discard_snapshot(conn, revision=state.revision, token=state.token)
            return None
        self.loads += 1
        logger.info(
            "search snapshot of revision %d loaded: %d entries, %.1f MiB in %.2f s",
            snapshot.revision,
            len(snapshot),
            state.size_bytes / 2**20,
            time.perf_counter() - started,
        )
        return snapshot

    async def _build(self, revision: int) -> None:
        """Claim the build of ``revision`` and run the builder; return at once if another claimed it."""
        token = uuid.uuid4().hex
        if not await builder.claim(
            self._database, revision=revision, token=token, lease_seconds=self._lease_seconds
        ):
            return
        order = {
            "database_url": self._database.url,
            "revision": revision,
            "token": token,
            "lease_seconds": self._lease_seconds,
        }
        process = await asyncio.create_subprocess_exec(*self._builder_command, stdin=asyncio.subprocess.PIPE)
        try:
            await process.communicate(json.dumps(order).encode())
        finally:
            if process.returncode is None:  # cancelled (shutdown): the lease lapses, others take over
                process.kill()
        if process.returncode == builder.BUILT:
            self.builds += 1
            return
        async with self._database.transaction(write=True) as conn:
            await repository.release_snapshot(conn, revision=revision, token=token)
        if process.returncode != builder.SUPERSEDED:
            raise SnapshotBuildFailed(
                f"The search index could not be built (builder exit {process.returncode})"
            )

    async def _refresh_quietly(self) -> None:
        try:
            await self._refresh()
        except Exception:  # the next search tries again; meanwhile the old snapshot serves
            logger.warning("search index refresh failed", exc_info=True)

    async def warm_up(self) -> None:
        """Load (or build) the first snapshot ahead of the first search; a failure is left for that search."""
        try:
            await self.current()
        except Exception:  # the first search will retry and answer with the proper error
            logger.warning("search index warm-up failed", exc_info=True)

    async def run(self) -> None:
        """Load the first snapshot, then follow the catalogue's revision for as long as the process serves.

        Each worker picks up a new revision within ``refresh_seconds`` of the import, whether or
        not it is searched meanwhile, so ``/readyz`` tells the revision every worker serves.
        """
        await self.warm_up()
        while True:
            await asyncio.sleep(max(self._refresh_seconds, 0.5))
            await self._refresh_quietly()

    def invalidate(self) -> None:
        """Make the next search check the revision (after an import in this process)."""
        self._checked_at = 0.0
