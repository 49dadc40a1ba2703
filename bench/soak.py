"""Soak benchmark: PostgreSQL + Redis, ``serve --workers 2``, 40 clients near their rate limits, 10 minutes.

One command builds everything, drives the load, checks, reports and cleans up (about 12 minutes for
the default 10 minutes of load; it stops by itself after ``--minutes`` + ``--setup-minutes``)::

    .venv/bin/python bench/soak.py                             # the soak: 10 minutes of load
    .venv/bin/python bench/soak.py --minutes 3 --period 10     # a 30-second smoke test of the script

A smoke test exercises the script, not the service: in 30 s no rate window fills (no 429) and a
p99 over ~100 requests is noise, so those two checks are expected to fail there.

Needs PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres) and Redis on 127.0.0.1:6379. It
creates (and at the end drops) its own database ``pp_bench_soak`` and uses Redis database 4
(flushed at the start and the end). Setup: ``provider-products db upgrade``; a generated
25,000-entry catalogue (bench/gen_catalogue.py) loaded with ``provider-products catalogue import``;
40 providers, each with a *driver* OAuth client limited to 150/minute and a *checker* client with
a huge limit (used only to seed 200 registrations per provider before, and to read the lists back
after); ``provider-products serve --workers 2`` with ``PROVIDER_PRODUCTS_LOG_REQUESTS=false`` on a
copy of ``src/`` taken at the start (others edit ``src/`` meanwhile; ``--live-src`` runs the tree).

Load: every driver client sends Poisson arrivals at 1.1x its limit (``--overload``), so about 9% of
its requests are refused with 429: list pages, reads of one registration, two-word catalogue
searches, single registrations (some with ``Idempotency-Key``, a few of those sent twice), deletes,
small batches (2-5 codes, sometimes with a code already registered or a withdrawn one), history and
validate; plus a new token every ~2 minutes. Concurrency is bounded (one asyncio semaphore, one
httpx connection pool). The driver keeps the set of codes it believes each provider holds, and
reserves codes while a request about them is in flight, so every answer has one right status.

Minute 1 begins after 30 s of the same load (``--warmup``: connection pools filled, rate windows
full), which is reported on its own row. Every minute: requests by status, p50/p95/p99 latency of
admitted (not 429) requests, 429s, worker RSS (/proc, read every 2 s), CPU, the pool gauges of
/metrics and PostgreSQL's own connection count. Checks at the end (exit status 1 when one fails):
no 5xx and no transport error; every worker's median RSS in the last minute at most 20% above its
median RSS in minute 1, and no worker restarted; last-minute p99 at most 2x the minute-1 p99;
every registration the driver believes held is listed by the server and nothing else (all
providers by default; SQL counts too) and no answer contradicted the driver's state; no
``Traceback`` in the server log; the offered load was delivered; PostgreSQL and Redis were not
restarted meanwhile; the server's /metrics counted what the driver got; some 429s happened.
Results go to bench/out/soak-*.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

import gen_catalogue
import soak_checks
import soak_sampling
from harness import OUT_DIR, admin, api, lifecycle, procfs
from harness.results import machine_info, write_results
from harness.server import Server, wait_for_index
from harness.stores import OwnDatabase, sql
from soak_driver import PRODUCTS, REGS, SEARCHES, ClientState, Driver, latency_summary, status_counts
from soak_report import render

CHECKER_LIMIT = "100000000/minute"


# Creates the providers and their two clients in one process with the service's own admin
# functions (what ``providers create`` / ``clients create`` run; 120 CLI processes would take minutes).
_CREATE_CLIENTS = """
import asyncio, json, sys
from provider_products.auth import service
from provider_products.db.engine import Database

async def main(url, count, limit, checker_limit):
    database = Database(url)
    made = []
    try:
        for n in range(1, count + 1):
            slug = f"soak-p{n:03d}"
            async with database.transaction(write=True) as conn:
                await service.create_provider(conn, slug=slug, name=f"Soak provider {n}")
                clients = [
                    await service.create_client(
                        conn, provider_slug=slug, scopes=["arc:read", "arc:write"], rate_limit=rate
                    )
                    for rate in (limit, checker_limit)
                ]
            made.append({"slug": slug, "clients": [[c.client_id, c.client_secret] for c in clients]})
    finally:
        await database.dispose()
    print(json.dumps(made))

asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]))
"""


class Soak:
    """Everything one soak run needs; ``run()`` does it, ``cleanup()`` undoes it."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.database = OwnDatabase(args.pg_url, args.database, args.redis_url)
        self.url = self.database.url
        self.env = admin.postgres_env(
            self.url, args.redis_url, log_requests="false", rate_limit=args.rate_limit
        )
        self.data: dict[str, Any] = {"build": {}, "minutes": [], "checks": []}
        if args.snapshot_src:
            self.data["src_sha256"] = admin.snapshot_src(work, self.env)
        self.server: Server | None = None
        self.clients: list[ClientState] = []
        self.active: list[str] = []
        self.inactive: list[str] = []
        self.t_start = time.monotonic()
        self.rss_series: soak_checks.RssSeries = []

    def log(self, message: str) -> None:
        """Progress on stderr, with the elapsed time."""
        print(f"[{time.monotonic() - self.t_start:6.0f} s] {message}", file=sys.stderr, flush=True)

    def cli(self, *args: str, timeout: float = 300) -> str:
        """Run the admin CLI against the soak database."""
        return admin.run_cli(list(args), self.env, timeout=timeout)

    # ---- build

    def prepare(self) -> None:
        """Database, schema, catalogue, providers and clients."""
        args, build = self.args, self.data["build"]
        self.database.create()
        self.cli("db", "upgrade", timeout=120)
        catalogue = self.work / "catalogue.jsonl"
        build["catalogue_sha256"] = gen_catalogue.write(catalogue, args.catalogue_size, args.seed)
        for row in gen_catalogue.rows(args.catalogue_size, args.seed):
            (self.active if row["status"] == "ACTIVE" else self.inactive).append(row["product_code"])
        started = time.monotonic()
        build["import_output"] = self.cli("catalogue", "import", str(catalogue), timeout=900).strip()
        build["import_s"] = time.monotonic() - started
        self.log(f"catalogue imported in {build['import_s']:.0f} s: {build['import_output']}")
        started = time.monotonic()
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                _CREATE_CLIENTS,
                self.url,
                str(args.providers),
                args.rate_limit,
                CHECKER_LIMIT,
            ],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"creating providers and clients failed:\n{done.stderr[-3000:]}")
        rng = random.Random(args.seed)
        for item in json.loads(done.stdout.strip().splitlines()[-1]):
            (d_id, d_secret), (c_id, c_secret) = item["clients"]
            self.clients.append(
                ClientState(
                    slug=item["slug"],
                    driver=admin.Credentials(item["slug"], d_id, d_secret),
                    checker=admin.Credentials(item["slug"], c_id, c_secret),
                    rng=random.Random(rng.random()),
                )
            )
        build["clients_s"] = time.monotonic() - started
        self.log(
            f"{len(self.clients)} providers with a driver and a checker client ({build['clients_s']:.0f} s)"
        )

    def start_server(self) -> Server:
        """``serve --workers N``; wait until every worker answers searches from a built index."""
        server = Server(
            self.env,
            self.work / "server.log",
            ready_timeout=120,
            extra_args=["--workers", str(self.args.workers)],
        )
        self.server = server
        server.start()
        for c in self.clients:
            c.token = api.get_token(server.base_url, c.driver)
            c.checker_token = api.get_token(server.base_url, c.checker)
        token, query = self.clients[0].checker_token, {"query": SEARCHES[5][1]}
        wait_for_index(server, token, self.args.workers, 180, PRODUCTS, query)
        self.data["build"]["ready_s"] = server.ready_at - server.spawned_at
        self.data["build"]["warm_s"] = time.monotonic() - self.t_start
        return server

    def seed(self, server: Server) -> None:
        """``--initial`` registrations per provider, by the checker client through the batch endpoint."""
        with httpx.Client(base_url=server.base_url, timeout=60) as http:
            for c in self.clients:
                codes = c.rng.sample(self.active, self.args.initial)
                r = http.post(
                    f"{REGS}/batch",
                    json={"product_codes": codes},
                    headers={"Authorization": f"Bearer {c.checker_token}"},
                )
                r.raise_for_status()
                body = r.json()
                if body["counts"].get("registered") != len(codes):
                    raise RuntimeError(f"seeding {c.slug}: {body['counts']}")
                c.registered.update(codes)
                c.ever_registered.update(codes)

    # ---- drive

    async def sample(self, server: Server, minute: int, driver: Driver | None) -> dict[str, Any]:
        """What the server and the stores look like now (``soak_sampling.sample``)."""
        held = sum(len(c.registered) for c in self.clients)
        return await soak_sampling.sample(
            server, minute, driver.t0 if driver else None, self.args, self.url, registrations_held=held
        )

    async def rss_loop(self, server: Server, driver: Driver, end: float) -> None:
        """Worker RSS every ``--rss-every`` seconds: one reading can catch a transient allocation (an
        argon2 verification holds 64 MiB for its duration), so minutes are compared by their median."""
        while time.monotonic() < end:
            pids = server.worker_pids()
            self.rss_series.append((time.monotonic() - driver.t0, {pid: procfs.rss_mib(pid) for pid in pids}))
            await asyncio.sleep(self.args.rss_every)

    async def drive(self, server: Server) -> Driver:
        """The soak itself: ``--minutes`` of load, a sample at every minute, then the drain."""
        args = self.args
        limit = int(args.rate_limit.split("/")[0])
        # Idle connections are dropped after 4 s, before uvicorn's 5 s keep-alive timeout closes them
        # (with httpx's default of 5 s, a request can go out on a connection the server is closing).
        limits = httpx.Limits(
            max_connections=args.concurrency, max_keepalive_connections=args.concurrency, keepalive_expiry=4.0
        )
        async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=args.timeout) as http:
            driver = Driver(http, self.clients, self.active, self.inactive, args, limit)
            self.data["start_sample"] = await self.sample(server, -1, None)
            # Minute 1 starts after --warmup seconds of the same load: pools filled, windows full.
            driver.t0 = time.monotonic() + args.warmup
            end = driver.t0 + args.minutes * args.period
            loops = [asyncio.create_task(driver.client_loop(c, end)) for c in self.clients]
            loops += [asyncio.create_task(driver.token_loop(c, end)) for c in self.clients]
            loops.append(asyncio.create_task(self.rss_loop(server, driver, end)))
            try:
                await asyncio.sleep(max(0.0, driver.t0 - time.monotonic()))
                self.data["minutes_raw"] = [await self.sample(server, 0, driver)]
                for minute in range(1, args.minutes + 1):
                    await asyncio.sleep(max(0.0, driver.t0 + minute * args.period - time.monotonic()))
                    snap = await self.sample(server, minute, driver)
                    self.data["minutes_raw"].append(snap)
                    done = [
                        s
                        for s in driver.samples
                        if soak_checks.minute_of(s, args.minutes, args.period) == minute
                    ]
                    lat = latency_summary(done)
                    self.log(
                        f"minute {minute}: {len(done):,} requests {status_counts(done)}; p50/p95/p99 "
                        f"{lat['p50_ms']:.1f}/{lat['p95_ms']:.1f}/{lat['p99_ms']:.1f} ms; worker RSS "
                        f"{', '.join(f'{v:.0f}' for v in snap['worker_rss_mib'])} MiB; pool "
                        f"{snap['pool_in_use']}/{snap['pool_size']}; pg {snap['pg_sessions']}; "
                        f"in flight {len(driver.tasks)}; load {snap['loadavg'][0]:.1f}"
                    )
                await asyncio.gather(*loops)
            finally:
                for task in loops:
                    task.cancel()
                self.data["left_in_flight"] = await driver.drain(max(30.0, args.timeout + 5))
            self.data["final_sample"] = await self.sample(server, args.minutes + 1, driver)
        self.data["drive_s"] = time.monotonic() - driver.t0
        return driver

    # ---- verify

    def verify(self, server: Server) -> dict[str, Any]:
        """Read every sampled provider's list back (checker client) and the counts of every provider (SQL)."""
        sample = self.clients[: self.args.verify_providers] if self.args.verify_providers else self.clients
        missing: dict[str, list[str]] = {}
        unexpected: dict[str, list[str]] = {}
        listed_total = 0
        with httpx.Client(base_url=server.base_url, timeout=60) as http:
            for c in sample:
                listed = api.list_registered(http, c.checker_token)
                listed_total += len(listed)
                if c.registered - listed:
                    missing[c.slug] = sorted(c.registered - listed)
                if listed - c.registered:
                    unexpected[c.slug] = sorted(listed - c.registered)
        rows = sql(
            self.url,
            "SELECT p.slug, count(pp.id) AS held FROM provider p LEFT JOIN provider_product pp"
            " ON pp.provider_id = p.id AND pp.removed_at IS NULL GROUP BY p.slug",
        )[0]
        held = {str(r["slug"]): int(r["held"]) for r in rows}
        count_mismatch = {
            c.slug: {"driver": len(c.registered), "database": held.get(c.slug, 0)}
            for c in self.clients
            if len(c.registered) != held.get(c.slug, 0)
        }
        periods = sql(
            self.url,
            "SELECT count(*) AS all_periods, count(*) FILTER (WHERE removed_at IS NOT NULL) AS closed"
            " FROM provider_product",
        )[0][0]
        return {
            "providers_listed": len(sample),
            "registrations_listed": listed_total,
            "registrations_believed": sum(len(c.registered) for c in sample),
            "missing": missing,
            "unexpected": unexpected,
            "count_mismatch_sql_all_providers": count_mismatch,
            "periods_total": int(periods["all_periods"]),
            "periods_closed": int(periods["closed"]),
        }

    # ---- whole run

    def run(self) -> None:
        """Build, start, seed, drive, verify, check."""
        self.prepare()
        server = self.start_server()
        self.log(
            f"server ready ({self.args.workers} workers); seeding {self.args.initial} registrations each"
        )
        self.seed(server)
        self.log(f"driving {len(self.clients)} clients for {self.args.minutes} min")
        try:  # uvloop (uvicorn's loop, installed with it) costs the driver a little less CPU per request
            import uvloop

            loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
        except ImportError:
            loop_factory = None
        self.data["driver_loop"] = "asyncio" if loop_factory is None else "uvloop"
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            driver = runner.run(self.drive(server))
        self.log("verifying registrations")
        self.data["verify"] = self.verify(server)
        self.data["server_log_tail"] = server.log_tail(40)
        log_text = server.log_path.read_text(errors="replace")
        self.data["server_log"] = {
            "lines": log_text.count("\n"),
            "tracebacks": log_text.count("Traceback"),
            "errors": sum(1 for line in log_text.splitlines() if '"level": "error"' in line),
            "warnings": sum(1 for line in log_text.splitlines() if '"level": "warning"' in line),
        }
        soak_checks.summarise(self.data, driver, self.args, self.rss_series)
        self.data["checks"] = soak_checks.checks(
            self.data, self.args.workers, len(self.clients), self.expected_planned()
        )

    def expected_planned(self) -> float:
        """API requests the nominal rate plans over the drive."""
        limit = int(self.args.rate_limit.split("/")[0])
        seconds = self.args.minutes * self.args.period + self.args.warmup
        return float(len(self.clients) * limit * self.args.overload * seconds / 60)

    def cleanup(self) -> None:
        """Stop the server; drop the database and flush the Redis database unless --keep-db."""
        if self.server is not None:
            self.server.stop()
        self.database.drop(keep=self.args.keep_db)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The soak's options, checked."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--minutes", type=int, default=10, help="minutes of load (default 10)")
    parser.add_argument(
        "--period",
        type=float,
        default=60.0,
        help="seconds per 'minute' (default 60; smaller for smoke tests)",
    )
    parser.add_argument(
        "--pg-url", default="postgresql://postgres@127.0.0.1:5432", help="server, no database"
    )
    parser.add_argument("--database", default="pp_bench_soak", help="database to create and drop")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/4", help="Redis database (flushed)")
    parser.add_argument("--catalogue-size", type=int, default=25_000)
    parser.add_argument("--providers", type=int, default=40)
    parser.add_argument("--rate-limit", default="150/minute", help="each driver client's limit (N/minute)")
    parser.add_argument("--overload", type=float, default=1.1, help="offered rate / limit (default 1.1)")
    parser.add_argument("--initial", type=int, default=200, help="registrations seeded per provider")
    parser.add_argument("--workers", type=int, default=2, help="serve --workers (default 2)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight at most (32)")
    parser.add_argument("--max-pending", type=int, default=2000, help="backlog bound; beyond it, drop")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, seconds")
    parser.add_argument(
        "--warmup", type=float, default=30.0, help="seconds of load before minute 1, reported apart (30)"
    )
    parser.add_argument("--rss-every", type=float, default=2.0, help="seconds between RSS readings (2)")
    parser.add_argument("--token-every", type=float, default=120.0, help="seconds between new tokens")
    parser.add_argument("--verify-providers", type=int, default=0, help="providers to list back (0 = all)")
    parser.add_argument("--setup-minutes", type=float, default=8, help="hard stop = --minutes + this")
    parser.add_argument("--seed", type=int, default=gen_catalogue.DEFAULT_SEED)
    parser.add_argument(
        "--live-src", dest="snapshot_src", action="store_false", help="serve the live src/ tree, not a copy"
    )
    parser.add_argument("--keep-db", action="store_true", help="keep the database and Redis DB afterwards")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR, help="where results go (bench/out)")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", args.database):
        parser.error("--database must be lower-case letters, digits and underscores")
    if not re.fullmatch(r"\d+/minute", args.rate_limit):
        parser.error("--rate-limit must be N/minute")
    if args.minutes < 1 or args.providers < 1 or args.period <= 0:
        parser.error("--minutes, --period and --providers must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run within the deadline, report, clean up."""
    args = parse_args(argv)
    lifecycle.exit_cleanly_on_sigterm()
    machine = machine_info()
    with lifecycle.workdir("pp-bench-soak-") as work:
        soak = Soak(args, work)
        status = lifecycle.run_bounded(
            soak.run,
            soak.data,
            seconds=args.minutes * args.period + args.warmup + args.setup_minutes * 60,
            stopped="the run exceeded --minutes + --setup-minutes",
            error="stopped by the deadline",
            failure_status=2,
            cleanup=soak.cleanup,
        )
        if status == 2 and soak.server is not None:
            soak.data["server_log_tail"] = soak.server.log_tail(40)
    data = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": machine,
        "elapsed_s": time.monotonic() - soak.t_start,
        "expected_planned": soak.expected_planned(),
        **soak.data,
    }
    failed = [c["check"] for c in data["checks"] if not c["passed"]]
    if status == 0 and failed:
        status = 1
    stem = "soak" if "error" not in data else "soak-partial"
    json_path, md_path = write_results(stem, data, render(data), args.out_dir)
    print(render(data))
    print(f"results: {json_path} and {md_path}", file=sys.stderr)
    if failed:
        print(f"FAILED checks: {'; '.join(failed)}", file=sys.stderr)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
