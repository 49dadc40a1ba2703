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
import json
import math
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

import gen_catalogue
from harness import BENCH_DIR, OUT_DIR, admin, api, lifecycle, wrk
from harness.results import machine_info
from harness.server import Server, wait_for_index
from harness.stores import OwnDatabase, db_sizes, flush_redis, pg_settings, scalar, sql
from scale_pg_report import (
    BROAD_QUERY,
    KINDS,
    LIST,
    MEDS,
    MEDS_QUERIES,
    NO_MATCH_QUERY,
    PAGE_SIZE,
    PRODUCTS,
    PRODUCTS_QUERIES,
    QUARTER_QUERY,
    Config,
    Kind,
    summarise_run,
    write_report,
)

PRIMES = (104_729, 1_299_709, 15_485_863)  # strides for distinct products per provider


# -------------------------------------------------------------------------------------- the run


class ScaleRun:
    """Everything one benchmark run needs; ``run()`` does it, ``cleanup()`` undoes it."""

    def __init__(self, args: argparse.Namespace, wrk_path: str, work: Path) -> None:
        self.args = args
        self.wrk = wrk_path
        self.work = work
        self.database = OwnDatabase(args.pg_url, args.database, args.redis_url)
        self.url = self.database.url
        self.env = admin.postgres_env(self.url, args.redis_url)
        self.data: dict[str, Any] = {"configs": [], "build": {}}
        if args.snapshot_src:
            self.data["src_sha256"] = admin.snapshot_src(work, self.env)
        self.server: Server | None = None
        self.register_chunks: list[Path] = []
        self.files: dict[str, Path] = {}
        self.tokens: dict[str, str] = {}
        self.provider_ids: dict[str, int] = {}
        self.chunk_cursor = 0

    def log(self, message: str) -> None:
        """Progress on stderr, with the elapsed time."""
        print(f"[{time.perf_counter() - self.t0:6.0f} s] {message}", file=sys.stderr, flush=True)

    def cli(self, *args: str, timeout: float = 300) -> str:
        """Run the admin CLI against the benchmark database."""
        return admin.run_cli(list(args), self.env, timeout=timeout)

    # ---- build

    def prepare(self) -> None:
        """Database, schema, catalogue, providers, clients."""
        args, build = self.args, self.data["build"]
        self.database.create()
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
        self.creds = {
            role: admin.add_client(self.env, slug)
            for role, slug in (("reader", "bench-p0001"), ("writer", "bench-p0002"))
        }
        self.index_direct()

    def index_direct(self) -> None:
        """Time the snapshot build at full catalogue size directly (bench/index_build.py, own process)."""
        self.log("timing the search index build directly (bench/index_build.py)...")
        out_dir = self.work / "index"
        done = subprocess.run(
            [
                sys.executable,
                str(BENCH_DIR / "index_build.py"),
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
        server = Server(self.env, log_path, ready_timeout=120, extra_args=extra)
        self.server = server
        try:
            server.start()
            if not self.tokens:
                for role, cred in self.creds.items():
                    self.tokens[role] = api.get_token(server.base_url, cred)
            result["startup"] = wait_for_index(
                server, self.tokens["reader"], config.workers, 300, PRODUCTS, {"query": PRODUCTS_QUERIES[0]}
            )
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
                return wrk.run_wrk_on_stack(
                    server,
                    self.wrk,
                    kind.mode,
                    self.url,
                    token=token,
                    codes_file=file,
                    duration=seconds,
                    connections=connections,
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
        flush_redis(args.redis_url)
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
        """Stop the server if one runs; drop the database and flush the Redis DB unless --keep-db."""
        if self.server is not None:
            self.server.stop()
        self.database.drop(keep=self.args.keep_db)


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
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR, help="where results go (bench/out)")
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
    wrk_path = wrk.require_wrk()
    lifecycle.exit_cleanly_on_sigterm()
    machine = machine_info()
    with lifecycle.workdir("pp-bench-scale-") as work:
        bench = ScaleRun(args, wrk_path, work)
        status = lifecycle.run_bounded(
            bench.run,
            bench.data,
            seconds=args.max_minutes * 60,
            stopped=f"the run exceeded --max-minutes {args.max_minutes}",
            error=f"stopped after --max-minutes {args.max_minutes}",
            failure_status=1,
            cleanup=bench.cleanup,
        )
    data = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": machine,
        **bench.data,
        "reader_registrations": getattr(bench, "reader_count", None),
        "pages": getattr(bench, "pages", None),
    }
    return write_report(data, status, args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())
