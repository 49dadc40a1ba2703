"""Catalogue search latency benchmark: p50/p95 of two-word searches at 1k, 25k and 120k entries.

One command, everything in a temporary directory::

    .venv/bin/python bench/run_search.py

For each size: generate the catalogue (bench/gen_catalogue.py), import it with the admin CLI into a
fresh SQLite database, create a provider and client, start ONE ``provider-products serve`` process,
then send sequential requests from one keep-alive httpx client (one request in flight: this is
latency, not throughput). Every round sends each query once, in a freshly shuffled order, plus a
``GET /healthz`` as the same-run baseline (it shows what the client, HTTP and the framework cost
without any search). Query kinds:

* ``two-word``: realistic searches, accents omitted ("acetaminofen 500", "ecografia abdominal"), on
  ``/medical-catalogs/v1/medications`` for drugs and ``/arc/v1/products`` for the other types;
* ``no-match``: two words that match nothing;
* ``broad``: two words that match a large share of the catalogue ("tableta mg").

Results (per size, per kind and per query; with the number of matches) go to bench/out/.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

import gen_catalogue
from harness import OUT_DIR, admin, api, lifecycle, stats
from harness.results import machine_info, md_table, publish
from harness.server import Server

MEDS = "/medical-catalogs/v1/medications"
PRODUCTS = "/arc/v1/products"
TARGET_MS = 20.0
TARGET_SIZE = 120_000
KINDS = ("baseline", "two-word", "no-match", "broad")


@dataclass(frozen=True)
class Case:
    """One measured request: its kind, endpoint and query."""

    kind: str
    path: str
    query: str | None

    @property
    def label(self) -> str:
        """A short name for tables."""
        return "GET /healthz" if self.query is None else f"{self.path} ?query={self.query}"


CASES = [
    Case("baseline", "/healthz", None),
    Case("two-word", MEDS, "acetaminofen 500"),
    Case("two-word", MEDS, "losartan 50"),
    Case("two-word", MEDS, "amoxicilina suspension"),
    Case("two-word", MEDS, "omeprazol 20"),
    Case("two-word", MEDS, "ibuprofeno 400"),
    Case("two-word", PRODUCTS, "ecografia abdominal"),
    Case("two-word", PRODUCTS, "hemograma completo"),
    Case("two-word", PRODUCTS, "resonancia magnetica"),
    Case("two-word", PRODUCTS, "glucosa ayunas"),
    Case("two-word", PRODUCTS, "radiografia torax"),
    Case("no-match", PRODUCTS, "xilofono cuantico"),
    Case("broad", PRODUCTS, "tableta mg"),
]


def _get(client: httpx.Client, case: Case) -> tuple[float, httpx.Response]:
    params = None if case.query is None else {"query": case.query}
    started = time.perf_counter()
    response = client.get(case.path, params=params)
    return (time.perf_counter() - started) * 1000, response


def _startup(server: Server, client: httpx.Client) -> dict[str, Any]:
    """Time the first search from the process start, and take the RSS before and after it.

    The server builds its search index in the background from start-up; the first search waits for it.
    """
    rss_ready = server.rss_mib()
    first = next(c for c in CASES if c.query is not None)
    first_ms, response = _get(client, first)
    first_answered = time.perf_counter()
    if response.status_code != 200:
        raise RuntimeError(f"{first.label}: {response.status_code} {response.text}")
    return {
        "ready_s": server.ready_at - server.spawned_at,
        "first_search_answered_s": first_answered - server.spawned_at,
        "first_search_ms": first_ms,
        "rss_mib_at_ready": rss_ready,
        "rss_mib_after_first_search": server.rss_mib(),
    }


def _matches(client: httpx.Client) -> dict[Case, int]:
    """Send every case once (each must answer 200) and return what each search matches."""
    matches: dict[Case, int] = {}
    for case in CASES:
        _, response = _get(client, case)
        if response.status_code != 200:
            raise RuntimeError(f"{case.label}: {response.status_code} {response.text}")
        if case.query is not None:
            matches[case] = response.json()["page"]["total_elements"]
    return matches


def _rounds(
    client: httpx.Client, args: argparse.Namespace, rng: random.Random
) -> tuple[int, dict[Case, list[float]], dict[str, int]]:
    """Warm up, then send rounds of every case in shuffled order; return rounds, samples (ms), errors."""
    samples: dict[Case, list[float]] = {case: [] for case in CASES}
    errors: dict[str, int] = {}
    for _ in range(args.warmup):
        for case in CASES:
            _get(client, case)
    deadline = time.monotonic() + args.max_seconds
    rounds = 0
    while rounds < args.requests and time.monotonic() < deadline:
        order = CASES[:]
        rng.shuffle(order)
        for case in order:
            elapsed, response = _get(client, case)
            if response.status_code != 200:
                errors[str(response.status_code)] = errors.get(str(response.status_code), 0) + 1
                continue
            samples[case].append(elapsed)
        rounds += 1
    return rounds, samples, errors


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": stats.percentile(values, 50),
        "p95_ms": stats.percentile(values, 95),
        "max_ms": max(values) if values else float("nan"),
    }


def measure_size(args: argparse.Namespace, size: int, work: Path) -> dict[str, Any]:
    """Build the database for one catalogue size, start the server and measure every case."""
    catalogue = work / f"catalogue-{size}.jsonl"
    gen_catalogue.write(catalogue, size, args.seed)
    env = admin.sqlite_env(work / f"search-{size}.db")
    print(f"[{size}] importing...", file=sys.stderr)
    import_seconds = admin.import_catalogue(env, catalogue)
    if args.analyze:
        # What-if experiment, not the service's own behaviour: give SQLite's planner statistics.
        with sqlite3.connect(work / f"search-{size}.db") as db:
            db.execute("ANALYZE")
        db.close()
    credentials = admin.create_client(env, "bench-search")
    rng = random.Random(args.seed + size)
    with Server(env, work / f"server-{size}.log") as server:
        token = api.get_token(server.base_url, credentials)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as client:
            startup = _startup(server, client)
            matches = _matches(client)
            rounds, samples, errors = _rounds(client, args, rng)
        rss = server.rss_mib()
        startup["rss_mib_at_end"] = rss
        startup["peak_rss_mib"] = server.worker_peak_rss_mib()[0]
    if rounds < args.requests:
        print(f"[{size}] stopped after {rounds} rounds (--max-seconds {args.max_seconds})", file=sys.stderr)
    by_kind = {kind: _stats([v for c in CASES if c.kind == kind for v in samples[c]]) for kind in KINDS}
    by_kind["all searches"] = _stats([v for c in CASES if c.kind != "baseline" for v in samples[c]])
    return {
        "size": size,
        "import_seconds": import_seconds,
        "rounds": rounds,
        "errors": errors,
        "server_rss_mib_at_end": rss,
        "startup": startup,
        "by_kind": by_kind,
        "by_query": [
            {
                "kind": c.kind,
                "path": c.path,
                "query": c.query,
                "matches": matches.get(c),
                **_stats(samples[c]),
            }
            for c in CASES
        ],
    }


def _query_table(measured: list[dict[str, Any]]) -> str:
    """One row per request: what it matched and its latency at every size."""
    header = ["kind", "request", *(f"{r['size']:,}: matches, p50 / p95 ms" for r in measured)]
    rows = []
    for i, case in enumerate(CASES):
        cells = []
        for r in measured:
            q = r["by_query"][i]
            found = "-" if q["matches"] is None else f"{q['matches']:,}"
            cells.append(f"{found}, {q['p50_ms']:.1f} / {q['p95_ms']:.1f}")
        rows.append([case.kind, f"`{case.label}`", *cells])
    return md_table(header, rows)


def _startup_table(measured: list[dict[str, Any]]) -> str:
    """One row per size: the server's start, its first search and its memory."""
    keys = ("ready_s", "first_search_answered_s", "first_search_ms", "rss_mib_at_ready")
    keys += ("rss_mib_after_first_search", "rss_mib_at_end", "peak_rss_mib")
    digits = {"ready_s": 2, "first_search_answered_s": 2}
    rows = [
        [f"{r['size']:,}", *(f"{r['startup'][k]:.{digits.get(k, 0)}f}" for k in keys)]
        for r in measured
        if "startup" in r
    ]
    header = ["catalogue size", "/healthz ready s", "first search answered s", "first search ms"]
    header += ["RSS at ready", "RSS after first search", "RSS at end", "peak RSS"]
    return md_table(header, rows)


def _target(measured: list[dict[str, Any]]) -> list[str]:
    """The verdict on the target, when the target size was measured."""
    target = next((r for r in measured if r["size"] == TARGET_SIZE), None)
    if target is None:
        return []
    p95 = target["by_kind"]["all searches"]["p95_ms"]
    verdict = "MET" if p95 < TARGET_MS else "MISSED"
    per_kind = ", ".join(
        f"{k} {target['by_kind'][k]['p95_ms']:.1f} ms" for k in ("two-word", "no-match", "broad")
    )
    return [
        f"\n**Target** search p95 < {TARGET_MS:.0f} ms at {TARGET_SIZE:,} entries: **{verdict}** "
        f"(all searches p95 {p95:.1f} ms; by kind: {per_kind}).\n"
    ]


def render(data: dict[str, Any]) -> str:
    """Render the results as Markdown."""
    measured = data["results"]
    kinds = [*KINDS, "all searches"]
    header = ["catalogue size", *(f"{k} p50 / p95 ms" for k in kinds), "import s"]
    rows = [
        [
            f"{r['size']:,}",
            *(f"{r['by_kind'][k]['p50_ms']:.1f} / {r['by_kind'][k]['p95_ms']:.1f}" for k in kinds),
            f"{r['import_seconds']:.1f}",
        ]
        for r in measured
    ]
    errors = {r["size"]: r["errors"] for r in measured if r["errors"]}
    m = data["machine"]
    lines = [
        f"# Catalogue search latency ({m['date_utc']})\n",
        f"Sequential requests over one keep-alive connection; {data['config']['requests']} rounds per size, "
        "each sending every request below once in shuffled order, after "
        f"{data['config']['warmup']} warm-up rounds. "
        "Latency is measured in the client (httpx), so it includes the client, loopback HTTP and the "
        "framework; the /healthz baseline shows that floor.\n",
        "**What-if run: each database was ANALYZEd after the import (the service does not do this).**\n"
        if data["config"].get("analyze")
        else "",
        md_table(header, rows),
        "\nPer request (matches = `total_elements` of the answer):\n",
        _query_table(measured),
        "\nServer start and search index (seconds from the process start; the index is built in the "
        "background from start-up and the first search waits for it; RSS in MiB):\n",
        _startup_table(measured),
        *_target(measured),
        f"\nNon-200 answers: {errors or 'none'}.\n",
        f"\nMachine: {m['cpus']} CPUs ({m['cpu']}), load average at start {m['loadavg_at_start'][0]:.2f}, "
        f"Python {m['python']}, SQLite {m['sqlite']}.\n",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure every size, report, clean up."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="1000,25000,120000",
        help="comma-separated catalogue sizes (default 1000,25000,120000)",
    )
    parser.add_argument("--requests", type=int, default=100, help="measured rounds per size (default 100)")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up rounds per size (default 5)")
    parser.add_argument(
        "--max-seconds", type=float, default=120, help="stop measuring a size after this long (default 120)"
    )
    parser.add_argument("--seed", type=int, default=gen_catalogue.DEFAULT_SEED, help="catalogue seed")
    parser.add_argument(
        "--analyze",
        action="store_true",
        help="what-if: run SQLite ANALYZE on each database after the import (the service does not)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (databases, logs)")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR, help="where results go (bench/out)")
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error("--sizes must be comma-separated integers")
    if not sizes or min(sizes) < 1 or args.requests < 1 or args.warmup < 0:
        parser.error("sizes and --requests must be positive")
    lifecycle.exit_cleanly_on_sigterm()
    machine = machine_info()
    with lifecycle.workdir("pp-bench-search-", args.keep) as work:
        measured = [measure_size(args, size, work) for size in sizes]
    data = {
        "config": {
            "sizes": sizes,
            "requests": args.requests,
            "warmup": args.warmup,
            "seed": args.seed,
            "analyze": args.analyze,
        },
        "machine": machine,
        "results": measured,
    }
    publish("search-analyze" if args.analyze else "search", data, render(data), args.out_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
