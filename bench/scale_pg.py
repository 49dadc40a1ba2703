"""Production-scale benchmark: PostgreSQL + Redis, a 1M-entry catalogue, registrations from 10k to 2M.

One command builds everything, measures, reports and cleans up (about 20 minutes; it stops by
itself after ``--max-minutes``)::

    .venv/bin/python bench/scale_pg.py

Needs wrk, PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres) and Redis on 127.0.0.1:6379.
It creates (and at the end drops) its own database ``pp_bench_scale`` and uses Redis database 3
(flushed at the start and the end). Steps:

1. ``provider-products db upgrade``; generate a 1,000,000-entry catalogue (bench/gen_catalogue.py)
   and load it with ``provider-products catalogue import`` (the real importer: identical rows).
2. 1,000 providers (``bench-p0001`` ...) by SQL; two OAuth clients with the admin CLI
   (``clients create --rate-limit 100000000/minute``): the reader (provider 1) and the writer
   (provider 2).
3. For each step (10k, 100k, 1M, 2M registrations) bulk-insert registrations with
   ``INSERT ... SELECT`` over ``generate_series`` (providers are filled in order, 2,000 distinct
   ACTIVE products each, so the reader and the writer hold 2,000 from the first step on and the
   table grows around them), then ``VACUUM ANALYZE``, start ``provider-products serve`` (1 worker;
   also ``--workers 2`` at the last step), wait for its search index, and drive it with wrk:
   each request kind first over 1 connection (latency p50/p95/p99, one request in flight) and then
   over 32 connections (throughput and latency under saturation). The registrations the register
   runs create are deleted again after each server, so every step keeps its nominal size.

Request kinds: ``GET /healthz`` (the same-run baseline, measured first and last), GET one
registration, the list of the reader's 2,000 registrations (mid page and last page, size 15),
two-word searches on ``/medical-catalogs/v1/medications`` and ``/arc/v1/products``, a search that
matches nothing, one that matches about a quarter of the catalogue and one that matches a third,
and register (fresh codes; the 201 share is reported). Results go to bench/out/scale-pg-*.
"""

# ruff: noqa: S608  (every SQL statement here is the script's own text with integers it computed)

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import os
import random
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import quote

import asyncpg  # type: ignore[import-untyped]
import httpx
import redis

import benchlib
import gen_catalogue
import run_http

MEDS = "/medical-catalogs/v1/medications"
PRODUCTS = "/arc/v1/products"
LIST = "/arc/v1/providers/products"
MEDS_QUERIES = ("acetaminofen 500", "losartan 50", "amoxicilina suspension", "omeprazol 20", "ibuprofeno 400")
PRODUCTS_QUERIES = (
    "ecografia abdominal",
    "hemograma completo",
    "resonancia magnetica",
    "glucosa ayunas",
    "radiografia torax",
)
NO_MATCH_QUERY = "xilofono cuantico"
# Picked from the generated data: among the pairs of its 60 most frequent words and their prefixes,
# none that reads like a query matches 23-27%; the type-ahead prefix "med s" (medication codes
# MED-..., a word starting with s) matches about 22%, the run_search.py broad query "tableta mg"
# about 34%. The report gives the exact counts.
QUARTER_QUERY = "med s"
BROAD_QUERY = "tableta mg"
PAGE_SIZE = 15
PRIMES = (104_729, 1_299_709, 15_485_863)  # strides for distinct products per provider
GET_TARGET_GROWTH = 1.5
SEARCH_TARGET_MS = 20.0


@dataclass(frozen=True)
class Kind:
    """One measured request kind: how wrk sends it and with which token and file."""

    name: str
    label: str
    mode: str  # endpoint.lua mode: healthz, get, register, paths
    group: str  # baseline, registry, search, write


@dataclass(frozen=True)
class Config:
    """One server measured: a step of the registration table and a worker count."""

    registrations: int
    workers: int

    @property
    def label(self) -> str:
        """A short name for tables."""
        return f"{_short(self.registrations)} regs, {self.workers} worker{'s' if self.workers > 1 else ''}"


def _short(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return f"{n:,}"


KINDS = [
    Kind("healthz", "GET /healthz (baseline, start)", "healthz", "baseline"),
    Kind("get", "GET one registration", "get", "registry"),
    Kind("list-mid", "list page, mid", "paths", "registry"),
    Kind("list-last", "list page, last", "paths", "registry"),
    Kind("search-meds", f"two-word medication search ({len(MEDS_QUERIES)} queries)", "paths", "search"),
    Kind("search-products", f"two-word product search ({len(PRODUCTS_QUERIES)} queries)", "paths", "search"),
    Kind("search-none", f"search, no match ({NO_MATCH_QUERY!r})", "paths", "search"),
    Kind("search-quarter", f"search, ~quarter match ({QUARTER_QUERY!r})", "paths", "search"),
    Kind("search-broad", f"search, broad ({BROAD_QUERY!r})", "paths", "search"),
    Kind("register", "POST register (fresh codes)", "register", "write"),
    Kind("healthz-end", "GET /healthz (baseline, end)", "healthz", "baseline"),
]


class Deadline(BaseException):
    """The whole run took longer than --max-minutes (a BaseException: no ``except Exception`` eats it)."""


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise Deadline


# --------------------------------------------------------------------------------------------- SQL


def _pg_url(base: str, database: str) -> str:
    return f"{base.rstrip('/')}/{database}"


async def _sql(url: str, statements: Sequence[str], limit_s: float) -> list[list[asyncpg.Record]]:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return [await conn.fetch(s, timeout=limit_s) for s in statements]
    finally:
        await conn.close(timeout=10)


def sql(url: str, *statements: str, timeout: float = 900.0) -> list[list[asyncpg.Record]]:
    """Run statements one by one (outside any transaction, so VACUUM works); return their rows."""
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
    names = ("server_version", "shared_buffers", "work_mem", "effective_cache_size", "max_connections")
    rows = sql(url, f"SELECT name, setting, unit FROM pg_settings WHERE name IN {names!r}")[0]
    return {r["name"]: f"{r['setting']}{' ' + r['unit'] if r['unit'] else ''}" for r in rows}


# ------------------------------------------------------------------------------------ measurement


def _stat_fields(stat: str) -> tuple[str, list[str]]:
    """``(comm, fields after comm)`` of a ``/proc/<pid>/stat`` text."""
    return stat[stat.find("(") + 1 : stat.rfind(")")], stat.rsplit(")", 1)[1].split()


def cpu_by_comm(name: str, database: str | None = None) -> float:
    """CPU seconds used so far by the processes called ``name`` (``postgres``, ``redis-server``).

    For PostgreSQL, backends serving another database are left out, and the CPU of backends that
    have exited (reaped by the postmaster: its children's time) is included.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        try:
            comm, fields = _stat_fields(stat_path.read_text())
            if comm != name:
                continue
            title = (stat_path.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            parent_comm, _ = _stat_fields(Path(f"/proc/{fields[1]}/stat").read_text())
        except (OSError, IndexError):
            continue
        is_backend = "127.0.0.1(" in title or "[local]" in title
        if database is not None and is_backend and f" {database} " not in title:
            continue
        total += int(fields[11]) + int(fields[12])
        if parent_comm != name:  # the postmaster (or redis itself): add its reaped children's CPU
            total += int(fields[13]) + int(fields[14])
    return total / ticks


def wrk_run(
    wrk: str,
    server: benchlib.Server,
    kind: Kind,
    *,
    token: str | None,
    file: Path | None,
    seconds: int,
    connections: int,
    url: str,
    database: str,
) -> dict[str, Any]:
    """One wrk run of one request kind; adds CPU use of the server, PostgreSQL and Redis."""
    cpu = (server.cpu_seconds(), cpu_by_comm("postgres", database), cpu_by_comm("redis-server"))
    sessions = pg_sessions(url)
    started = time.perf_counter()
    result = run_http.run_wrk(
        wrk,
        server.base_url,
        kind.mode,
        token=token,
        codes_file=file,
        duration=seconds,
        connections=connections,
        threads=1,
    )
    wall = time.perf_counter() - started
    after = (server.cpu_seconds(), cpu_by_comm("postgres", database), cpu_by_comm("redis-server"))
    result["new_pg_sessions"] = pg_sessions(url) - sessions - 1  # less this function's own session
    result["wall_s"] = wall
    result["server_cpu_s"] = after[0] - cpu[0]
    result["postgres_cpu_s"] = after[1] - cpu[1]
    result["redis_cpu_s"] = after[2] - cpu[2]
    result["connections"] = connections
    return result


def wait_for_index(server: benchlib.Server, token: str, workers: int, limit_s: float) -> dict[str, Any]:
    """Wait until the first search is answered (the index is built); with workers, until all are warm."""
    headers = {"Authorization": f"Bearer {token}"}
    params = {"query": PRODUCTS_QUERIES[0]}
    deadline = time.monotonic() + limit_s
    rss_ready = server.worker_rss_mib()
    failures: list[str] = []
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=limit_s) as client:
        while True:
            started = time.perf_counter()
            response = client.get(PRODUCTS, params=params)
            answered = time.perf_counter()
            if response.status_code == 200:
                break
            # e.g. 503 when building the index failed; each search retries the build.
            failures.append(f"{response.status_code} after {answered - started:.1f} s: {response.text[:200]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"no search answered 200 within {limit_s:.0f} s: {failures}")
            time.sleep(1)
    all_warm = answered

    def one() -> float:
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=limit_s) as fresh:
            t0 = time.perf_counter()
            fresh.get(PRODUCTS, params=params).raise_for_status()
            return time.perf_counter() - t0

    if workers > 1:
        # A fresh connection may land on any worker: repeat rounds of parallel searches until
        # none waits for an index build.
        with ThreadPoolExecutor(max_workers=8) as pool:
            while True:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"workers not all warm within {limit_s:.0f} s")
                if max(pool.map(lambda _: one(), range(16))) < 0.25:
                    break
                time.sleep(0.2)
        all_warm = time.perf_counter()
    return {
        "ready_s": server.ready_at - server.spawned_at,
        "first_search_s": answered - server.spawned_at,
        "first_search_latency_s": answered - started,
        "all_workers_warm_s": all_warm - server.spawned_at,
        "worker_rss_mib_at_ready": rss_ready,
        "worker_rss_mib_after_index": server.worker_rss_mib(),
        "failed_first_searches": failures,
    }


def summarise_run(run: dict[str, Any]) -> dict[str, Any]:
    """The numbers the tables show."""
    lat = run["latency_us"]
    requests = max(run["requests"], 1)
    return {
        "rps": run["rps"],
        "p50_ms": lat["p50"] / 1000,
        "p95_ms": lat["p95"] / 1000,
        "p99_ms": lat["p99"] / 1000,
        "server_cpu": run["server_cpu_s"] / run["wall_s"],
        "server_cpu_ms_per_req": 1000 * run["server_cpu_s"] / requests,
        "postgres_cpu_ms_per_req": 1000 * run["postgres_cpu_s"] / requests,
        "redis_cpu_ms_per_req": 1000 * run["redis_cpu_s"] / requests,
        "statuses": run["statuses"],
        "socket_errors": sum(run["errors"].values()) - run["errors"]["status"],
        "new_pg_sessions": run.get("new_pg_sessions", 0),
    }


# -------------------------------------------------------------------------------------- the run


class ScaleRun:
    """Everything one benchmark run needs; ``run()`` does it, ``cleanup()`` undoes it."""

    def __init__(self, args: argparse.Namespace, wrk: str, work: Path) -> None:
        self.args = args
        self.wrk = wrk
        self.work = work
        self.admin_url = _pg_url(args.pg_url, "postgres")
        self.url = _pg_url(args.pg_url, args.database)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PROVIDER_PRODUCTS_")}
        self.env.update(
            {
                "PROVIDER_PRODUCTS_DATABASE_URL": self.url,
                "PROVIDER_PRODUCTS_REDIS_URL": args.redis_url,
                "PROVIDER_PRODUCTS_JWT_SECRET": secrets.token_urlsafe(48),
                "PROVIDER_PRODUCTS_ENVIRONMENT": "production",
                "PROVIDER_PRODUCTS_SEED_SANDBOX": "false",
            }
        )
        self.data: dict[str, Any] = {"configs": [], "build": {}}
        if args.snapshot_src:
            # Other people edit src/ while this runs for 20 minutes: measure one fixed copy of it.
            source = benchlib.BENCH_DIR.parent / "src"
            shutil.copytree(source, work / "src", ignore=shutil.ignore_patterns("__pycache__"))
            self.env["PYTHONPATH"] = str(work / "src")
            self.data["src_sha256"] = _tree_digest(work / "src")
        self.server: benchlib.Server | None = None
        self.register_chunks: list[Path] = []
        self.files: dict[str, Path] = {}
        self.tokens: dict[str, str] = {}
        self.provider_ids: dict[str, int] = {}
        self.database_created = False
        self.chunk_cursor = 0

    def log(self, message: str) -> None:
        """Progress on stderr, with the elapsed time."""
        print(f"[{time.perf_counter() - self.t0:6.0f} s] {message}", file=sys.stderr, flush=True)

    def cli(self, *args: str, timeout: float = 300) -> str:
        """Run the admin CLI against the benchmark database."""
        return benchlib.run_cli(list(args), self.env, timeout=timeout)

    # ---- build

    def prepare(self) -> None:
        """Database, schema, catalogue, providers, clients."""
        args, build = self.args, self.data["build"]
        sql(self.admin_url, f'DROP DATABASE IF EXISTS "{args.database}"')
        sql(self.admin_url, f'CREATE DATABASE "{args.database}"')
        self.database_created = True
        redis.Redis.from_url(args.redis_url, socket_timeout=5).flushdb()
        self.cli("db", "upgrade", timeout=120)
        self.data["postgres"] = pg_settings(self.url)

        catalogue = self.work / "catalogue.jsonl"
        self.log(f"generating a {args.catalogue_size:,}-entry catalogue...")
        started = time.perf_counter()
        build["catalogue_sha256"] = gen_catalogue.write(catalogue, args.catalogue_size, args.seed)
        build["generate_s"] = time.perf_counter() - started
        build["catalogue_file_mib"] = catalogue.stat().st_size / 2**20
        self.log("importing it with `provider-products catalogue import`...")
        started = time.perf_counter()
        build["import_output"] = self.cli("catalogue", "import", str(catalogue), timeout=1800).strip()
        build["import_s"] = time.perf_counter() - started
        build["import_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        catalogue.unlink()
        self.log(f"imported in {build['import_s']:.0f} s: {build['import_output']}")

        started = time.perf_counter()
        sql(
            self.url,
            "INSERT INTO provider (slug, name, created_at) SELECT 'bench-p' || lpad(g::text, 4, '0'),"
            f" 'Bench provider ' || g, now() FROM generate_series(1, {args.providers}) g",
            # Active products numbered 1..n in id order: the registrations pick from them.
            "CREATE TABLE bench_active AS SELECT row_number() OVER (ORDER BY id) AS n, id"
            " FROM catalogue_product WHERE status = 'ACTIVE'",
            "ALTER TABLE bench_active ADD PRIMARY KEY (n)",
            "VACUUM ANALYZE",
        )
        build["providers_s"] = time.perf_counter() - started
        self.active = int(scalar(self.url, "SELECT count(*) FROM bench_active"))
        self.stride = next(p for p in PRIMES if self.active % p)
        if self.active < args.per_provider:
            raise SystemExit(f"only {self.active} active products for {args.per_provider} per provider")
        for row in sql(self.url, "SELECT id, slug FROM provider")[0]:
            self.provider_ids[row["slug"]] = int(row["id"])
        creds = {}
        for role, slug in (("reader", "bench-p0001"), ("writer", "bench-p0002")):
            out = self.cli(
                "clients", "create", "--provider", slug, "--rate-limit", "100000000/minute", "--json"
            )
            creds[role] = benchlib.Credentials(slug, **_client_fields(out))
        self.creds = creds
        self.index_direct()

    def index_direct(self) -> None:
        """Time the snapshot build at full catalogue size directly (bench/index_build.py, own process)."""
        self.log("timing the search index build directly (bench/index_build.py)...")
        out_dir = self.work / "index"
        done = subprocess.run(
            [
                sys.executable,
                str(benchlib.BENCH_DIR / "index_build.py"),
                *("--database-url", self.url, "--repeat", "2", "--out-dir", str(out_dir)),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            env=self.env,
        )
        if done.returncode != 0:
            self.data["index_direct"] = {"error": done.stderr[-2000:]}
            self.log(f"index_build.py failed: {done.stderr[-500:]}")
            return
        self.data["index_direct"] = json.loads((out_dir / "index-latest.json").read_text())["result"]
        self.log(
            "index: read rows {:.1f} s, build {:.1f} s".format(
                self.data["index_direct"]["fetch_seconds"], self.data["index_direct"]["build_seconds_median"]
            )
        )

    def grow(self, target: int) -> dict[str, Any]:
        """Fill providers in order, ``per_provider`` registrations each, until ``target`` rows exist."""
        per = self.args.per_provider
        have = int(scalar(self.url, "SELECT count(*) FROM provider_product"))
        first, last = have // per + 1, target // per
        started = time.perf_counter()
        if last >= first:
            sql(
                self.url,
                "INSERT INTO provider_product (provider_id, product_id, registered_at, removed_at)"
                " SELECT p.id, a.id,"
                " timestamptz '2026-01-01 00:00:00+00' + p.id * interval '1 hour' + j * interval '1 second',"
                " NULL"
                f" FROM provider p CROSS JOIN generate_series(0, {per - 1}) AS j"
                f" JOIN bench_active a"
                f" ON a.n = ((p.id * 7919 + j::bigint * {self.stride}) % {self.active}) + 1"
                f" WHERE substr(p.slug, 8)::int BETWEEN {first} AND {last}",
            )
        inserted = time.perf_counter() - started
        started = time.perf_counter()
        sql(self.url, "VACUUM ANALYZE")
        vacuum = time.perf_counter() - started
        rows = int(scalar(self.url, "SELECT count(*) FROM provider_product"))
        if rows != target:
            raise RuntimeError(f"expected {target} registrations, found {rows}")
        return {"insert_s": inserted, "vacuum_analyze_s": vacuum, "providers_filled": last}

    def request_files(self) -> None:
        """Codes and paths wrk sends (the same at every step)."""
        reader, writer = self.provider_ids["bench-p0001"], self.provider_ids["bench-p0002"]
        rng = random.Random(self.args.seed)
        codes = [
            r["product_code"]
            for r in sql(
                self.url,
                "SELECT c.product_code FROM provider_product pp JOIN catalogue_product c"
                f" ON c.id = pp.product_id WHERE pp.provider_id = {reader} AND pp.removed_at IS NULL",
            )[0]
        ]
        rng.shuffle(codes)
        self.reader_count = len(codes)
        self._write("get", codes)
        pages = math.ceil(self.reader_count / PAGE_SIZE)
        self.pages = {"mid": pages // 2, "last": pages - 1}
        self._write("list-mid", [f"{LIST}?page={self.pages['mid']}&size={PAGE_SIZE}"])
        self._write("list-last", [f"{LIST}?page={self.pages['last']}&size={PAGE_SIZE}"])
        self._write("search-meds", [f"{MEDS}?query={quote(q)}" for q in MEDS_QUERIES])
        self._write("search-products", [f"{PRODUCTS}?query={quote(q)}" for q in PRODUCTS_QUERIES])
        self._write("search-none", [f"{PRODUCTS}?query={quote(NO_MATCH_QUERY)}"])
        self._write("search-quarter", [f"{PRODUCTS}?query={quote(QUARTER_QUERY)}"])
        self._write("search-broad", [f"{PRODUCTS}?query={quote(BROAD_QUERY)}"])
        fresh = [
            r["product_code"]
            for r in sql(
                self.url,
                "SELECT product_code FROM catalogue_product WHERE status = 'ACTIVE' AND id NOT IN"
                f" (SELECT product_id FROM provider_product WHERE provider_id = {writer})"
                " ORDER BY id",
            )[0]
        ]
        rng.shuffle(fresh)
        size = self.args.register_chunk
        self.register_chunks = []
        for n in range(len(fresh) // size):
            path = self.work / f"register-{n:02d}.txt"
            path.write_text("\n".join(fresh[n * size : (n + 1) * size]) + "\n")
            self.register_chunks.append(path)

    def _write(self, name: str, lines: list[str]) -> None:
        path = self.work / f"{name}.txt"
        path.write_text("\n".join(lines) + "\n")
        self.files[name] = path

    def next_register_chunk(self) -> Path:
        """A file of codes the writer does not hold, a different one for each wrk run of one server.

        The registrations a server's runs create are deleted after it, so the next server starts
        from the same chunks again.
        """
        if self.chunk_cursor >= len(self.register_chunks):
            raise RuntimeError("out of fresh codes for register runs; lower --register-chunk")
        self.chunk_cursor += 1
        return self.register_chunks[self.chunk_cursor - 1]

    # ---- measure

    def check_requests(self, base_url: str) -> dict[str, Any]:
        """Every request must answer 200; record what each search and list page returns."""
        found: dict[str, Any] = {}
        headers = {"Authorization": f"Bearer {self.tokens['reader']}"}
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
            for name in ("list-mid", "list-last", "search-meds", "search-products", "search-none"):
                found[name] = []
                for path in self.files[name].read_text().split():
                    response = client.get(path)
                    if response.status_code != 200:
                        raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
                    body = response.json()
                    found[name].append(
                        {"path": path, "total": body["page"]["total_elements"], "items": len(body["content"])}
                    )
            for name in ("search-quarter", "search-broad"):
                path = self.files[name].read_text().split()[0]
                response = client.get(path)
                response.raise_for_status()
                found[name] = [{"path": path, "total": response.json()["page"]["total_elements"]}]
            code = self.files["get"].read_text().split()[0]
            response = client.get(f"{LIST}/{code}")
            if response.status_code != 200:
                raise RuntimeError(f"GET registration {code}: {response.status_code} {response.text[:300]}")
        return found

    def measure(self, config: Config) -> dict[str, Any]:
        """Start a server for ``config``, wait for its index, run every request kind, stop it."""
        args = self.args
        marker = int(scalar(self.url, "SELECT coalesce(max(id), 0) FROM provider_product"))
        result: dict[str, Any] = {
            "registrations": config.registrations,
            "workers": config.workers,
            "label": config.label,
        }
        self.chunk_cursor = 0
        extra = ["--workers", str(config.workers)] if config.workers > 1 else []
        log_path = self.work / f"server-{config.registrations}-{config.workers}.log"
        server = benchlib.Server(self.env, log_path, ready_timeout=120, extra_args=extra)
        self.server = server
        try:
            server.start()
            if not self.tokens:
                for role, cred in self.creds.items():
                    self.tokens[role] = benchlib.get_token(server.base_url, cred)
            result["startup"] = wait_for_index(server, self.tokens["reader"], config.workers, 300)
            self.log(
                f"{config.label}: ready {result['startup']['ready_s']:.1f} s, first search "
                f"{result['startup']['first_search_s']:.1f} s, all warm "
                f"{result['startup']['all_workers_warm_s']:.1f} s after start; worker RSS "
                f"{', '.join(f'{r:.0f}' for r in result['startup']['worker_rss_mib_after_index'])} MiB"
            )
            result["checks"] = self.check_requests(server.base_url)

            def run(kind: Kind, seconds: int, connections: int) -> dict[str, Any]:
                token = {"healthz": None, "register": self.tokens["writer"]}.get(
                    kind.mode, self.tokens["reader"]
                )
                if kind.mode == "healthz":
                    file = None
                elif kind.mode == "register":
                    file = self.next_register_chunk()
                else:
                    file = self.files[kind.name]
                return wrk_run(
                    self.wrk,
                    server,
                    kind,
                    token=token,
                    file=file,
                    seconds=seconds,
                    connections=connections,
                    url=self.url,
                    database=args.database,
                )

            if args.warmup:
                for kind in KINDS[:-1]:
                    run(kind, args.warmup, args.connections)
            runs: dict[str, dict[str, Any]] = {}
            for kind in KINDS:
                latency = run(kind, args.latency_seconds, 1)
                throughput = run(kind, args.throughput_seconds, args.connections)
                runs[kind.name] = {"latency": latency, "throughput": throughput}
                lat, thr = summarise_run(latency), summarise_run(throughput)
                self.log(
                    f"  {kind.name:16s} 1 conn p50/p95/p99 {lat['p50_ms']:6.1f} {lat['p95_ms']:6.1f} "
                    f"{lat['p99_ms']:6.1f} ms | {args.connections} conns {thr['rps']:7,.0f} req/s "
                    f"p95 {thr['p95_ms']:6.1f} ms, server CPU {thr['server_cpu']:.0%} | "
                    f"{thr['statuses']}"
                )
            result["runs"] = runs
            result["worker_rss_mib_at_end"] = server.worker_rss_mib()
            result["worker_peak_rss_mib"] = server.worker_peak_rss_mib()
        finally:
            server.stop()
            self.server = None
        started = time.perf_counter()
        created = int(scalar(self.url, f"SELECT count(*) FROM provider_product WHERE id > {marker}"))
        sql(self.url, f"DELETE FROM provider_product WHERE id > {marker}", "VACUUM ANALYZE provider_product")
        result["register_rows_deleted"] = created
        result["cleanup_s"] = time.perf_counter() - started
        redis.Redis.from_url(args.redis_url, socket_timeout=5).flushdb()
        return result

    def run(self) -> None:
        """The whole benchmark."""
        self.t0 = time.perf_counter()
        self.prepare()
        steps = self.args.steps
        for n, target in enumerate(steps):
            self.log(f"growing provider_product to {target:,} rows...")
            grown = self.grow(target)
            if n == 0:
                self.request_files()
            sizes = db_sizes(self.url)
            self.log(
                f"  inserted in {grown['insert_s']:.1f} s, VACUUM ANALYZE {grown['vacuum_analyze_s']:.1f} s; "
                f"provider_product {sizes['pp_total'] / 2**20:,.0f} MiB, "
                f"catalogue_product {sizes['cat_total'] / 2**20:,.0f} MiB"
            )
            workers = [1, 2] if n == len(steps) - 1 and self.args.workers2 else [1]
            for w in workers:
                result = self.measure(Config(target, w))
                result["grow"] = grown
                result["db_sizes"] = sizes
                self.data["configs"].append(result)
        self.data["elapsed_s"] = time.perf_counter() - self.t0

    def cleanup(self) -> None:
        """Stop the server if one runs; drop the database and flush Redis DB 3 unless --keep-db."""
        if self.server is not None:
            self.server.stop()
        if self.args.keep_db:
            print(f"kept database {self.args.database}", file=sys.stderr)
            return
        with contextlib.suppress(Exception):
            redis.Redis.from_url(self.args.redis_url, socket_timeout=5).flushdb()
        if self.database_created:
            try:
                sql(self.admin_url, f'DROP DATABASE IF EXISTS "{self.args.database}" WITH (FORCE)')
            except Exception as exc:  # report, do not mask the original error
                print(f"could not drop database {self.args.database}: {exc}", file=sys.stderr)


def _tree_digest(root: Path) -> str:
    """SHA-256 over the relative paths and contents of every file under ``root``."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _client_fields(out: str) -> dict[str, str]:
    data = json.loads(out.strip().splitlines()[-1])
    return {"client_id": data["client_id"], "client_secret": data["client_secret"]}


# ------------------------------------------------------------------------------------------ report


def _ms(v: float) -> str:
    return f"{v:.1f}" if v < 100 else f"{v:,.0f}"


def render(data: dict[str, Any]) -> str:
    """Render the results as Markdown."""
    cfg, build, configs = data["config"], data["build"], data["configs"]
    m = data["machine"]
    lines = [
        f"# Production scale, PostgreSQL + Redis ({m['date_utc']})\n",
        f"**Incomplete run: {data['error']}.**\n" if data.get("error") else "",
        f"Catalogue {cfg['catalogue_size']:,} entries (generated in {build['generate_s']:.0f} s, "
        f"{build['catalogue_file_mib']:.0f} MiB of JSON Lines; `catalogue import` {build['import_s']:.0f} s, "
        f"peak RSS of the import {build['import_peak_rss_mib']:,.0f} MiB); {cfg['providers']:,} providers; "
        f"registrations {', '.join(_short(s) for s in cfg['steps'])} ({cfg['per_provider']:,} per filled "
        f"provider). wrk: latency over 1 connection for {cfg['latency_seconds']} s, then throughput over "
        f"{cfg['connections']} connections for {cfg['throughput_seconds']} s, per request kind "
        f"({cfg['warmup']} s warm-up each). PostgreSQL "
        + ", ".join(f"{k} {v}" for k, v in data.get("postgres", {}).items())
        + ".\n",
    ]
    # Latency table: kinds x configs (1 connection p50 / p95 / p99).
    header = ["request", *(c["label"] for c in configs)]
    rows = []
    for kind in KINDS:
        cells = []
        for c in configs:
            s = summarise_run(c["runs"][kind.name]["latency"])
            cells.append(f"{_ms(s['p50_ms'])} / **{_ms(s['p95_ms'])}** / {_ms(s['p99_ms'])}")
        rows.append([kind.label, *cells])
    lines += [
        "\n## Latency, one request in flight (p50 / **p95** / p99 ms)\n",
        benchlib.md_table(header, rows),
    ]
    # Throughput table.
    rows = []
    for kind in KINDS:
        cells = []
        for c in configs:
            s = summarise_run(c["runs"][kind.name]["throughput"])
            base = _healthz_rps(c)
            cells.append(
                f"**{s['rps']:,.0f}** ({s['rps'] / base:.0%}); p95 {_ms(s['p95_ms'])}; "
                f"CPU {s['server_cpu']:.0%}"
            )
        rows.append([kind.label, *cells])
    lines += [
        f"\n## Throughput, {cfg['connections']} connections (req/s (share of /healthz, same server); "
        "p95 ms; server CPU, 100% = one core)\n",
        benchlib.md_table(header, rows),
    ]
    # CPU cost per request.
    rows = []
    for kind in KINDS:
        cells = []
        for c in configs:
            s = summarise_run(c["runs"][kind.name]["throughput"])
            per_core = 1000 / s["server_cpu_ms_per_req"] if s["server_cpu_ms_per_req"] else math.nan
            cells.append(
                f"{s['server_cpu_ms_per_req']:.2f} / {s['postgres_cpu_ms_per_req']:.2f} / "
                f"{s['redis_cpu_ms_per_req']:.2f} ({per_core:,.0f}/core; {s['new_pg_sessions']} new conns)"
            )
        rows.append([kind.label, *cells])
    lines += [
        "\n## CPU per request under load: server / PostgreSQL / Redis ms (server requests/s per core; "
        "PostgreSQL connections opened during the run)\n",
        benchlib.md_table(header, rows),
    ]
    # Statuses.
    status_rows = []
    for c in configs:
        reg = c["runs"]["register"]
        counts: dict[str, int] = {}
        for r in (reg["latency"], reg["throughput"]):
            for k, v in r["statuses"].items():
                counts[k] = counts.get(k, 0) + v
        total = sum(counts.values()) or 1
        others = {
            k: {s: n for s, n in r["statuses"].items() if s != "200"}
            for k, v in c["runs"].items()
            if k != "register"
            for r in (v["latency"], v["throughput"])
            if any(s != "200" for s in r["statuses"])
        }
        errors = sum(summarise_run(r)["socket_errors"] for v in c["runs"].values() for r in v.values())
        status_rows.append(
            [
                c["label"],
                f"{counts.get('201', 0):,} / {total:,} ({counts.get('201', 0) / total:.1%})",
                str(others or "none"),
                str(errors),
            ]
        )
    lines += [
        "\n## Answers\n",
        benchlib.md_table(["server", "register 201 / all", "non-200 reads", "socket errors"], status_rows),
    ]
    # Growth ratios (1 worker configs).
    single = [c for c in configs if c["workers"] == 1]
    first, last = single[0], single[-1]
    rows = []
    verdicts: list[str] = []
    for kind in KINDS:
        a = summarise_run(first["runs"][kind.name]["latency"])["p95_ms"]
        b = summarise_run(last["runs"][kind.name]["latency"])["p95_ms"]
        ta = summarise_run(first["runs"][kind.name]["throughput"])["p95_ms"]
        tb = summarise_run(last["runs"][kind.name]["throughput"])["p95_ms"]
        ra = summarise_run(first["runs"][kind.name]["throughput"])["rps"] / _healthz_rps(first)
        rb = summarise_run(last["runs"][kind.name]["throughput"])["rps"] / _healthz_rps(last)
        rows.append(
            [
                kind.label,
                f"{_ms(a)} → {_ms(b)} (**{_div(b, a):.2f}x**)",
                f"{_ms(ta)} → {_ms(tb)} ({_div(tb, ta):.2f}x)",
                f"{ra:.0%} → {rb:.0%}",
            ]
        )
        if kind.name in ("get", "list-mid", "list-last"):
            ok = _div(b, a) <= GET_TARGET_GROWTH
            verdicts.append(f"{kind.label} {_div(b, a):.2f}x ({'met' if ok else 'MISSED'})")
    lines += [
        f"\n## Growth from {first['label']} to {last['label']} (p95 ms)\n",
        benchlib.md_table(
            [
                "request",
                "1 connection p95",
                f"{cfg['connections']} connections p95",
                "req/s share of /healthz",
            ],
            rows,
        ),
    ]
    get_ok = all("MISSED" not in v for v in verdicts)
    search_p95 = {
        c["label"]: {
            k.name: summarise_run(c["runs"][k.name]["latency"])["p95_ms"]
            for k in KINDS
            if k.group == "search"
        }
        for c in single
    }
    worst = max(v for per in search_p95.values() for v in per.values())
    failed = {
        f"{c['label']}, {k.name}, {mode}": {
            st: n for st, n in c["runs"][k.name][mode]["statuses"].items() if st != "200"
        }
        for c in configs
        for k in KINDS
        if k.group == "search"
        for mode in ("latency", "throughput")
        if any(st != "200" for st in c["runs"][k.name][mode]["statuses"])
    }
    search_ok = worst < SEARCH_TARGET_MS and not failed
    lines += [
        "\n## Targets\n",
        f"* get-one and list-page p95 within {GET_TARGET_GROWTH}x from {_short(first['registrations'])} to "
        f"{_short(last['registrations'])} registrations (1 connection): **{'MET' if get_ok else 'MISSED'}**"
        f" — {'; '.join(verdicts)}.",
        f"* search p95 < {SEARCH_TARGET_MS:.0f} ms at {cfg['catalogue_size']:,} entries (1 connection, every "
        f"search kind, every 1-worker server, every answer 200): **{'MET' if search_ok else 'MISSED'}** — "
        f"worst p95 {worst:.1f} ms; non-200 search answers: {failed or 'none'}.",
    ]
    # Searches found.
    checks = configs[0]["checks"]
    found = []
    for name in ("search-meds", "search-products", "search-none", "search-quarter", "search-broad"):
        for item in checks[name]:
            share = item["total"] / cfg["catalogue_size"]
            found.append([f"`{item['path']}`", f"{item['total']:,}", f"{share:.1%}"])
    lines += [
        "\n## What the searches match\n",
        benchlib.md_table(["request", "total_elements", "share"], found),
    ]
    lines.append(
        f"\nList pages: reader has {data['reader_registrations']:,} registrations; mid page "
        f"{data['pages']['mid']}, last page {data['pages']['last']} (size {PAGE_SIZE}).\n"
    )
    # Memory, index, sizes.
    rows = []
    for c in configs:
        st, sz = c["startup"], c["db_sizes"]
        rows.append(
            [
                c["label"],
                f"{st['ready_s']:.1f} / {st['first_search_s']:.1f} / {st['all_workers_warm_s']:.1f}",
                ", ".join(f"{v:,.0f}" for v in st["worker_rss_mib_at_ready"]),
                ", ".join(f"{v:,.0f}" for v in st["worker_rss_mib_after_index"]),
                ", ".join(f"{v:,.0f}" for v in c["worker_rss_mib_at_end"]),
                ", ".join(f"{v:,.0f}" for v in c["worker_peak_rss_mib"]),
                _mib3(sz["pp_total"], sz["pp_heap"], sz["pp_indexes"]),
                _mib3(sz["cat_total"], sz["cat_heap"], sz["cat_indexes"]),
                f"{c['grow']['insert_s']:.0f} / {c['grow']['vacuum_analyze_s']:.0f}",
            ]
        )
    lines += [
        "\n## Start-up, memory and database size\n",
        benchlib.md_table(
            [
                "server",
                "ready / first search / all warm s",
                "RSS at ready MiB",
                "RSS index built",
                "RSS at end",
                "peak RSS",
                "provider_product MiB (heap + indexes)",
                "catalogue_product MiB",
                "insert / VACUUM ANALYZE s",
            ],
            rows,
        ),
        "\nRSS per worker process (one value per worker). 'first search' is when the first search was "
        "answered, i.e. when the index of the process that answered was built.\n",
    ]
    direct = data.get("index_direct", {})
    if "fetch_seconds" in direct:
        rss = direct["rss_mib"]
        lines.append(
            f"\nIndex built directly (bench/index_build.py, {direct['entries']:,} entries): reading the rows "
            f"{direct['fetch_seconds']:.1f} s, building the snapshot {direct['build_seconds_median']:.1f} s "
            f"(median of {', '.join(f'{s:.1f}' for s in direct['build_seconds'])}); "
            f"RSS {rss['before_fetch']:,.0f} MiB before, {rss['after_fetch']:,.0f} after reading, "
            f"{rss['after_build']:,.0f} after building, "
            f"{rss['index_only']:,.0f} with the rows dropped, peak {rss['peak']:,.0f}.\n"
        )
        lines.append(
            benchlib.md_table(
                ["in-process search", "matches", "cold ms", "repeated p50 / p95 ms", "last page ms"],
                [
                    [
                        s["search"],
                        f"{s['matches']:,}",
                        f"{s['cold_ms']:.1f}",
                        f"{s['warm_p50_ms']:.3f} / {s['warm_p95_ms']:.3f}",
                        f"{s['last_page_ms']:.1f}",
                    ]
                    for s in direct["searches"]
                ],
            )
        )
    lines.append(
        f"\nMachine: {m['cpus']} CPUs ({m['cpu']}), load average at start {m['loadavg_at_start'][0]:.2f}; "
        "wrk, the server, PostgreSQL and Redis share the machine. "
        f"Whole run {data.get('elapsed_s', 0) / 60:.1f} min.\n"
    )
    return "\n".join(lines)


def _div(a: float, b: float) -> float:
    """``a / b``, NaN when ``b`` is 0 (a run that got no answer in time reports 0 ms)."""
    return a / b if b else math.nan


def _mib3(total: int, heap: int, indexes: int) -> str:
    return f"{total / 2**20:,.0f} ({heap / 2**20:,.0f} + {indexes / 2**20:,.0f})"


def _healthz_rps(config: dict[str, Any]) -> float:
    """The /healthz baseline of one server: the mean of its first and last throughput runs."""
    runs = config["runs"]
    return float(runs["healthz"]["throughput"]["rps"] + runs["healthz-end"]["throughput"]["rps"]) / 2


# ------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run within the deadline, report, clean up."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--pg-url", default="postgresql://postgres@127.0.0.1:5432", help="server, no database"
    )
    parser.add_argument("--database", default="pp_bench_scale", help="database to create and drop")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/3", help="Redis database (flushed)")
    parser.add_argument("--catalogue-size", type=int, default=1_000_000)
    parser.add_argument("--providers", type=int, default=1_000)
    parser.add_argument("--per-provider", type=int, default=2_000, help="registrations per filled provider")
    parser.add_argument("--steps", default="10000,100000,1000000,2000000", help="registration counts")
    parser.add_argument(
        "--latency-seconds", type=int, default=5, help="wrk run over 1 connection (default 5)"
    )
    parser.add_argument("--throughput-seconds", type=int, default=6, help="wrk run over N connections (6)")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up seconds per request kind (default 2)")
    parser.add_argument("--connections", type=int, default=32, help="connections of throughput runs (32)")
    parser.add_argument("--register-chunk", type=int, default=20_000, help="fresh codes per register run")
    parser.add_argument("--no-workers2", dest="workers2", action="store_false", help="skip --workers 2")
    parser.add_argument("--max-minutes", type=float, default=40, help="hard stop for the whole run (40)")
    parser.add_argument("--seed", type=int, default=gen_catalogue.DEFAULT_SEED)
    parser.add_argument(
        "--live-src",
        dest="snapshot_src",
        action="store_false",
        help="run the live src/ tree instead of a copy taken at the start",
    )
    parser.add_argument("--keep-db", action="store_true", help="keep the database and Redis DB afterwards")
    parser.add_argument("--out-dir", type=Path, default=benchlib.OUT_DIR, help="where results go (bench/out)")
    args = parser.parse_args(argv)
    try:
        args.steps = [int(s) for s in args.steps.split(",") if s.strip()]
    except ValueError:
        parser.error("--steps must be comma-separated integers")
    if not args.steps or any(s % args.per_provider for s in args.steps) or args.steps != sorted(args.steps):
        parser.error("--steps must be increasing multiples of --per-provider")
    if args.steps[-1] > args.providers * args.per_provider:
        parser.error("the last step needs more than --providers x --per-provider registrations")
    if not args.database.replace("_", "").isalnum():
        parser.error("--database must be letters, digits and underscores")
    wrk = run_http.require_wrk()
    benchlib.exit_cleanly_on_sigterm()
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(args.max_minutes * 60))
    machine = benchlib.machine_info()
    work = Path(tempfile.mkdtemp(prefix="pp-bench-scale-"))
    bench = ScaleRun(args, wrk, work)
    status = 0
    try:
        bench.run()
    except Deadline:
        print(f"stopped: the run exceeded --max-minutes {args.max_minutes}", file=sys.stderr)
        bench.data["error"] = f"stopped after --max-minutes {args.max_minutes}"
        status = 3
    except Exception as exc:  # report what was measured before the failure, then fail
        traceback.print_exc()
        bench.data["error"] = f"{type(exc).__name__}: {exc}"
        status = 1
    finally:
        signal.alarm(0)
        bench.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    data = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": machine,
        **bench.data,
        "reader_registrations": getattr(bench, "reader_count", None),
        "pages": getattr(bench, "pages", None),
    }
    stamp_stem = "scale-pg" if status == 0 else "scale-pg-partial"
    if not bench.data["configs"]:
        json_path = args.out_dir / f"{stamp_stem}-failed.json"
        args.out_dir.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(data, indent=2, default=str) + "\n")
        print(f"no server was measured; raw data in {json_path}", file=sys.stderr)
        return status or 1
    try:
        markdown = render(data)
    except Exception:  # keep the raw numbers whatever happens to the tables
        traceback.print_exc()
        markdown = "# Production scale: rendering failed, see the JSON file\n"
        status = status or 1
    json_path, md_path = benchlib.write_results(stamp_stem, data, markdown, args.out_dir)
    print(markdown)
    print(f"results: {json_path} and {md_path}", file=sys.stderr)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
