"""Database access: one async transaction interface over SQLite (embedded) and PostgreSQL (asyncpg).

SQLite runs in-process and answers an indexed lookup in tens of microseconds, far less than a
thread hop costs, so its statements are executed directly on the event loop through SQLAlchemy's
synchronous engine. Write transactions are serialised by an asyncio lock so that a suspended writer
can never make another one block the loop on SQLite's file lock. PostgreSQL goes through
SQLAlchemy's asyncio engine on asyncpg.

Round trips to PostgreSQL are what a request waits for, so a read costs one per statement: reads
run in autocommit (under READ COMMITTED each statement takes its own snapshot inside a transaction
too, so BEGIN and COMMIT would add two round trips and no guarantee), and a pooled connection is
pinged before use only when it sat idle long enough to have been cut (``IDLE_PING_SECONDS``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import anyio.to_thread
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.engine import Result, make_url
from sqlalchemy.exc import DataError, DBAPIError, DisconnectionError, IntegrityError, ProgrammingError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql import Executable

from provider_products.errors import StoreUnavailable

Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None

IDLE_PING_SECONDS = 1.0
"""A pooled PostgreSQL connection idle this long is pinged before use (and replaced if dead)."""
SUSPECT_SECONDS = 30.0
"""After a failure, every pooled connection is pinged before use for this long."""


class Connection(Protocol):
    """One connection inside one transaction; every repository function takes one."""

    dialect_name: str

    async def execute(self, statement: Executable, parameters: Params = None) -> Result[Any]:
        """Execute a statement and return its fully buffered result."""
        ...


class _SQLiteConnection:
    dialect_name = "sqlite"

    def __init__(self, conn: SyncConnection) -> None:
        self._conn = conn

    async def execute(self, statement: Executable, parameters: Params = None) -> Result[Any]:
        return self._conn.execute(statement, parameters)


class _AsyncConnection:
    dialect_name = "postgresql"

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def execute(self, statement: Executable, parameters: Params = None) -> Result[Any]:
        return await self._conn.execute(statement, parameters)


def normalise_url(url: str) -> tuple[str, str]:
    """Return ``(dialect, sqlalchemy_url)`` for a user-facing database URL."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ValueError("an in-memory SQLite database cannot be shared; give a file path")
        return "sqlite", parsed.set(drivername="sqlite+pysqlite").render_as_string(hide_password=False)
    if backend in ("postgresql", "postgres"):
        return "postgresql", parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ValueError(
        f"unsupported database URL scheme {parsed.drivername!r}; use sqlite:/// or postgresql://"
    )


def sqlite_path(url: str) -> Path:
    """Return the file path of a SQLite URL."""
    return Path(make_url(url).database or "")


class Database:
    """The service's database: transactions, health check and disposal, whatever the backend."""

    def __init__(
        self,
        url: str,
        *,
        sqlite_synchronous: str = "NORMAL",
        pool_size: int = 10,
        command_timeout: float = 15,
    ) -> None:
        self.dialect, self.url = normalise_url(url)
        self._write_lock = asyncio.Lock()
        self._suspect_until = 0.0
        self._sync_engine: Engine | None = None
        self._async_engine: AsyncEngine | None = None
        if self.dialect == "sqlite":
            self._sync_engine = _sqlite_engine(self.url, sqlite_synchronous, pool_size)
        else:
            # Short connect and statement timeouts: during an outage a request fails fast with 503
            # instead of hanging; pre-ping replaces connections that died while PostgreSQL restarted.
            self._async_engine = create_async_engine(
                self.url,
                pool_size=pool_size,
                # A small overflow: a pool that holds the usual concurrency avoids opening and
                # closing connections under load.
                max_overflow=max(2, pool_size // 4),
                pool_timeout=5,
                connect_args={"timeout": 3, "command_timeout": command_timeout},
            )
            _ping_when_idle(self._async_engine.sync_engine, lambda: time.monotonic() < self._suspect_until)
        self._read_engine = (
            None
            if self._async_engine is None
            else self._async_engine.execution_options(isolation_level="AUTOCOMMIT")
        )

    @property
    def sync_engine(self) -> Engine:
        """The synchronous engine (SQLite only); migrations and bulk loads use it."""
        assert self._sync_engine is not None
        return self._sync_engine

    @property
    def async_engine(self) -> AsyncEngine:
        """The asyncio engine (PostgreSQL only)."""
        assert self._async_engine is not None
        return self._async_engine

    @asynccontextmanager
    async def transaction(self, *, write: bool = False) -> AsyncIterator[Connection]:
        """Run a block in one transaction: commit when it ends, roll back when it raises."""
        try:
            if self._sync_engine is not None:
                if write:
                    async with self._write_lock:
                        with (
                            self._sync_engine.connect().execution_options(
                                sqlite_begin="BEGIN IMMEDIATE"
                            ) as conn,
                            conn.begin(),
                        ):
                            yield _SQLiteConnection(conn)
                else:
                    with self._sync_engine.begin() as conn:
                        yield _SQLiteConnection(conn)
            elif write:
                assert self._async_engine is not None
                async with self._async_engine.begin() as aconn:
                    yield _AsyncConnection(aconn)
            else:
                assert self._read_engine is not None
                async with self._read_engine.connect() as aconn:
                    yield _AsyncConnection(aconn)
        except (IntegrityError, DataError, ProgrammingError):
            raise
        except (DBAPIError, SQLAlchemyTimeoutError, OSError, TimeoutError) as exc:
            # Anything else from the driver means the store cannot serve us now (down, restarting,
            # connection lost, pool exhausted): a clean 503 the client may retry. Until the store
            # answers again, every pooled connection is pinged before use, busy or not, so that
            # connections cut by a restart are replaced instead of failing request after request.
            self._suspect_until = time.monotonic() + SUSPECT_SECONDS
            raise StoreUnavailable("The database is unavailable") from exc

    async def fetch_off_loop(self, statement: Executable, parameters: Params = None) -> list[Any]:
        """Run one read in a transaction of its own and return every row, never holding the event loop.

        On SQLite (whose statements otherwise run on the loop) the query runs in a worker thread on
        a pooled connection of its own; on PostgreSQL the loop only receives what asyncpg reads.
        """
        if self._sync_engine is None:
            async with self.transaction() as conn:
                return list((await conn.execute(statement, parameters)).all())
        engine = self._sync_engine

        def run() -> list[Any]:
            with engine.connect() as conn:
                return list(conn.execute(statement, parameters).all())

        try:
            return await anyio.to_thread.run_sync(run)
        except (DBAPIError, SQLAlchemyTimeoutError, OSError) as exc:
            raise StoreUnavailable("The database is unavailable") from exc

    async def ping(self) -> bool:
        """Say whether the database answers a trivial query."""
        from sqlalchemy import text

        try:
            async with self.transaction() as conn:
                await conn.execute(text("SELECT 1"))
        except StoreUnavailable:
            return False
        return True

    def pool_status(self) -> tuple[int, int]:
        """Return ``(pool size, connections checked out)``."""
        pool: Any = (self._sync_engine or self.async_engine.sync_engine).pool
        return int(pool.size()), int(pool.checkedout())

    async def dispose(self) -> None:
        """Close every pooled connection."""
        if self._sync_engine is not None:
            self._sync_engine.dispose()
        if self._async_engine is not None:
            await self._async_engine.dispose()


def _sqlite_engine(url: str, synchronous: str, pool_size: int) -> Engine:
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so BEGIN is ours (SQLAlchemy recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: SyncConnection) -> None:
        # Straight to the driver: SQLAlchemy's statement machinery costs more than SQLite's BEGIN.
        dbapi_connection: Any = conn.connection.dbapi_connection
        dbapi_connection.execute(conn.get_execution_options().get("sqlite_begin", "BEGIN"))

    return engine


def _ping_when_idle(engine: Engine, suspect: Callable[[], bool]) -> None:
    """Ping a pooled connection before use only when it sat idle ``IDLE_PING_SECONDS`` or more.

    A connection in steady use is known alive; one that sat idle may have been cut (a PostgreSQL
    restart, a firewall) and is pinged, and replaced when dead (the pool retries the checkout).
    A connection that dies while in use fails its request with a 503; from then on, while
    ``suspect()`` says so, every checkout pings, so the connections a restart cut are all replaced
    even when the pool is too busy for any of them to sit idle.
    """

    @event.listens_for(engine.pool, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        idle = idle_since is not None and time.monotonic() - idle_since >= IDLE_PING_SECONDS
        if not idle and not suspect():
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:
            raise DisconnectionError("a pooled connection was dead") from exc
