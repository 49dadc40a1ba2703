"""The edge benchmark (issue 12): hot requests against trivial ones, list growth, round trips, loop stalls.

One command, both backends in one run (SQLite one worker; PostgreSQL + Redis two workers)::

    .venv/bin/python bench/edge.py            # the full run (about 20-30 minutes)
    .venv/bin/python bench/edge.py --quick    # a few minutes: smaller catalogue and sizes, short runs

Per backend, on a fresh database with a generated catalogue (bench/gen_catalogue.py):

* **hot**: wrk (1 thread, 32 connections) drives, in interleaved rounds whose order rotates, the
  service's ``/healthz`` ("trivial"), a bare FastAPI app's ``/healthz`` (bench/bare_app.py, the
  same uvicorn options and worker count; "bare"), GET one registration, the same GET answered by
  bench/floor_app.py (the same work with the bare drivers and no middleware; "floor"), register (POST, a fresh
  provider per round so that every answer is a 201), the list page (size 15, page 0) of a provider
  with 2,000 registrations, and two-word catalogue searches. Each is reported as the median over
  rounds of its req/s divided by the same round's trivial and bare req/s.
* **trips** (PostgreSQL only): one worker behind counting proxies (bench/harness/proxy.py) answers
  each hot request 200 times in a row; reported are the PostgreSQL round trips (and BEGIN/COMMIT)
  and Redis commands per request.
* **index**: a fresh server: time from process start to the first answered search (and what
  ``/readyz`` says then), resident memory per worker; then a probe per worker connection pings
  ``/healthz`` every 10 ms while ``catalogue import`` changes the catalogue, until a search sees
  the change; reported is the longest gap between two probe answers (the event-loop stall).
* **growth**: ``bench/list_growth.py``'s measurement (page 0 and last page, plain, by
  ``product_type`` and by ``query``, at 100 to 100,000 registrations), p95 growth over the 100 size.

Results go to bench/out/edge-*.json and .md. PostgreSQL uses its own databases (``pp_bench_edge``,
``pp_bench_list_growth``) and Redis db 12.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx

import gen_catalogue
import list_growth
from edge_report import HOT, WORKERS, render
from harness import BENCH_DIR, OUT_DIR, admin, api, lifecycle, stats, wrk
from harness.proxy import CountingProxy
from harness.results import machine_info, publish
from harness.server import Server, wait_for_index
from harness.stores import OwnDatabase

PRODUCTS = "/arc/v1/providers/products"
SEARCH = "/arc/v1/products"
READER_SIZE = 2_000
PROBE_EVERY_S = 0.010
PROBE_WORD = "zzedgeprobe"


def _bare_command(workers: int, app: str = "bare_app:app") -> list[str]:
    """uvicorn serving bench/bare_app.py (or ``app``) with the options ``provider-products serve`` uses."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--app-dir",
        str(BENCH_DIR),
        "--host",
        "{host}",
        "--port",
        "{port}",
        "--http",
        "httptools",
        "--loop",
        "uvloop",
        "--no-access-log",
        "--workers",
        str(workers),
    ]


class Setup:
    """One backend's prepared database: catalogue rows, clients, and the request files wrk reads."""

    def __init__(self, backend: str, env: dict[str, str], work: Path, args: argparse.Namespace) -> None:
        self.backend, self.env, self.work, self.args = backend, env, work, args
        self.catalogue = work / f"{backend}-catalogue.jsonl"
        gen_catalogue.write(self.catalogue, args.catalogue_size, args.seed)
        self.rows = list(gen_catalogue.rows(args.catalogue_size, args.seed))
        active = [r["product_code"] for r in self.rows if r["status"] == "ACTIVE"]
        random.Random(args.seed).shuffle(active)
        self.active = active
        admin.run_cli(["db", "upgrade"], env, timeout=300)
        admin.import_catalogue(env, self.catalogue, timeout=1800)
        self.reader = admin.create_client(env, "bench-edge-reader")
        self.writers = [admin.create_client(env, f"bench-edge-writer-{i}") for i in range(args.rounds + 2)]
        self.files: dict[str, Path] = {}
        self._write("get", active[:READER_SIZE])
        # Two servers (the code measured and a baseline) register disjoint codes for their providers.
        rest = active[READER_SIZE:]
        self._write("register", rest[: len(rest) // 2])
        self._write("register" + "before:", rest[len(rest) // 2 :])
        self._write("list", [f"{PRODUCTS}?{urlencode({'size': 15, 'page': 0})}"])
        rng = random.Random(args.seed + 1)
        names = [r["name"] for r in self.rows if r["status"] == "ACTIVE" and len(r["name"].split()) >= 2]
        queries = [" ".join(n.split()[:2]) for n in rng.sample(names, 50)]
        self._write("search", [f"{SEARCH}?query={quote(q)}" for q in queries])
        self.search_params = {"query": queries[0]}

    def _write(self, name: str, lines: list[str]) -> None:
        path = self.work / f"{self.backend}-{name.replace(':', '-')}.txt"
        path.write_text("\n".join(lines) + "\n")
        self.files[name] = path


def _check(base_url: str, token: str, setup: Setup) -> None:
    """Fail early if a measured request would not be answered 200."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        for name in ("list", "search"):
            path = setup.files[name].read_text().splitlines()[0]
            if client.get(path).status_code != 200:
                raise RuntimeError(f"{path} does not answer 200")
        if client.get(f"{PRODUCTS}/{setup.active[0]}").status_code != 200:
            raise RuntimeError("GET one registration does not answer 200")


def _prepare_server(server: Server, setup: Setup, register: bool) -> str:
    """Wait for ``server``'s search index, register the reader's 2,000 codes if asked; return its token."""
    token = api.get_token(server.base_url, setup.reader)
    wait_for_index(server, token, WORKERS[setup.backend], 900, SEARCH, setup.search_params)
    if register:
        with httpx.Client(base_url=server.base_url, timeout=120) as http:
            codes = setup.active[:READER_SIZE]
            for start in range(0, len(codes), 500):
                api.register_batch(http, token, codes[start : start + 500])
    _check(server.base_url, token, setup)
    return token


def _hot_names(baseline: bool, floor: bool) -> tuple[str, ...]:
    """The measured targets: the hot requests (the floor app's if asked), and with a baseline the same
    again on its server."""
    names = HOT if floor else tuple(n for n in HOT if n != "floor")
    return names + tuple(f"before:{n}" for n in HOT if n not in ("bare", "floor")) if baseline else names


def _hot(setup: Setup, wrk_path: str) -> dict[str, Any]:
    """Interleaved rounds of the hot requests against the service, the bare app (and the baseline)."""
    args, workers = setup.args, WORKERS[setup.backend]
    extra = ["--workers", str(workers)]
    # On PostgreSQL the service's and the baseline's pools (up to 25 connections a worker) and the
    # floor app's would pass PostgreSQL's 100 connections, and every server answer 503: a run with a
    # baseline measures the floor on SQLite only.
    with_floor = args.baseline_src is None or setup.backend == "sqlite"
    names = _hot_names(args.baseline_src is not None, with_floor)
    runs: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(Server(setup.env, setup.work / "hot.log", 300, extra))
        bare = stack.enter_context(Server(setup.env, setup.work / "bare.log", command=_bare_command(workers)))
        floor = (
            stack.enter_context(
                Server(setup.env, setup.work / "floor.log", command=_bare_command(workers, "floor_app:app"))
            )
            if with_floor
            else None
        )
        servers = {"": server}
        if args.baseline_src is not None:
            env = {**setup.env, "PYTHONPATH": str(args.baseline_src.resolve())}
            servers["before:"] = stack.enter_context(Server(env, setup.work / "before.log", 300, extra))
        tokens = {k: _prepare_server(srv, setup, register=k == "") for k, srv in servers.items()}
        writers = {k: [api.get_token(srv.base_url, w) for w in setup.writers] for k, srv in servers.items()}

        def run(name: str, seconds: int, writer: int) -> dict[str, Any]:
            prefix, _, kind = name.rpartition(":")
            prefix = f"{prefix}:" if prefix else ""
            token = tokens[prefix]
            mode, tok, file = {
                "trivial": ("healthz", None, None),
                "bare": ("healthz", None, None),
                "get": ("get", token, setup.files["get"]),
                "floor": ("get", token, setup.files["get"]),
                # each server registers for its own providers: every answer is a 201
                "register": ("register", writers[prefix][writer], setup.files[f"register{prefix}"]),
                "list": ("paths", token, setup.files["list"]),
                "search": ("paths", token, setup.files["search"]),
            }[kind]
            target = {"bare": bare, "floor": floor}.get(kind) or servers[prefix]
            result, cpu, wall = wrk.run_wrk_on(
                target,
                wrk_path,
                mode,
                token=tok,
                codes_file=file,
                duration=seconds,
                connections=args.connections,
            )
            result["cpu_ms_per_request"] = 1000 * cpu / max(result["requests"], 1)
            result["wall_s"] = wall
            return result

        for name in names:  # warm-up: connections, caches, prepared statements
            run(name, 1, 0)
        for r in range(args.rounds):
            shift = (r * len(names)) // args.rounds
            for name in names[shift:] + names[:shift]:
                result = run(name, args.duration, r + 1)
                result.update(round=r, target=name)
                runs.append(result)
                print(
                    f"{setup.backend} round {r + 1} {name:16s} {result['rps']:8,.0f} req/s "
                    f"p95 {result['latency_us']['p95'] / 1000:6.1f} ms {result['statuses']}",
                    file=sys.stderr,
                )
    return {"runs": runs, "summary": _summarise_hot(runs, args.rounds, names)}


def _summarise_hot(runs: list[dict[str, Any]], rounds: int, names: tuple[str, ...]) -> dict[str, Any]:
    by = {(run["round"], run["target"]): run for run in runs}
    out: dict[str, Any] = {}
    for name in names:
        trivial = "before:trivial" if name.startswith("before:") else "trivial"
        mine = [by[(r, name)] for r in range(rounds)]
        statuses: dict[str, int] = {}
        for m in mine:
            for status, n in m["statuses"].items():
                statuses[status] = statuses.get(status, 0) + n
        out[name] = {
            "rps": [m["rps"] for m in mine],
            "median_rps": stats.median([m["rps"] for m in mine]),
            "of_trivial": stats.median(
                [stats.ratio(by[(r, name)]["rps"], by[(r, trivial)]["rps"]) for r in range(rounds)]
            ),
            "of_bare": stats.median(
                [stats.ratio(by[(r, name)]["rps"], by[(r, "bare")]["rps"]) for r in range(rounds)]
            ),
            "of_floor": stats.median(
                [stats.ratio(by[(r, name)]["rps"], by[(r, "floor")]["rps"]) for r in range(rounds)]
            )
            if "floor" in names
            else float("nan"),
            "median_p50_ms": stats.median([m["latency_us"]["p50"] / 1000 for m in mine]),
            "median_p95_ms": stats.median([m["latency_us"]["p95"] / 1000 for m in mine]),
            "median_cpu_ms": stats.median([m["cpu_ms_per_request"] for m in mine]),
            "statuses": statuses,
            "socket_errors": sum(wrk.socket_errors(m) for m in mine),
        }
    return out


def _trips(setup: Setup, pg_host: str, pg_port: int, redis_host: str, redis_port: int) -> dict[str, Any]:
    """Round trips to PostgreSQL and Redis per hot request, through counting proxies (one worker)."""
    pg = CountingProxy(pg_host, pg_port, "postgresql")
    rd = CountingProxy(redis_host, redis_port, "redis")
    env = dict(setup.env)
    database = env["PROVIDER_PRODUCTS_DATABASE_URL"].rsplit("/", 1)[1]
    redis_db = env["PROVIDER_PRODUCTS_REDIS_URL"].rsplit("/", 1)[1]
    env["PROVIDER_PRODUCTS_DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:{pg.port}/{database}"
    env["PROVIDER_PRODUCTS_REDIS_URL"] = f"redis://127.0.0.1:{rd.port}/{redis_db}"
    out: dict[str, Any] = {}
    n = 200
    try:
        with Server(env, setup.work / "trips.log", ready_timeout=300) as server:
            token = api.get_token(server.base_url, setup.reader)
            wait_for_index(server, token, 1, 900, SEARCH, setup.search_params)
            writer = api.get_token(server.base_url, setup.writers[-1])
            fresh = setup.active[-n:]
            auth = {"Authorization": f"Bearer {token}"}
            requests: dict[str, Any] = {
                "trivial": lambda c, i: c.get("/healthz"),
                "get": lambda c, i: c.get(f"{PRODUCTS}/{setup.active[i % READER_SIZE]}", headers=auth),
                "register": lambda c, i: c.post(
                    PRODUCTS, json={"product_code": fresh[i]}, headers={"Authorization": f"Bearer {writer}"}
                ),
                "list": lambda c, i: c.get(setup.files["list"].read_text().split()[0], headers=auth),
                "search": lambda c, i: c.get(SEARCH, params=setup.search_params, headers=auth),
            }
            with httpx.Client(base_url=server.base_url, timeout=30) as client:
                for name, send in requests.items():
                    if name != "register":  # warm: the statement is prepared on this connection
                        send(client, 0).raise_for_status()
                    before_pg, before_rd = pg.counts(), rd.counts()
                    statuses: dict[int, int] = {}
                    for i in range(n):
                        status = send(client, i).status_code
                        statuses[status] = statuses.get(status, 0) + 1
                    time.sleep(0.2)  # let the proxies see the last bytes
                    pg_delta, rd_delta = pg.counts() - before_pg, rd.counts() - before_rd
                    out[name] = {
                        "statuses": statuses,
                        "postgres_per_request": sum(pg_delta.values()) / n,
                        "postgres_by_kind": {k: v / n for k, v in pg_delta.items()},
                        "redis_per_request": sum(rd_delta.values()) / n,
                        "redis_by_command": {k: v / n for k, v in rd_delta.items()},
                    }
                    print(f"trips {name}: {out[name]}", file=sys.stderr)
    finally:
        pg.stop()
        rd.stop()
    return out


class _Probe(threading.Thread):
    """Ping ``/healthz`` every 10 ms on one connection; keep the gaps between consecutive answers."""

    def __init__(self, base_url: str) -> None:
        super().__init__(daemon=True)
        self.base_url = base_url
        self.stop_event = threading.Event()
        self.gaps: list[float] = []
        self.failures = 0

    def run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            last = time.perf_counter()
            while not self.stop_event.is_set():
                sent = time.perf_counter()
                try:
                    client.get("/healthz").raise_for_status()
                except httpx.HTTPError:
                    self.failures += 1
                now = time.perf_counter()
                self.gaps.append(now - last)
                last = now
                pause = PROBE_EVERY_S - (now - sent)
                if pause > 0:
                    time.sleep(pause)
                    last = time.perf_counter()  # a gap counts from the moment the next ping is due


def _changed_catalogue(setup: Setup) -> Path:
    """A copy of the catalogue with one word added to 1% of the names (a new revision to index)."""
    path = setup.work / f"{setup.backend}-catalogue-changed.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for i, row in enumerate(setup.rows):
            if i % 100 == 0:
                row = {**row, "name": f"{row['name']} {PROBE_WORD}"}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def _index(setup: Setup) -> dict[str, Any]:
    """Time to first search, RSS per worker, and the longest loop stall while an import is indexed."""
    workers = WORKERS[setup.backend]
    changed = _changed_catalogue(setup)
    with Server(
        setup.env, setup.work / f"{setup.backend}-index.log", 300, ["--workers", str(workers)]
    ) as server:
        token = api.get_token(server.base_url, setup.reader)
        start = wait_for_index(server, token, workers, 900, SEARCH, setup.search_params)
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            ready = client.get("/readyz")
            start["readyz"] = {"status": ready.status_code, "body": ready.json()}
        probes = [_Probe(server.base_url) for _ in range(2 * workers)]
        for probe in probes:
            probe.start()
        time.sleep(1)
        began = time.perf_counter()
        import_s = admin.import_catalogue(setup.env, changed, timeout=1800)
        seen_s = _wait_for_word(server.base_url, token, began, 900)
        time.sleep(2)
        for probe in probes:
            probe.stop_event.set()
        for probe in probes:
            probe.join(timeout=30)
        gaps = [g for p in probes for g in p.gaps]
        return {
            **start,
            "worker_rss_mib_after_reindex": server.worker_rss_mib(),
            "worker_peak_rss_mib": server.worker_peak_rss_mib(),
            "import_s": import_s,
            "change_searchable_after_s": seen_s,
            "probe_answers": len(gaps),
            "probe_failures": sum(p.failures for p in probes),
            "longest_gap_ms": 1000 * max(gaps, default=float("nan")),
            "p99_gap_ms": 1000 * stats.percentile(gaps, 99),
            "gaps_over_50ms": sum(1 for g in gaps if g > 0.050),
        }


def _wait_for_word(base_url: str, token: str, began: float, limit_s: float) -> float:
    """Search for the probe word until every worker finds it; return seconds since ``began``."""
    deadline = time.monotonic() + limit_s
    headers = {"Authorization": f"Bearer {token}"}
    found_in_a_row = 0
    while found_in_a_row < 8:
        if time.monotonic() > deadline:
            raise RuntimeError("the changed catalogue never became searchable")
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as fresh:  # any worker
            response = fresh.get(SEARCH, params={"query": PROBE_WORD})
        total = response.json()["page"]["total_elements"] if response.status_code == 200 else 0
        found_in_a_row = found_in_a_row + 1 if total > 0 else 0
        time.sleep(0.1)
    return time.perf_counter() - began


def _growth(backend: str, env: dict[str, str], work: Path, args: argparse.Namespace, wrk_path: str) -> Any:
    """bench/list_growth.py's measurement for one backend."""
    ns = argparse.Namespace(
        duration=args.growth_duration,
        rounds=args.growth_rounds,
        connections=args.connections,
        catalogue_size=max(args.catalogue_size, int(max(args.growth_sizes) * 1.2)),
        sizes=args.growth_sizes,
        query_max_size=args.query_max_size,
        seed=args.seed,
    )
    return list_growth._measure_backend(backend, env, work, ns, wrk_path)


def _use_src(env: dict[str, str], args: argparse.Namespace) -> dict[str, str]:
    """Make the servers and the admin CLI run ``--src`` (another version of the code) when given."""
    if args.src is not None:
        env["PYTHONPATH"] = str(args.src.resolve())
    return env


def _backend(backend: str, args: argparse.Namespace, work: Path, wrk_path: str) -> dict[str, Any]:
    """Every section for one backend, each on its own database where it needs one."""
    out: dict[str, Any] = {}
    own = OwnDatabase(args.pg_url, "pp_bench_edge", args.redis_url)
    try:
        if backend == "sqlite":
            env = admin.sqlite_env(work / "edge.db")
        else:
            own.create()
            env = admin.postgres_env(own.url, args.redis_url)
        _use_src(env, args)
        if {"hot", "trips", "index"} & set(args.sections):
            setup = Setup(backend, env, work, args)
            if "hot" in args.sections:
                out["hot"] = _hot(setup, wrk_path)
            if "trips" in args.sections and backend == "postgresql":
                pg, rd = urlsplit(args.pg_url), urlsplit(args.redis_url)
                out["trips"] = _trips(
                    setup,
                    pg.hostname or "127.0.0.1",
                    pg.port or 5432,
                    rd.hostname or "127.0.0.1",
                    rd.port or 6379,
                )
            if "index" in args.sections:
                out["index"] = _index(setup)
    finally:
        own.drop(args.keep)
    if "growth" in args.sections:
        if backend == "sqlite":
            env = _use_src(admin.sqlite_env(work / "growth.db"), args)
            out["growth"] = _growth(backend, env, work, args, wrk_path)
        else:
            grow = OwnDatabase(args.pg_url, "pp_bench_list_growth", args.redis_url)
            grow.create()
            try:
                env = _use_src(admin.postgres_env(grow.url, args.redis_url), args)
                out["growth"] = _growth(backend, env, work, args, wrk_path)
            finally:
                grow.drop(args.keep)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run every section on both backends, report, clean up."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few minutes: 20k catalogue, sizes to 10,000")
    parser.add_argument("--duration", type=int, help="seconds per wrk run (default 5; quick 2)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5; quick 3)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--catalogue-size", type=int, help="entries (default 120,000; quick 20,000)")
    parser.add_argument("--growth-sizes", type=int, nargs="+", help="default 100 2000 10000 100000")
    parser.add_argument("--growth-duration", type=int, default=2, help="seconds per growth run (default 2)")
    parser.add_argument("--growth-rounds", type=int, default=3)
    parser.add_argument("--query-max-size", type=int, default=2_000, help="see list_growth.py")
    parser.add_argument(
        "--sections",
        nargs="+",
        default=["hot", "trips", "index", "growth"],
        choices=["hot", "trips", "index", "growth"],
    )
    parser.add_argument("--seed", type=int, default=gen_catalogue.DEFAULT_SEED)
    parser.add_argument("--no-postgres", dest="postgres", action="store_false")
    parser.add_argument("--no-sqlite", dest="sqlite", action="store_false")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    parser.add_argument(
        "--src",
        type=Path,
        help="measure this copy of src/ instead (e.g. `git archive main src | tar -x -C /tmp/main`, "
        "then --src /tmp/main/src): a before/after comparison with the same command",
    )
    parser.add_argument(
        "--baseline-src",
        type=Path,
        help="also run this copy of src/ (e.g. main's) as a third server in the same interleaved rounds "
        "of the hot section: a before/after comparison under the same machine load",
    )
    parser.add_argument("--stem", default="edge", help="results file name stem (default edge)")
    args = parser.parse_args(argv)
    if args.redis_url.endswith("/15"):
        parser.error("Redis db 15 belongs to the test suites; use another one")
    args.duration = args.duration or (2 if args.quick else 5)
    args.rounds = args.rounds or (3 if args.quick else 5)
    args.catalogue_size = args.catalogue_size or (20_000 if args.quick else 120_000)
    args.growth_sizes = args.growth_sizes or ([100, 10_000] if args.quick else [100, 2_000, 10_000, 100_000])
    wrk_path = wrk.require_wrk()
    lifecycle.exit_cleanly_on_sigterm()
    backends: dict[str, Any] = {}
    chosen = [b for b, on in (("sqlite", args.sqlite), ("postgresql", args.postgres)) if on]
    with lifecycle.workdir("pp-bench-edge-", args.keep) as work:
        for backend in chosen:
            try:
                backends[backend] = _backend(backend, args, work, wrk_path)
            except Exception as exc:  # report the other backend and what was measured
                import traceback

                traceback.print_exc()
                backends[backend] = {"error": f"{type(exc).__name__}: {exc}"}
    data = {
        "config": {
            "command": " ".join(["bench/edge.py", *(argv if argv is not None else sys.argv[1:])]),
            **{
                k: getattr(args, k)
                for k in (
                    "quick",
                    "duration",
                    "rounds",
                    "connections",
                    "catalogue_size",
                    "growth_sizes",
                    "sections",
                )
            },
        },
        "machine": machine_info(),
        "backends": backends,
    }
    data["config"]["src"] = str(args.src) if args.src else "src/ (this worktree)"
    data["config"]["baseline_src"] = str(args.baseline_src) if args.baseline_src else None
    publish(args.stem, data, render(data), args.out_dir)
    return 1 if any("error" in b for b in backends.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
