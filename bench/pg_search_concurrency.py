"""Searches on PostgreSQL with more requests in flight than the connection pool holds.

One command (creates and drops its own database ``pp_bench_concurrency``; Redis database 3)::

    .venv/bin/python bench/pg_search_concurrency.py                       # 16 and 32 connections
    .venv/bin/python bench/pg_search_concurrency.py --refresh-seconds 2 --connections 32 --seconds 30

A search route holds a pooled connection while it asks the search index for its snapshot; when the
index checks the catalogue revision (every ``CATALOGUE_REFRESH_SECONDS``) it needs a second
connection, under a lock that the other searches wait on while they hold theirs. With more searches
in flight than the pool's 20 connections, the check can wait for a connection that none of them will
give back until the pool timeout (5 s) answers 503. ``--refresh-seconds 0`` makes every search
check, which shows the effect at once; the default 2 s shows how often it happens in practice.
Reported per run: req/s, statuses, wrk timeouts and the server's CPU. Results go to
bench/out/pg-concurrency-*.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import redis

import benchlib
import gen_catalogue
import run_http
import scale_pg

PATHS = ("/arc/v1/products?query=losartan%2050", "/arc/v1/products?query=med%20s")


def main(argv: list[str] | None = None) -> int:
    """Prepare a small PostgreSQL catalogue, load one server per connection count, report, clean up."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--pg-url", default="postgresql://postgres@127.0.0.1:5432", help="server, no database"
    )
    parser.add_argument("--database", default="pp_bench_concurrency", help="database to create and drop")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/3", help="Redis database (flushed)")
    parser.add_argument("--catalogue-size", type=int, default=20_000)
    parser.add_argument("--connections", default="16,32", help="wrk connection counts (default 16,32)")
    parser.add_argument("--refresh-seconds", type=float, default=0.0, help="CATALOGUE_REFRESH_SECONDS (0)")
    parser.add_argument("--seconds", type=int, default=15, help="wrk run length (default 15)")
    parser.add_argument("--out-dir", type=Path, default=benchlib.OUT_DIR, help="where results go (bench/out)")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.connections.split(",") if c.strip()]
    if not args.database.replace("_", "").isalnum() or not counts or min(counts) < 1:
        parser.error("--database must be letters, digits and underscores; --connections positive")
    wrk = run_http.require_wrk()
    benchlib.exit_cleanly_on_sigterm()
    machine = benchlib.machine_info()
    admin, url = f"{args.pg_url}/postgres", f"{args.pg_url}/{args.database}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVIDER_PRODUCTS_")}
    env.update(
        {
            "PROVIDER_PRODUCTS_DATABASE_URL": url,
            "PROVIDER_PRODUCTS_REDIS_URL": args.redis_url,
            "PROVIDER_PRODUCTS_JWT_SECRET": secrets.token_urlsafe(48),
            "PROVIDER_PRODUCTS_ENVIRONMENT": "production",
            "PROVIDER_PRODUCTS_SEED_SANDBOX": "false",
            "PROVIDER_PRODUCTS_CATALOGUE_REFRESH_SECONDS": str(args.refresh_seconds),
        }
    )
    work = Path(tempfile.mkdtemp(prefix="pp-bench-concurrency-"))
    runs: list[dict[str, Any]] = []
    scale_pg.sql(admin, f'DROP DATABASE IF EXISTS "{args.database}"')
    scale_pg.sql(admin, f'CREATE DATABASE "{args.database}"')
    try:
        redis.Redis.from_url(args.redis_url, socket_timeout=5).flushdb()
        benchlib.run_cli(["db", "upgrade"], env, timeout=120)
        catalogue = work / "catalogue.jsonl"
        gen_catalogue.write(catalogue, args.catalogue_size)
        benchlib.run_cli(["catalogue", "import", str(catalogue)], env, timeout=600)
        benchlib.run_cli(["providers", "create", "bench-p1", "--name", "Bench"], env, timeout=60)
        out = benchlib.run_cli(
            ["clients", "create", "--provider", "bench-p1", "--rate-limit", "100000000/minute", "--json"], env
        )
        data = json.loads(out.strip().splitlines()[-1])
        credentials = benchlib.Credentials("bench-p1", data["client_id"], data["client_secret"])
        paths = work / "paths.txt"
        paths.write_text("\n".join(PATHS) + "\n")
        for connections in counts:
            with benchlib.Server(env, work / f"server-{connections}.log", ready_timeout=60) as server:
                token = benchlib.get_token(server.base_url, credentials)
                httpx.get(
                    f"{server.base_url}/arc/v1/products",
                    params={"query": "warm"},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=60,
                ).raise_for_status()
                cpu, started = server.cpu_seconds(), time.perf_counter()
                result = run_http.run_wrk(
                    wrk,
                    server.base_url,
                    "paths",
                    token=token,
                    codes_file=paths,
                    duration=args.seconds,
                    connections=connections,
                    threads=1,
                )
                share = (server.cpu_seconds() - cpu) / (time.perf_counter() - started)
            runs.append(
                {
                    "connections": connections,
                    "rps": result["rps"],
                    "statuses": result["statuses"],
                    "timeouts": result["errors"]["timeout"],
                    "server_cpu": share,
                    "p50_ms": result["latency_us"]["p50"] / 1000,
                    "p99_ms": result["latency_us"]["p99"] / 1000,
                }
            )
            print(f"{connections} connections: {runs[-1]}", file=sys.stderr)
    finally:
        scale_pg.sql(admin, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        redis.Redis.from_url(args.redis_url, socket_timeout=5).flushdb()
        shutil.rmtree(work, ignore_errors=True)
    markdown = "\n".join(
        [
            f"# Searches on PostgreSQL beyond the pool ({machine['date_utc']})\n",
            f"{args.catalogue_size:,}-entry catalogue, CATALOGUE_REFRESH_SECONDS={args.refresh_seconds}, "
            f"wrk {args.seconds} s per run, two search paths in turn.\n",
            benchlib.md_table(
                ["connections", "req/s", "statuses", "wrk timeouts", "server CPU", "p50 / p99 ms"],
                [
                    [
                        r["connections"],
                        f"{r['rps']:,.0f}",
                        r["statuses"],
                        r["timeouts"],
                        f"{r['server_cpu']:.0%}",
                        f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f}",
                    ]
                    for r in runs
                ],
            ),
        ]
    )
    payload = {"config": vars(args) | {"out_dir": str(args.out_dir)}, "machine": machine, "runs": runs}
    json_path, md_path = benchlib.write_results("pg-concurrency", payload, markdown, args.out_dir)
    print(markdown)
    print(f"results: {json_path} and {md_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
