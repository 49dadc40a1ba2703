"""What the soak reads every minute: the server's processes and /metrics, PostgreSQL's and Redis's state."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import time
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import redis

from harness import procfs
from harness.server import Server

_METRIC_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?\s+(\S+)')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> dict[str, Any]:
    """The figures of /metrics the soak follows: pool gauges, requests by status, 429s by endpoint."""
    found: dict[str, Any] = {
        "pool_in_use": 0.0,
        "pool_size": 0.0,
        "requests": {},
        "requests_by_route": {},
        "refusals": {},
    }
    for line in text.splitlines():
        match = _METRIC_LINE.match(line)
        if match is None:
            continue
        name, labels_text, value = match.group(1), match.group(2) or "", float(match.group(3))
        labels = dict(_LABEL.findall(labels_text))
        if name == "provider_products_db_connections_in_use":
            found["pool_in_use"] += value
        elif name == "provider_products_db_pool_size":
            found["pool_size"] += value
        elif name == "provider_products_requests_total":
            status = labels.get("status", "?")
            found["requests"][status] = found["requests"].get(status, 0) + int(value)
            route = f"{labels.get('method', '?')} {labels.get('route', '?')} {status}"
            found["requests_by_route"][route] = found["requests_by_route"].get(route, 0) + int(value)
        elif name == "provider_products_rate_limit_refusals_total":
            endpoint = labels.get("endpoint", "?")
            found["refusals"][endpoint] = found["refusals"].get(endpoint, 0) + int(value)
    return found


async def sample(
    server: Server,
    minute: int,
    t0: float | None,
    args: argparse.Namespace,
    database_url: str,
    *,
    registrations_held: int,
) -> dict[str, Any]:
    """What the server looks like now: worker RSS, CPU, /metrics pool gauges, PostgreSQL sessions."""
    scrapes = []
    for _ in range(2 * args.workers):  # fresh connections: each may reach another worker
        try:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as fresh:
                scrapes.append(parse_metrics((await fresh.get("/metrics")).text))
        except httpx.HTTPError as exc:
            scrapes.append({"error": f"{type(exc).__name__}: {exc}"})
    good = [s for s in scrapes if "error" not in s]
    pg = await pg_info(database_url, args.database)
    rds = await asyncio.to_thread(redis_info, args.redis_url)
    pids = sorted(server.worker_pids())
    return {
        "minute": minute,
        "t": time.monotonic() - t0 if t0 is not None else 0.0,
        "mono": time.monotonic(),
        "worker_pids": pids,
        "worker_rss_mib": [procfs.rss_mib(pid) for pid in pids],
        "supervisor_rss_mib": server.rss_mib(),
        "server_cpu_s": server.cpu_seconds(),
        "driver_cpu_s": time.process_time(),
        "machine_cpu_s": procfs.machine_cpu(),
        "cpu_pressure_60s": procfs.cpu_pressure(),
        "loadavg": list(os.getloadavg()),
        "pool_in_use": [s["pool_in_use"] for s in good],
        "pool_size": [s["pool_size"] for s in good],
        "metrics_requests": good[-1]["requests"] if good else {},
        "metrics_by_route": good[-1]["requests_by_route"] if good else {},
        "metrics_refusals": good[-1]["refusals"] if good else {},
        "metrics_errors": [s["error"] for s in scrapes if "error" in s],
        **pg,
        **rds,
        "registrations_held": registrations_held,
    }


async def pg_info(url: str, database: str) -> dict[str, Any]:
    """Sessions on the soak database by state, and when PostgreSQL started (a restart shows)."""
    try:
        conn = await asyncpg.connect(url, timeout=10)
        try:
            rows = await conn.fetch(
                "SELECT state, count(*) AS n FROM pg_stat_activity"
                " WHERE datname = $1 AND pid <> pg_backend_pid() GROUP BY state",
                database,
                timeout=10,
            )
            started = await conn.fetchval("SELECT pg_postmaster_start_time()::text", timeout=10)
            opened = await conn.fetchval(
                "SELECT sessions FROM pg_stat_database WHERE datname = $1", database, timeout=10
            )
        finally:
            await conn.close(timeout=10)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        return {"pg_sessions": {}, "pg_started": None, "pg_error": f"{type(exc).__name__}: {exc}"}
    return {
        "pg_sessions": {str(r["state"]): int(r["n"]) for r in rows},
        "pg_started": str(started),
        "pg_sessions_opened_total": int(opened or 0),  # PostgreSQL 14+; counts the sampler's own too
    }


def redis_info(url: str) -> dict[str, Any]:
    """Keys and memory of the soak's Redis database, and Redis's run id (a restart changes it)."""
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        server = client.info("server")
        return {
            "redis_keys": int(client.dbsize()),
            "redis_used_memory_mib": int(client.info("memory")["used_memory"]) / 2**20,
            "redis_run_id": str(server["run_id"]),
        }
    except (redis.RedisError, OSError) as exc:
        return {"redis_keys": None, "redis_run_id": None, "redis_error": f"{type(exc).__name__}: {exc}"}
    finally:
        client.close()
