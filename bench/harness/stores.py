"""PostgreSQL and Redis for the benchmarks that need them: an own database, SQL, a flushed Redis DB."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import redis


async def _sql(url: str, statements: Sequence[str], limit_s: float) -> list[list[Any]]:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return [await conn.fetch(s, timeout=limit_s) for s in statements]
    finally:
        await conn.close(timeout=10)


def sql(url: str, *statements: str, timeout: float = 900.0) -> list[list[Any]]:
    """Run statements one by one, outside any transaction (so VACUUM works), from synchronous code."""
    return asyncio.run(_sql(url, statements, timeout))


def scalar(url: str, statement: str) -> Any:
    """Return the first column of the first row."""
    return sql(url, statement)[0][0][0]


def db_sizes(url: str) -> dict[str, int]:
    """Sizes in bytes of the two big tables (with indexes and TOAST), their indexes, and the database."""
    row = sql(
        url,
        "SELECT pg_total_relation_size('provider_product') AS pp_total,"
        " pg_relation_size('provider_product') AS pp_heap,"
        " pg_indexes_size('provider_product') AS pp_indexes,"
        " pg_total_relation_size('catalogue_product') AS cat_total,"
        " pg_relation_size('catalogue_product') AS cat_heap,"
        " pg_indexes_size('catalogue_product') AS cat_indexes,"
        " pg_database_size(current_database()) AS database,"
        " (SELECT count(*) FROM provider_product) AS pp_rows",
    )[0][0]
    return {k: int(v) for k, v in row.items()}


def pg_sessions(url: str) -> int:
    """Sessions (connections) PostgreSQL has opened on the database so far (statistics, PostgreSQL 14+)."""
    return int(scalar(url, "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"))


def pg_settings(url: str) -> dict[str, str]:
    """The PostgreSQL settings that matter for these numbers."""
    rows = sql(
        url,
        "SELECT name, setting, unit FROM pg_settings WHERE name IN"
        " ('server_version', 'shared_buffers', 'work_mem', 'effective_cache_size', 'max_connections')",
    )[0]
    return {r["name"]: f"{r['setting']}{' ' + r['unit'] if r['unit'] else ''}" for r in rows}


def flush_redis(url: str) -> None:
    """Empty one Redis database (the benchmark's own)."""
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()


class OwnDatabase:
    """A PostgreSQL database created for one benchmark run and a Redis database, both emptied at the end."""

    def __init__(self, pg_url: str, name: str, redis_url: str) -> None:
        base = pg_url.rstrip("/")
        self.name = name
        self.admin_url = f"{base}/postgres"
        self.url = f"{base}/{name}"
        self.redis_url = redis_url
        self.created = False

    def create(self) -> None:
        """(Re)create the database, empty, and flush the Redis database."""
        sql(self.admin_url, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        sql(self.admin_url, f'CREATE DATABASE "{self.name}"')
        self.created = True
        flush_redis(self.redis_url)

    def drop(self, keep: bool = False) -> None:
        """Flush the Redis database and drop the database, unless ``keep``; report, never raise."""
        if keep:
            print(f"kept database {self.name}", file=sys.stderr)
            return
        with contextlib.suppress(Exception):
            flush_redis(self.redis_url)
        if self.created:
            try:
                sql(self.admin_url, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            except Exception as exc:  # report, do not mask the original error
                print(f"could not drop database {self.name}: {exc}", file=sys.stderr)
