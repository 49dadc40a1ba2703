"""HTTP throughput benchmark: req/s of the trivial endpoint, reading one registration, and registering.

One command prepares everything in a temporary directory and cleans up::

    .venv/bin/python bench/run_http.py --duration 10 --connections 32

Steps: generate a 25k-entry catalogue (bench/gen_catalogue.py), import it with the admin CLI into a
fresh SQLite database, create one "reader" provider plus one fresh provider per register run (each
with a client whose rate limit is 100000000/minute), start ONE ``provider-products serve`` process,
register 2,000 codes for the reader through the real API, then drive the server with wrk:

* ``healthz``: ``GET /healthz`` (no auth, no database): the trivial baseline;
* ``get``: ``GET /arc/v1/providers/products/{code}`` rotating over the 2,000 registered codes;
* ``register``: ``POST /arc/v1/providers/products`` with a fresh, never-registered ACTIVE code per
  request (each round uses a new provider, and wrk walks a shuffled code list with a counter), so
  the answers are 201 unless the list runs out; the 201/409 split is reported.

Each round runs the three endpoints in a rotated order; the report gives per-round req/s, medians
over rounds and each endpoint's ratio to ``/healthz`` in the same round. Results go to bench/out/.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import Any

import httpx

import gen_catalogue
from harness import OUT_DIR, admin, api, lifecycle, stats, wrk
from harness.results import machine_info, md_table, publish
from harness.server import Server

ENDPOINTS = ("healthz", "get", "register")
LABELS = {
    "healthz": "GET /healthz (baseline)",
    "get": "GET /arc/v1/providers/products/{code}",
    "register": "POST /arc/v1/providers/products",
}
GET_TARGET = 0.30


def check_endpoints(base_url: str, token: str, registered: str) -> None:
    """Fail early if the measured requests would not succeed."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as client:
        if client.get("/healthz").status_code != 200:
            raise RuntimeError("/healthz does not answer 200")
        got = client.get(f"/arc/v1/providers/products/{registered}")
        if got.status_code != 200:
            raise RuntimeError(f"GET registration answered {got.status_code}: {got.text}")


def summarise(runs: list[dict[str, Any]], rounds: int) -> dict[str, Any]:
    """Per endpoint: req/s per round, median, same-round ratios to /healthz, latency and status totals."""
    by_round: dict[int, dict[str, dict[str, Any]]] = {}
    for run in runs:
        by_round.setdefault(run["round"], {})[run["endpoint"]] = run
    summary: dict[str, Any] = {}
    for endpoint in ENDPOINTS:
        mine = [by_round[r][endpoint] for r in range(rounds) if endpoint in by_round.get(r, {})]
        ratios = [by_round[r][endpoint]["rps"] / by_round[r]["healthz"]["rps"] for r in range(rounds)]
        statuses: dict[str, int] = {}
        for run in mine:
            for status, n in run["statuses"].items():
                statuses[status] = statuses.get(status, 0) + n
        summary[endpoint] = {
            "rps": [run["rps"] for run in mine],
            "median_rps": stats.median([run["rps"] for run in mine]),
            "ratios": ratios,
            "median_ratio": stats.median(ratios),
            "median_p50_ms": stats.median([run["latency_us"]["p50"] / 1000 for run in mine]),
            "median_p99_ms": stats.median([run["latency_us"]["p99"] / 1000 for run in mine]),
            "median_server_cpu": stats.median([run["server_cpu"] for run in mine]),
            "statuses": statuses,
            "socket_errors": sum(wrk.socket_errors(run) for run in mine),
        }
    return summary


def render(data: dict[str, Any]) -> str:
    """Render the results as Markdown."""
    cfg, summary = data["config"], data["summary"]
    rounds = cfg["rounds"]
    header = [
        "endpoint",
        *(f"round {r + 1} req/s" for r in range(rounds)),
        "median req/s",
        "ratio to /healthz (median of rounds)",
        "p50 / p99 ms",
        "server CPU",
    ]
    rows = []
    for endpoint in ENDPOINTS:
        s = summary[endpoint]
        rows.append(
            [
                LABELS[endpoint],
                *(f"{v:,.0f}" for v in s["rps"]),
                f"**{s['median_rps']:,.0f}**",
                f"{s['median_ratio']:.1%} ({', '.join(f'{r:.1%}' for r in s['ratios'])})",
                f"{s['median_p50_ms']:.1f} / {s['median_p99_ms']:.1f}",
                f"{s['median_server_cpu']:.0%}",
            ]
        )
    reg = summary["register"]["statuses"]
    total = sum(reg.values()) or 1
    get_ratio = summary["get"]["median_ratio"]
    verdict = "MET" if get_ratio >= GET_TARGET else "MISSED"
    lines = [
        f"# HTTP throughput ({data['machine']['date_utc']})\n",
        f"wrk {cfg['threads']} thread(s), {cfg['connections']} connections, {cfg['duration']} s per run, "
        f"{rounds} rounds (order rotated each round), {cfg['warmup']} s warm-up per endpoint; catalogue "
        f"{cfg['catalogue_size']:,} entries, reader provider with {cfg['registrations']:,} registrations "
        f"(made through the API in {data['prep']['register_seconds']:.1f} s).\n",
        md_table(header, rows),
        f"\nRegister answers: 201 for {reg.get('201', 0):,} ({reg.get('201', 0) / total:.1%}), "
        f"409 for {reg.get('409', 0):,} ({reg.get('409', 0) / total:.1%}); all statuses {reg}. "
        f"Each round used a new provider and a list of {data['prep']['register_pool']:,} fresh codes.\n",
        f"Statuses: get {summary['get']['statuses']}, healthz {summary['healthz']['statuses']}; "
        f"socket errors: {sum(summary[e]['socket_errors'] for e in ENDPOINTS)}.\n",
        f"\n**Target** GET one registration ≥ {GET_TARGET:.0%} of /healthz: **{verdict}** "
        f"(median same-round ratio {get_ratio:.1%}).\n",
        f"\nMachine: {data['machine']['cpus']} CPUs ({data['machine']['cpu']}), load average at start "
        f"{data['machine']['loadavg_at_start'][0]:.2f}, Python {data['machine']['python']}, "
        f"SQLite {data['machine']['sqlite']}. Server CPU is the server process's CPU time over the run's "
        "wall time (100% = one core).\n",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Prepare, measure, report, clean up."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument(
        "--threads", type=int, default=1, help="wrk threads (default 1: the server gets a core)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds over the three endpoints (default 3)")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up seconds per endpoint (default 3)")
    parser.add_argument(
        "--catalogue-size", type=int, default=25_000, help="catalogue entries (default 25000)"
    )
    parser.add_argument(
        "--registrations", type=int, default=2_000, help="reader registrations (default 2000)"
    )
    parser.add_argument(
        "--seed", type=int, default=gen_catalogue.DEFAULT_SEED, help="catalogue and shuffle seed"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (database, logs)")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR, help="where results go (bench/out)")
    args = parser.parse_args(argv)
    if min(args.duration, args.connections, args.threads, args.rounds) < 1 or args.warmup < 0:
        parser.error("--duration, --connections, --threads and --rounds must be positive")
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads")
    wrk_path = wrk.require_wrk()
    lifecycle.exit_cleanly_on_sigterm()
    estimate = 3 * args.warmup + 3 * args.rounds * args.duration + 30 + 3 * args.rounds
    print(f"run_http: about {estimate} s of measurement plus set-up", file=sys.stderr)

    with lifecycle.workdir("pp-bench-http-", args.keep) as work:
        return _run(args, wrk_path, work)


def _run(args: argparse.Namespace, wrk_path: str, work: Path) -> int:
    machine = machine_info()
    catalogue = work / "catalogue.jsonl"
    gen_catalogue.write(catalogue, args.catalogue_size, args.seed)
    active = [
        row["product_code"]
        for row in gen_catalogue.rows(args.catalogue_size, args.seed)
        if row["status"] == "ACTIVE"
    ]
    if len(active) < args.registrations:
        raise SystemExit(f"only {len(active)} active codes for {args.registrations} registrations")
    rng = random.Random(args.seed)
    reader_codes = rng.sample(active, args.registrations)
    pool = active[:]
    rng.shuffle(pool)
    (work / "get-codes.txt").write_text("\n".join(reader_codes) + "\n")
    (work / "register-codes.txt").write_text("\n".join(pool) + "\n")

    env = admin.sqlite_env(work / "bench.db")
    print("importing catalogue and creating providers...", file=sys.stderr)
    import_seconds = admin.import_catalogue(env, catalogue)
    reader = admin.create_client(env, "bench-reader")
    writers = [admin.create_client(env, f"bench-writer-{i}") for i in range(args.rounds + 1)]

    runs: list[dict[str, Any]] = []
    with Server(env, work / "server.log") as server:
        token = api.get_token(server.base_url, reader)
        writer_tokens = [api.get_token(server.base_url, w) for w in writers]
        print(
            f"server pid {server.pid} on {server.base_url}; registering {args.registrations}...",
            file=sys.stderr,
        )
        register_seconds = api.register_codes(server.base_url, token, reader_codes)
        check_endpoints(server.base_url, token, reader_codes[0])

        def measure(endpoint: str, seconds: int, writer_token: str) -> dict[str, Any]:
            tok = {"healthz": None, "get": token, "register": writer_token}[endpoint]
            codes = {"healthz": None, "get": work / "get-codes.txt", "register": work / "register-codes.txt"}
            result, cpu, wall = wrk.run_wrk_on(
                server,
                wrk_path,
                endpoint,
                token=tok,
                codes_file=codes[endpoint],
                duration=seconds,
                connections=args.connections,
                threads=args.threads,
            )
            result["server_cpu"] = cpu / wall
            return result

        if args.warmup:
            print("warming up...", file=sys.stderr)
            for endpoint in ENDPOINTS:
                measure(endpoint, args.warmup, writer_tokens[-1])
        for r in range(args.rounds):
            order = ENDPOINTS[r % 3 :] + ENDPOINTS[: r % 3]
            for endpoint in order:
                result = measure(endpoint, args.duration, writer_tokens[r])
                result.update(round=r, endpoint=endpoint)
                runs.append(result)
                print(
                    f"round {r + 1} {endpoint:9s} {result['rps']:9,.0f} req/s  "
                    f"statuses {result['statuses']}  server CPU {result['server_cpu']:.0%}",
                    file=sys.stderr,
                )
        rss = server.rss_mib()

    data: dict[str, Any] = {
        "config": {
            "duration": args.duration,
            "connections": args.connections,
            "threads": args.threads,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "catalogue_size": args.catalogue_size,
            "registrations": args.registrations,
            "seed": args.seed,
        },
        "machine": machine,
        "prep": {
            "import_seconds": import_seconds,
            "register_seconds": register_seconds,
            "register_pool": len(pool),
            "server_rss_mib_at_end": rss,
        },
        "runs": runs,
        "summary": summarise(runs, args.rounds),
    }
    data["machine"]["wrk"] = wrk.version(wrk_path)
    publish("http", data, render(data), args.out_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
