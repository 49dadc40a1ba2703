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
import sys
from pathlib import Path
from typing import Any

import httpx

import gen_catalogue
from harness import OUT_DIR, admin, api, lifecycle, wrk
from harness.results import machine_info, md_table, publish
from harness.server import Server
from harness.stores import OwnDatabase

PATHS = ("/arc/v1/products?query=losartan%2050", "/arc/v1/products?query=med%20s")


def measure(args: argparse.Namespace, wrk_path: str, counts: list[int], work: Path) -> list[dict[str, Any]]:
    """Import a catalogue into the own database, then one server and one wrk run per connection count."""
    database = OwnDatabase(args.pg_url, args.database, args.redis_url)
    env = admin.postgres_env(
        database.url, args.redis_url, catalogue_refresh_seconds=str(args.refresh_seconds)
    )
    runs: list[dict[str, Any]] = []
    database.create()
    try:
        admin.run_cli(["db", "upgrade"], env, timeout=120)
        catalogue = work / "catalogue.jsonl"
        gen_catalogue.write(catalogue, args.catalogue_size)
        admin.import_catalogue(env, catalogue)
        credentials = admin.create_client(env, "bench-p1")
        paths = work / "paths.txt"
        paths.write_text("\n".join(PATHS) + "\n")
        for connections in counts:
            with Server(env, work / f"server-{connections}.log", ready_timeout=60) as server:
                token = api.get_token(server.base_url, credentials)
                httpx.get(
                    f"{server.base_url}/arc/v1/products",
                    params={"query": "warm"},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=60,
                ).raise_for_status()
                result, cpu, wall = wrk.run_wrk_on(
                    server,
                    wrk_path,
                    "paths",
                    token=token,
                    codes_file=paths,
                    duration=args.seconds,
                    connections=connections,
                )
            runs.append(
                {
                    "connections": connections,
                    "rps": result["rps"],
                    "statuses": result["statuses"],
                    "timeouts": result["errors"]["timeout"],
                    "server_cpu": cpu / wall,
                    "p50_ms": result["latency_us"]["p50"] / 1000,
                    "p99_ms": result["latency_us"]["p99"] / 1000,
                }
            )
            print(f"{connections} connections: {runs[-1]}", file=sys.stderr)
    finally:
        database.drop()
    return runs


def render(args: argparse.Namespace, machine: dict[str, Any], runs: list[dict[str, Any]]) -> str:
    """Render the results as Markdown."""
    return "\n".join(
        [
            f"# Searches on PostgreSQL beyond the pool ({machine['date_utc']})\n",
            f"{args.catalogue_size:,}-entry catalogue, CATALOGUE_REFRESH_SECONDS={args.refresh_seconds}, "
            f"wrk {args.seconds} s per run, two search paths in turn.\n",
            md_table(
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
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR, help="where results go (bench/out)")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.connections.split(",") if c.strip()]
    if not args.database.replace("_", "").isalnum() or not counts or min(counts) < 1:
        parser.error("--database must be letters, digits and underscores; --connections positive")
    wrk_path = wrk.require_wrk()
    lifecycle.exit_cleanly_on_sigterm()
    machine = machine_info()
    with lifecycle.workdir("pp-bench-concurrency-") as work:
        runs = measure(args, wrk_path, counts, work)
    payload = {"config": vars(args) | {"out_dir": str(args.out_dir)}, "machine": machine, "runs": runs}
    publish("pg-concurrency", payload, render(args, machine, runs), args.out_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
