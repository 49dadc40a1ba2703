"""The shared search snapshot at scale: memory per worker, time to first search, loop stalls, search p95.

One command, both backends in one run (issue 12 point 2)::

    .venv/bin/python bench/search_index.py --size 1000000            # SQLite 1 worker, PostgreSQL 2 workers
    .venv/bin/python bench/search_index.py --size 120000 --synonyms 1.5 --no-server   # in-process only

Per backend, on a fresh database holding a generated catalogue (``gen_catalogue.py``; with
``--synonyms`` the mean number of synonyms per entry):

1. **Cold start**: a server starts on a database without any snapshot; reported: seconds from the
   process start to the first search answered (a worker claims the build, the builder child reads
   and indexes the rows and stores the snapshot, every worker loads it), and each worker's RSS.
2. **Warm start**: the server is restarted; the snapshot exists; the same figures (a load only).
3. **Import**: four probe connections ping ``/healthz`` every 10 ms while a one-row
   ``catalogue import`` bumps the revision and the workers load the new snapshot (one builds it
   in a child process first); reported: the longest ``/healthz`` answer (event-loop stall plus
   scheduling on the shared cores), the probes' p50, and when the new revision was served
   (``/readyz``'s ``search_index.revision``). The same probes run at the same time against a bare
   FastAPI app (``bare_app.py``, same uvicorn options and worker count), whose loop does nothing
   else: what it sees is the machine's noise, not the service's loop.
4. **Searches over HTTP**, sequential, one connection: p50 / p95 of two-word, no-match, broad and
   type-ahead searches (and synonym searches when the catalogue has synonyms).

In-process (``--no-server`` for this part only): the same rows indexed by this version's
``Snapshot`` and by the one of ``--baseline-ref`` (by default ``main``), in this process: build
time, serialised size, load time, warm search latency of each and whether their results are
identical (ids, totals, matched synonyms; first and last pages). Results go to bench/out/search-index-*.

The catalogue is put in place by ``harness/catalogue_load.py`` (``COPY`` on PostgreSQL), timed
apart from what is measured; the load average is recorded before and after each part.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

import edge
import gen_catalogue
from harness import BENCH_DIR, OUT_DIR, admin, api, catalogue_load, lifecycle, stats
from harness.results import machine_info, md_table, publish, write_results
from harness.server import Server
from harness.stores import OwnDatabase

PRODUCTS = "/arc/v1/products"
# (label, query, product_type): what people send; the synonym ones only with --synonyms.
SEARCHES: list[tuple[str, str, str | None]] = [
    ("two-word: acetaminofen 500 (medications)", "acetaminofen 500", "MEDICATION"),
    ("two-word: resonancia magnetica", "resonancia magnetica", None),
    ("no-match: xilofono cuantico", "xilofono cuantico", None),
    ("broad: tableta mg", "tableta mg", None),
    ("type-ahead: med s", "med s", None),
]
SYNONYM_SEARCHES: list[tuple[str, str, str | None]] = [
    ("synonym: dolex", "dolex", None),
    ("synonym + own word: dolex 500", "dolex 500", None),
    ("synonym type-ahead: ma", "ma", None),
]
PROBE_CONNECTIONS = 4
PROBE_INTERVAL_S = 0.010
STALL_REPORT_MS = 50  # the target: no stall over 50 ms during an import


def _searches(synonyms: float) -> list[tuple[str, str, str | None]]:
    return SEARCHES + (SYNONYM_SEARCHES if synonyms else [])


# --- in-process: this version's snapshot against the baseline's -------------------------------


def _baseline_module(ref: str) -> ModuleType:
    """The ``catalogue/index.py`` of git revision ``ref``, imported as a module of its own."""
    source = subprocess.run(
        ["git", "show", f"{ref}:src/provider_products/catalogue/index.py"],
        cwd=BENCH_DIR.parent,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    spec = importlib.util.spec_from_loader("baseline_index", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["baseline_index"] = module  # dataclasses look their module up
    exec(compile(source, f"{ref}:catalogue/index.py", "exec"), module.__dict__)  # noqa: S102
    return module


async def _read_rows(url: str) -> tuple[int, list[Any]]:
    from provider_products.catalogue import repository
    from provider_products.db.engine import Database

    database = Database(url)
    try:
        async with database.transaction() as conn:
            return await repository.revision(conn), await repository.index_rows(conn)
    finally:
        await database.dispose()


def _timed(snapshot: Any, words: list[str], kind: str | None, rounds: int) -> tuple[Any, Any, list[float]]:
    kwargs: dict[str, Any] = {"product_type": kind, "code_key": " ".join(words).upper(), "limit": 15}
    first = snapshot.search(words, offset=0, **kwargs)
    last = snapshot.search(words, offset=max(0, (first.total - 1) // 15) * 15, **kwargs)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        snapshot.search(words, offset=0, **kwargs)
        times.append((time.perf_counter() - started) * 1000)
    return first, last, times


def _same(a: Any, b: Any) -> bool:
    return bool((a.ids, a.total, a.synonym_of) == (b.ids, b.total, b.synonym_of))


def in_process(url: str, synonyms: float, baseline_ref: str, rounds: int) -> dict[str, Any]:
    """Build both snapshots from the same rows; time builds, load and searches; compare the results."""
    from provider_products.catalogue import text
    from provider_products.catalogue.index import Snapshot

    revision, rows = asyncio.run(_read_rows(url))
    baseline = _baseline_module(baseline_ref)
    started = time.perf_counter()
    old = baseline.Snapshot(revision, rows)
    old_build = time.perf_counter() - started
    started = time.perf_counter()
    new = Snapshot.build(revision, rows)
    new_build = time.perf_counter() - started
    started = time.perf_counter()
    loaded = Snapshot(bytes(new.data))
    load = time.perf_counter() - started
    searches = []
    for label, query, kind in _searches(synonyms):
        words = text.words(query)
        old_first, old_last, old_times = _timed(old, words, kind, rounds)
        new_first, new_last, new_times = _timed(loaded, words, kind, rounds)
        searches.append(
            {
                "search": label,
                "matches": new_first.total,
                "identical": _same(old_first, new_first) and _same(old_last, new_last),
                "baseline_p50_ms": stats.median(old_times),
                "baseline_p95_ms": stats.percentile(old_times, 95),
                "p50_ms": stats.median(new_times),
                "p95_ms": stats.percentile(new_times, 95),
            }
        )
    return {
        "entries": len(rows),
        "synonyms": sum(len(r.synonyms or ()) for r in rows),
        "baseline_ref": baseline_ref,
        "baseline_build_s": old_build,
        "build_s": new_build,
        "serialised_mib": len(new.data) / 2**20,
        "load_s": load,
        "searches": searches,
    }


# --- servers -----------------------------------------------------------------------------------


def _first_search(server: Server, token: str, limit_s: float) -> float:
    """Seconds from the server's start to the first search answered 200 on each of 8 fresh connections."""
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + limit_s
    answered = 0
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=limit_s) as client:
        while time.monotonic() < deadline:
            response = client.get(PRODUCTS, params={"query": "losartan 50"})
            if response.status_code == 200:
                break
            time.sleep(0.05)
    first = time.perf_counter() - server.spawned_at
    # With several workers a fresh connection may land on any one: wait until all answer at once.
    while time.monotonic() < deadline and answered < 8:
        with httpx.Client(base_url=server.base_url, timeout=2) as fresh:
            ready = fresh.get("/readyz")
        answered = answered + 1 if ready.status_code == 200 else 0
    return first


def _probe(base_url: str, stop: threading.Event, out: list[tuple[float, float]], errors: list[str]) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                client.get("/healthz").raise_for_status()
            except httpx.HTTPError as exc:
                errors.append(repr(exc))
            out.append((started, time.perf_counter() - started))
            time.sleep(PROBE_INTERVAL_S)


def _served_revision(base_url: str) -> set[int | None]:
    """The revisions the workers serve, as several fresh connections see them."""
    seen = set()
    for _ in range(8):
        with httpx.Client(base_url=base_url, timeout=5) as fresh:
            seen.add(fresh.get("/readyz").json()["search_index"]["revision"])
    return seen


def _probe_summary(durations: list[float]) -> dict[str, Any]:
    return {
        "probes": len(durations),
        "probe_p50_ms": stats.median(durations),
        "probe_p99_ms": stats.percentile(durations, 99),
        "longest_ms": max(durations, default=math.nan),
        "over_50_ms": sum(1 for d in durations if d > 50),
    }


def _import_under_probe(
    server: Server, bare: Server, env: dict[str, str], one_row: Path, limit_s: float
) -> dict[str, Any]:
    """Ping /healthz every 10 ms on several connections, to the service and to a bare app, while a
    one-row import is picked up."""
    before = max(r for r in _served_revision(server.base_url) if r is not None)
    targets = [server.base_url] * PROBE_CONNECTIONS + [bare.base_url] * PROBE_CONNECTIONS
    samples: list[list[tuple[float, float]]] = [[] for _ in targets]
    stop = threading.Event()
    errors: list[str] = []
    threads = [
        threading.Thread(target=_probe, args=(url, stop, s, errors))
        for url, s in zip(targets, samples, strict=True)
    ]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    load_before = os.getloadavg()
    started = time.perf_counter()
    try:
        # As ``catalogue import`` does it, in a process of its own, without the command's 15-s statement
        # timeout (which a million stored rows exceed on PostgreSQL on a loaded machine).
        subprocess.run(
            [
                sys.executable,
                str(BENCH_DIR / "harness" / "catalogue_load.py"),
                "import",
                env["PROVIDER_PRODUCTS_DATABASE_URL"],
                str(one_row),
            ],
            env=env,
            check=True,
            timeout=900,
        )
    finally:
        imported = time.perf_counter() - started
        if sys.exc_info()[0] is not None:
            stop.set()
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and _served_revision(server.base_url) != {before + 1}:
        time.sleep(0.1)
    served = time.perf_counter() - started
    time.sleep(1.0)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)

    def durations(which: list[list[tuple[float, float]]]) -> list[float]:
        return [d * 1000 for s in which for t, d in s if t >= started]

    return {
        "import_s": imported,
        "new_revision_served_s": served,
        "probe_errors": errors[:10],
        **_probe_summary(durations(samples[:PROBE_CONNECTIONS])),
        "bare": _probe_summary(durations(samples[PROBE_CONNECTIONS:])),
        "loadavg_before_after": [list(load_before), list(os.getloadavg())],
    }


def _http_searches(server: Server, token: str, synonyms: float, rounds: int) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"}
    found = []
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
        for label, query, kind in _searches(synonyms):
            params = {"query": query, **({"product_type": kind} if kind else {})}
            total = client.get(PRODUCTS, params=params).json()["page"]["total_elements"]
            times = []
            for _ in range(rounds):
                started = time.perf_counter()
                client.get(PRODUCTS, params=params).raise_for_status()
                times.append((time.perf_counter() - started) * 1000)
            found.append(
                {
                    "search": label,
                    "matches": total,
                    "p50_ms": stats.median(times),
                    "p95_ms": stats.percentile(times, 95),
                }
            )
    return found


def _start(
    env: dict[str, str], work: Path, name: str, workers: int, token_of: Any, limit_s: float
) -> dict[str, Any]:
    with Server(
        env, work / f"{name}.log", ready_timeout=120, extra_args=["--workers", str(workers)]
    ) as server:
        first = _first_search(server, token_of(server), limit_s)
        return {
            "healthz_s": server.ready_at - server.spawned_at,
            "first_search_s": first,
            "worker_rss_mib": server.worker_rss_mib(),
            "worker_peak_rss_mib": server.worker_peak_rss_mib(),
        }


def servers(env: dict[str, str], work: Path, args: argparse.Namespace, workers: int) -> dict[str, Any]:
    """Cold start, warm start, an import under the probe, HTTP searches: one backend."""
    # Each worker logs where its loop was held longer than the target (provider_products.stallwatch).
    env = {**env, "PROVIDER_PRODUCTS_LOOP_STALL_REPORT_MS": str(STALL_REPORT_MS)}
    credentials = admin.create_client(env, "bench-search-index")
    tokens: dict[str, str] = {}

    def token_of(server: Server) -> str:
        tokens["t"] = api.get_token(server.base_url, credentials)
        return tokens["t"]

    first = json.loads((work / "catalogue.jsonl").read_text(encoding="utf-8").split("\n", 1)[0])
    first["name"] = f"{first['name']} (renombrado)"
    one_row = work / "one-row.jsonl"
    one_row.write_text(json.dumps(first, ensure_ascii=False) + "\n", encoding="utf-8")
    result: dict[str, Any] = {"workers": workers, "loadavg_at_start": list(os.getloadavg())}
    result["cold"] = _start(env, work, "cold", workers, token_of, args.limit)
    with Server(env, work / "warm.log", ready_timeout=120, extra_args=["--workers", str(workers)]) as server:
        result["warm"] = {
            "first_search_s": _first_search(server, token_of(server), args.limit),
            "healthz_s": server.ready_at - server.spawned_at,
            "worker_rss_mib": server.worker_rss_mib(),
            "worker_peak_rss_mib": server.worker_peak_rss_mib(),
        }
        with Server(env, work / "bare.log", command=edge._bare_command(workers)) as bare:
            result["import"] = _import_under_probe(server, bare, env, one_row, args.limit)
        result["after_import_worker_rss_mib"] = server.worker_rss_mib()
        result["searches"] = _http_searches(server, tokens["t"], args.synonyms, args.rounds)
    builds = [
        line for line in (work / "warm.log").read_text(errors="replace").splitlines() if "built:" in line
    ]
    result["builds_logged_in_warm_server"] = len(builds)
    result["loadavg_at_end"] = list(os.getloadavg())
    warm_log = (work / "warm.log").read_text(errors="replace").splitlines()
    result["load_log"] = [line for line in warm_log if "loaded:" in line]
    result["stall_log"] = [_message(line) for line in warm_log if "event loop held" in line]
    result["build_log"] = [
        line for line in (work / "cold.log").read_text(errors="replace").splitlines() if "built:" in line
    ]
    return result


# --- report ------------------------------------------------------------------------------------


def _message(line: str) -> str:
    """The message of a server log line (JSON in production, text otherwise)."""
    if line.startswith("{"):
        return str(json.loads(line).get("message", line))
    return line.split("INFO", 1)[-1].strip()


def render(data: dict[str, Any]) -> str:
    """Render the results as Markdown."""
    c = data["config"]
    lines = [
        f"# Shared search snapshot ({data['machine']['date_utc']})\n",
        f"{c['size']:,} generated entries, {c['synonyms']} synonyms per entry on average. Load "
        f"average at the start {data['machine']['loadavg_at_start'][0]:.1f} (2 cores, shared).\n",
    ]
    for backend, timing in data.get("load", {}).items():
        lines.append(
            f"Catalogue put in place on {backend} (not measured below): parse {timing['parse_s']:.1f} s, "
            f"write {timing['write_s']:.1f} s.\n"
        )
    ip = data.get("in_process")
    if ip:
        lines += [
            f"## In process: this version against `{ip['baseline_ref']}` on the same {ip['entries']:,} rows "
            f"({ip['synonyms']:,} synonyms)\n",
            f"Build: baseline {ip['baseline_build_s']:.2f} s, this version {ip['build_s']:.2f} s; serialised "
            f"{ip['serialised_mib']:.1f} MiB, opened in {ip['load_s'] * 1000:.1f} ms.\n",
            md_table(
                [
                    "search",
                    "matches",
                    "identical results",
                    "baseline p50 / p95 ms",
                    "this p50 / p95 ms",
                    "p95 ratio",
                ],
                [
                    [
                        s["search"],
                        f"{s['matches']:,}",
                        "yes" if s["identical"] else "**NO**",
                        f"{s['baseline_p50_ms']:.3f} / {s['baseline_p95_ms']:.3f}",
                        f"{s['p50_ms']:.3f} / {s['p95_ms']:.3f}",
                        f"{stats.ratio(s['p95_ms'], s['baseline_p95_ms']):.2f}x",
                    ]
                    for s in ip["searches"]
                ],
            ),
            "",
        ]
    for backend, r in data.get("servers", {}).items():
        rss = lambda v: ", ".join(f"{x:,.0f}" for x in v)  # noqa: E731
        imp = r["import"]
        lines += [
            f"## {backend}, {r['workers']} worker(s)\n",
            md_table(
                [
                    "start",
                    "first /healthz s after start",
                    "first search s after start",
                    "RSS per worker MiB",
                    "peak RSS per worker MiB",
                ],
                [
                    [
                        "cold (no snapshot: one build)",
                        f"{r['cold'].get('healthz_s', math.nan):.1f}",
                        f"{r['cold']['first_search_s']:.1f}",
                        rss(r["cold"]["worker_rss_mib"]),
                        rss(r["cold"]["worker_peak_rss_mib"]),
                    ],
                    [
                        "warm (snapshot stored)",
                        f"{r['warm'].get('healthz_s', math.nan):.1f}",
                        f"{r['warm']['first_search_s']:.1f}",
                        rss(r["warm"]["worker_rss_mib"]),
                        rss(r["warm"]["worker_peak_rss_mib"]),
                    ],
                ],
            ),
            f"\nOne-row import ({imp['import_s']:.1f} s, in a process of its own) until every worker "
            "served the new "
            f"revision: {imp['new_revision_served_s']:.1f} s. `/healthz` probes ({imp['probes']:,}, "
            f"{PROBE_CONNECTIONS} connections, every 10 ms): p50 {imp['probe_p50_ms']:.1f} ms, "
            f"p99 {imp['probe_p99_ms']:.1f} ms, **longest {imp['longest_ms']:.1f} ms**, "
            f"{imp['over_50_ms']} over 50 ms; the same probes against the bare app at the same time "
            f"({imp['bare']['probes']:,}): p50 {imp['bare']['probe_p50_ms']:.1f} ms, p99 "
            f"{imp['bare']['probe_p99_ms']:.1f} ms, longest {imp['bare']['longest_ms']:.1f} ms, "
            f"{imp['bare']['over_50_ms']} over 50 ms. Load average before / after the import: "
            f"{imp['loadavg_before_after'][0][0]:.1f} / {imp['loadavg_before_after'][1][0]:.1f}. "
            "RSS per worker "
            f"after it: {rss(r['after_import_worker_rss_mib'])} MiB. Builds logged by the warm "
            f"server: {r['builds_logged_in_warm_server']} (the import's).\n",
            md_table(
                ["search (HTTP, sequential)", "matches", "p50 ms", "p95 ms"],
                [
                    [s["search"], f"{s['matches']:,}", f"{s['p50_ms']:.2f}", f"**{s['p95_ms']:.2f}**"]
                    for s in r["searches"]
                ],
            ),
            "\nBuilder (cold start): "
            + "; ".join(line.split("INFO", 1)[-1].strip() for line in r["build_log"])
            + "\n\nLoads (warm server): "
            + "; ".join(_message(line) for line in r.get("load_log", []))
            + "\n\nLoop stalls over "
            + f"{STALL_REPORT_MS} ms the warm server's workers logged ({len(r.get('stall_log', []))}):\n"
            + "".join(f"\n* `{line}`" for line in r.get("stall_log", [])[:20])
            + "\n\nLoad average (1 min) at the start / end of this backend: "
            + f"{r['loadavg_at_start'][0]:.1f} / "
            + f"{r['loadavg_at_end'][0]:.1f}.\n",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Generate, import, measure both backends, report."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="catalogue entries (default 1000000)")
    parser.add_argument("--synonyms", type=float, default=0.0, help="mean synonyms per entry (default 0)")
    parser.add_argument("--seed", type=int, default=gen_catalogue.DEFAULT_SEED, help="catalogue seed")
    parser.add_argument("--rounds", type=int, default=200, help="requests per search (default 200)")
    parser.add_argument("--limit", type=float, default=600, help="seconds to wait for a snapshot (600)")
    parser.add_argument("--baseline-ref", default="main", help="git revision of the baseline index (main)")
    parser.add_argument("--no-in-process", action="store_true", help="skip the in-process comparison")
    parser.add_argument("--no-server", action="store_true", help="skip the servers")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--no-sqlite", action="store_true", help="no SQLite server (PostgreSQL only)")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432", help="PostgreSQL server")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="Redis database (13)")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR, help="where results go (bench/out)")
    args = parser.parse_args(argv)
    if args.size < 1:
        parser.error("--size must be positive")
    lifecycle.exit_cleanly_on_sigterm()
    data: dict[str, Any] = {
        "config": {"size": args.size, "synonyms": args.synonyms, "seed": args.seed, "rounds": args.rounds},
        "machine": machine_info(),
        "servers": {},
    }
    with lifecycle.workdir("pp-bench-search-index-") as work:
        gen_catalogue.write(work / "catalogue.jsonl", args.size, args.seed, args.synonyms)
        sqlite = admin.sqlite_env(work / "index.db")
        data["config"]["src_sha256"] = admin.snapshot_src(work, sqlite)  # a fixed copy of src/
        data["load"] = {}
        if not (args.no_sqlite and args.no_in_process):
            print(f"loading {args.size:,} entries into SQLite...", file=sys.stderr)
            admin.run_cli(["db", "upgrade"], sqlite, timeout=300)
            data["load"]["SQLite"] = catalogue_load.load(
                sqlite["PROVIDER_PRODUCTS_DATABASE_URL"], work / "catalogue.jsonl"
            )
        if not args.no_in_process:
            data["in_process"] = in_process(
                sqlite["PROVIDER_PRODUCTS_DATABASE_URL"], args.synonyms, args.baseline_ref, 50
            )
        if not args.no_server:
            if not args.no_sqlite:
                data["servers"]["SQLite"] = servers(sqlite, work, args, workers=1)
                # Kept even if the PostgreSQL half fails (a long run on a shared machine may not finish).
                write_results("search-index-sqlite", data, render(data), args.out_dir)
            if not args.no_postgres:
                own = OwnDatabase(args.pg_url, "pp_bench_search_index", args.redis_url)
                try:
                    own.create()
                    pg = admin.postgres_env(own.url, args.redis_url)
                    pg["PYTHONPATH"] = sqlite["PYTHONPATH"]
                    admin.run_cli(["db", "upgrade"], pg, timeout=300)
                    print(f"loading {args.size:,} entries into PostgreSQL...", file=sys.stderr)
                    data["load"]["PostgreSQL"] = catalogue_load.load(own.url, work / "catalogue.jsonl")
                    data["servers"]["PostgreSQL + Redis"] = servers(pg, work, args, workers=2)
                finally:
                    own.drop()
    publish("search-index", data, render(data), args.out_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
