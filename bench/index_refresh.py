"""What searches and /healthz see while a server rebuilds its search index after a catalogue import.

One command (SQLite, everything in a temporary directory)::

    .venv/bin/python bench/index_refresh.py --size 120000

Steps: generate and import a catalogue, start ONE server, wait for its index, then run two
sequential clients for ``--seconds`` (one sending two-word searches, one ``GET /healthz``). After
``--import-after`` seconds a one-row ``catalogue import`` (one entry renamed) bumps
``catalogue_revision``; within ``CATALOGUE_REFRESH_SECONDS`` (2 s) the next search makes the server
read the rows again and build a new snapshot. The report gives each client's latency before the
import and its worst requests after it, with their time. Results go to bench/out/refresh-*.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

import gen_catalogue
from harness import OUT_DIR, admin, api, lifecycle, stats
from harness.results import machine_info, md_table, publish
from harness.server import Server

SEARCH = ("/arc/v1/products", {"query": "losartan 50"})


def _loop(
    base_url: str, token: str, kind: str, stop_at: float, out: list[tuple[float, float]], errors: list[str]
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as client:
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                if kind == "search":
                    response = client.get(SEARCH[0], params=SEARCH[1])
                else:
                    response = client.get("/healthz")
            except httpx.HTTPError as exc:
                errors.append(f"{kind}: {exc!r}")
                continue
            if response.status_code != 200:
                errors.append(f"{kind}: {response.status_code}")
            out.append((started, time.perf_counter() - started))


def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Prepare, load, import in the middle, collect the samples."""
    catalogue = work / "catalogue.jsonl"
    gen_catalogue.write(catalogue, args.size, args.seed)
    env = admin.sqlite_env(work / "refresh.db")
    print(f"importing {args.size:,} entries...", file=sys.stderr)
    admin.import_catalogue(env, catalogue)
    credentials = admin.create_client(env, "bench-refresh")
    first = json.loads(catalogue.read_text(encoding="utf-8").splitlines()[0])
    first["name"] = f"{first['name']} (renombrado)"
    one_row = work / "one-row.jsonl"
    one_row.write_text(json.dumps(first, ensure_ascii=False) + "\n", encoding="utf-8")
    samples: dict[str, list[tuple[float, float]]] = {"search": [], "healthz": []}
    errors: list[str] = []
    with Server(env, work / "server.log", ready_timeout=120) as server:
        token = api.get_token(server.base_url, credentials)
        with httpx.Client(base_url=server.base_url, timeout=120) as client:
            client.get(
                SEARCH[0], params=SEARCH[1], headers={"Authorization": f"Bearer {token}"}
            ).raise_for_status()
        stop_at = time.monotonic() + args.seconds
        threads = [
            threading.Thread(
                target=_loop, args=(server.base_url, token, kind, stop_at, samples[kind], errors)
            )
            for kind in samples
        ]
        t0 = time.perf_counter()
        for thread in threads:
            thread.start()
        time.sleep(args.import_after)
        import_start = time.perf_counter()
        admin.run_cli(["catalogue", "import", str(one_row)], env, timeout=120)
        import_end = time.perf_counter()
        for thread in threads:
            thread.join(timeout=args.seconds + 180)
        rss = server.rss_mib()
    result: dict[str, Any] = {
        "import_s": [import_start - t0, import_end - t0],
        "errors": errors[:20],
        "server_rss_mib_at_end": rss,
    }
    for kind, values in samples.items():
        before = [d * 1000 for t, d in values if t < import_start]
        after = sorted(((t - t0, d * 1000) for t, d in values if t >= import_start), key=lambda x: -x[1])
        result[kind] = {
            "requests": len(values),
            "before_p50_ms": stats.percentile(before, 50),
            "before_p99_ms": stats.percentile(before, 99),
            "before_max_ms": max(before, default=float("nan")),
            "after_worst": [{"at_s": a, "ms": ms} for a, ms in after[:5]],
        }
    return result


def render(data: dict[str, Any]) -> str:
    """Render the results as Markdown."""
    r = data["result"]
    rows = [
        [
            kind,
            f"{r[kind]['requests']:,}",
            " / ".join(f"{r[kind][k]:.1f}" for k in ("before_p50_ms", "before_p99_ms", "before_max_ms")),
            ", ".join(f"{w['ms']:,.0f} ms at {w['at_s']:.1f} s" for w in r[kind]["after_worst"][:3]),
        ]
        for kind in ("search", "healthz")
    ]
    return "\n".join(
        [
            f"# Search index refresh ({data['machine']['date_utc']})\n",
            f"SQLite, {data['config']['size']:,} entries; a one-row import ran from "
            f"{r['import_s'][0]:.1f} to {r['import_s'][1]:.1f} s after the clients started.\n",
            md_table(["client", "requests", "before the import p50 / p99 / max ms", "worst after it"], rows),
            f"\nErrors: {r['errors'] or 'none'}.\n",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, measure, report, clean up."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", type=int, default=120_000, help="catalogue entries (default 120000)")
    parser.add_argument("--seconds", type=float, default=14, help="length of the client loops (default 14)")
    parser.add_argument("--import-after", type=float, default=3, help="seconds before the import (3)")
    parser.add_argument("--seed", type=int, default=gen_catalogue.DEFAULT_SEED, help="catalogue seed")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR, help="where results go (bench/out)")
    args = parser.parse_args(argv)
    if args.size < 1 or args.seconds <= args.import_after:
        parser.error("--size must be positive and --seconds longer than --import-after")
    lifecycle.exit_cleanly_on_sigterm()
    machine = machine_info()
    with lifecycle.workdir("pp-bench-refresh-") as work:
        result = measure(args, work)
    data = {"config": {"size": args.size, "seconds": args.seconds}, "machine": machine, "result": result}
    publish("refresh", data, render(data), args.out_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
