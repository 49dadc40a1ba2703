"""List-page growth benchmark: a provider's page 0 and last page at 100 to 100,000 registrations.

One command, both backends in one run::

    .venv/bin/python bench/list_growth.py            # SQLite (1 worker), then PostgreSQL + Redis (2 workers)
    .venv/bin/python bench/list_growth.py --no-postgres --duration 2 --rounds 2

Per backend: a fresh database with a generated catalogue (bench/gen_catalogue.py, default 120k
entries), one provider per size (100, 2,000, 10,000, 100,000 registrations, made with the batch
API), one server; then wrk (``paths`` mode, one path per run) drives, in interleaved rounds whose
order rotates, ``/healthz`` ("trivial") and for each size page 0 and the last page (size 15) of
the list plain, filtered by ``product_type`` and searched with ``query``. Reported: medians over
rounds of req/s, p95, % of the same round's trivial req/s, and p95 growth over the 100 size.
PostgreSQL uses its own database (``pp_bench_list_growth``) and Redis db 12.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

import gen_catalogue
from harness import OUT_DIR, admin, api, lifecycle, stats, wrk
from harness.results import machine_info, md_table, publish
from harness.server import Server, wait_for_index
from harness.stores import OwnDatabase

SIZES = (100, 2_000, 10_000, 100_000)
FILTERS = ("plain", "type", "query")
PAGES = ("first", "last")
PAGE_SIZE = 15
TARGET_SHARE = {"sqlite": 0.30, "postgresql": 0.20}
TARGET_GROWTH = 1.3
PRODUCTS = "/arc/v1/providers/products"


def _filters(active: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """The filter of each variant: the most common type, and the most common first word of names."""
    kind = collections.Counter(r["product_type"] for r in active).most_common(1)[0][0]
    word = collections.Counter(r["name"].split()[0].lower() for r in active).most_common(1)[0][0]
    return {"plain": {}, "type": {"product_type": kind}, "query": {"query": word}}


def _paths(base_url: str, token: str, filters: dict[str, dict[str, str]]) -> dict[str, str]:
    """Page 0 and the last page of each filter, as paths; check that each answers 200."""
    paths: dict[str, str] = {}
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
        for name, params in filters.items():
            first = c.get(PRODUCTS, params={**params, "size": PAGE_SIZE})
            first.raise_for_status()
            last = max(first.json()["page"]["total_pages"] - 1, 0)
            for page, number in (("first", 0), ("last", last)):
                path = f"{PRODUCTS}?{urlencode({**params, 'size': PAGE_SIZE, 'page': number})}"
                if c.get(path).status_code != 200:
                    raise RuntimeError(f"{path} does not answer 200")
                paths[f"{name}/{page}"] = path
    return paths


def _prepare(env: dict[str, str], work: Path, args: argparse.Namespace) -> tuple[list[str], Any]:
    catalogue = work / "catalogue.jsonl"
    gen_catalogue.write(catalogue, args.catalogue_size, args.seed)
    active = [r for r in gen_catalogue.rows(args.catalogue_size, args.seed) if r["status"] == "ACTIVE"]
    if len(active) < max(args.sizes):
        raise SystemExit(f"only {len(active)} active codes; raise --catalogue-size")
    admin.run_cli(["db", "upgrade"], env, timeout=300)
    admin.import_catalogue(env, catalogue, timeout=900)
    creds = {n: admin.create_client(env, f"bench-list-{n}") for n in args.sizes}
    return [r["product_code"] for r in active], (creds, _filters(active))


def _measure_backend(
    backend: str, env: dict[str, str], work: Path, args: argparse.Namespace, wrk_path: str
) -> dict[str, Any]:
    codes, (creds, filters) = _prepare(env, work, args)
    extra = ["--workers", "2"] if backend == "postgresql" else []
    runs: list[dict[str, Any]] = []
    with Server(env, work / f"server-{backend}.log", ready_timeout=180, extra_args=extra) as server:
        tokens = {n: api.get_token(server.base_url, c) for n, c in creds.items()}
        # The server builds its search index after start (blocking its loop on this main):
        # measure only once every worker answers a search.
        any_token = next(iter(tokens.values()))
        wait_for_index(server, any_token, 2 if extra else 1, 600, "/arc/v1/products", filters["query"])
        rng = random.Random(args.seed)
        with httpx.Client(base_url=server.base_url, timeout=120) as http:
            for n in args.sizes:
                mine = rng.sample(codes, n)
                for start in range(0, n, 500):
                    api.register_batch(http, tokens[n], mine[start : start + 500])
        targets: dict[str, tuple[str | None, Path | None]] = {"trivial": (None, None)}
        for n in args.sizes:
            wanted = (
                filters if n <= args.query_max_size else {k: v for k, v in filters.items() if k != "query"}
            )
            for key, path in _paths(server.base_url, tokens[n], wanted).items():
                file = work / f"{backend}-{n}-{key.replace('/', '-')}.txt"
                file.write_text(path + "\n")
                targets[f"{n}/{key}"] = (tokens[n], file)
        names = list(targets)

        def run(name: str, seconds: int) -> dict[str, Any]:
            token, file = targets[name]
            mode = "healthz" if name == "trivial" else "paths"
            result, cpu, wall = wrk.run_wrk_on(
                server,
                wrk_path,
                mode,
                token=token,
                codes_file=file,
                duration=seconds,
                connections=args.connections,
                threads=1,
            )
            result["server_cpu"] = cpu / wall
            return result

        for name in names:
            run(name, 1)
        for r in range(args.rounds):
            shift = (r * len(names)) // max(args.rounds, 1)
            for name in names[shift:] + names[:shift]:
                result = run(name, args.duration)
                result.update(round=r, target=name)
                runs.append(result)
                print(
                    f"{backend} round {r + 1} {name:22s} {result['rps']:8,.0f} req/s "
                    f"p95 {result['latency_us']['p95'] / 1000:6.1f} ms {result['statuses']}",
                    file=sys.stderr,
                )
    return {"filters": filters, "runs": runs, "summary": _summarise(runs, names, args.rounds)}


def _summarise(runs: list[dict[str, Any]], names: list[str], rounds: int) -> dict[str, Any]:
    by = {(run["round"], run["target"]): run for run in runs}
    out: dict[str, Any] = {}
    for name in names:
        mine = [by[(r, name)] for r in range(rounds)]
        out[name] = {
            "median_rps": stats.median([m["rps"] for m in mine]),
            "median_p95_ms": stats.median([m["latency_us"]["p95"] / 1000 for m in mine]),
            "share": stats.median(
                [by[(r, name)]["rps"] / max(by[(r, "trivial")]["rps"], 1e-9) for r in range(rounds)]
            ),
            "statuses": dict(collections.Counter({k: v for m in mine for k, v in m["statuses"].items()})),
        }
    return out


def _render(data: dict[str, Any]) -> str:
    cfg = data["config"]
    lines = [
        f"# List-page growth ({data['machine']['date_utc']})\n",
        f"wrk 1 thread, {cfg['connections']} connections, {cfg['duration']} s per run, {cfg['rounds']} "
        f"interleaved rounds (order rotated), page size {PAGE_SIZE}; catalogue {cfg['catalogue_size']:,}; "
        "SQLite 1 worker, PostgreSQL + Redis 2 workers. Share = req/s over the same round's /healthz.\n",
    ]
    for backend, result in data["backends"].items():
        s, sizes = result["summary"], cfg["sizes"]
        header = [
            "request",
            *(f"{n:,}: req/s, p95 ms, % trivial" for n in sizes),
            f"p95 growth {sizes[0]:,} -> {sizes[-1]:,}",
        ]
        rows = [
            [
                "GET /healthz (trivial)",
                *([f"{s['trivial']['median_rps']:,.0f}, {s['trivial']['median_p95_ms']:.1f}"] * len(sizes)),
                "-",
            ]
        ]
        for f in FILTERS:
            for p in PAGES:
                cells = [s.get(f"{n}/{f}/{p}") for n in sizes]
                measured = [c for c in cells if c is not None]
                growth = measured[-1]["median_p95_ms"] / max(measured[0]["median_p95_ms"], 1e-9)
                upto = sizes[len(measured) - 1]
                rows.append(
                    [
                        f"{f} {p} page",
                        *(
                            "not measured"
                            if c is None
                            else f"{c['median_rps']:,.0f}, {c['median_p95_ms']:.1f}, {c['share']:.0%}"
                            for c in cells
                        ),
                        f"{growth:.2f}x" + ("" if upto == sizes[-1] else f" (to {upto:,})"),
                    ]
                )
        lines += [f"\n## {backend} (filters {result['filters']})\n", md_table(header, rows)]
    lines.append(
        f"\nTargets: at 2,000 >= 30% (SQLite) / 20% (PostgreSQL) of trivial; p95 growth <= "
        f"{TARGET_GROWTH}x. Machine: {data['machine']['cpus']} CPUs, load average at start "
        f"{data['machine']['loadavg_at_start'][0]:.2f}.\n"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Prepare both backends, measure, report, clean up."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=int, default=2, help="seconds per wrk run (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--catalogue-size", type=int, default=120_000)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument(
        "--query-max-size",
        type=int,
        default=2_000,
        help="measure query pages only up to this size (default 2000): above it a query page still "
        "costs O(registrations) and its queue of slow requests spills into the following runs",
    )
    parser.add_argument("--seed", type=int, default=gen_catalogue.DEFAULT_SEED)
    parser.add_argument("--no-postgres", dest="postgres", action="store_false")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    if args.redis_url.endswith("/15"):
        parser.error("Redis db 15 belongs to the test suites; use another one")
    wrk_path = wrk.require_wrk()
    lifecycle.exit_cleanly_on_sigterm()
    backends: dict[str, Any] = {}
    with lifecycle.workdir("pp-bench-list-", args.keep) as work:
        backends["sqlite"] = _measure_backend(
            "sqlite", admin.sqlite_env(work / "bench.db"), work, args, wrk_path
        )
        if args.postgres:
            own = OwnDatabase(args.pg_url, "pp_bench_list_growth", args.redis_url)
            own.create()
            try:
                env = admin.postgres_env(own.url, args.redis_url)
                backends["postgresql"] = _measure_backend("postgresql", env, work, args, wrk_path)
            finally:
                own.drop(args.keep)
    data = {
        "config": {
            k: getattr(args, k) for k in ("duration", "rounds", "connections", "catalogue_size", "sizes")
        },
        "machine": machine_info(),
        "backends": backends,
    }
    publish("list_growth", data, _render(data), args.out_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
