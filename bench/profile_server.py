"""Profile the real server under one benchmark load with py-spy and summarise where the time goes.

Used to explain a missed target; needs py-spy (``.venv/bin/pip install -c constraints.txt -e ".[bench]"``) and
root or ptrace permission. Examples::

    .venv/bin/python bench/profile_server.py get --duration 15
    .venv/bin/python bench/profile_server.py search-meds --size 120000 --duration 15
    .venv/bin/python bench/profile_server.py list --backend postgresql --duration 15

Scenarios: ``healthz``, ``get`` (GET one registration), ``register`` (wrk, 32 connections, like
run_http.py), ``list`` (page 0, size 15, of a provider with 2,000 registrations, wrk);
``search-meds`` (two-word medication searches), ``search-broad`` ("tableta mg") and
``search-products`` (two-word searches on /arc/v1/products), sequential like run_search.py. Writes the
collapsed stacks and a text summary (top functions by own time and by inclusive time, as shares of
all samples) to bench/out/profile-<scenario>-*. ``--backend postgresql`` runs one worker on
PostgreSQL and Redis (database ``pp_bench_profile``, Redis db 13) instead of SQLite.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

import gen_catalogue
from harness import OUT_DIR, admin, api, lifecycle, wrk
from harness.server import Server
from harness.stores import OwnDatabase

SEARCHES = {
    "search-meds": (
        "/medical-catalogs/v1/medications",
        ["acetaminofen 500", "losartan 50", "amoxicilina suspension", "omeprazol 20", "ibuprofeno 400"],
    ),
    "search-products": (
        "/arc/v1/products",
        ["ecografia abdominal", "hemograma completo", "resonancia magnetica", "glucosa ayunas"],
    ),
    "search-broad": ("/arc/v1/products", ["tableta mg"]),
}
WRK_MODES = ("healthz", "get", "register", "list")
LIST_PATH = "/arc/v1/providers/products?size=15&page=0"
_LINE_NUMBER = re.compile(r":\d+\)$")


def summarise(collapsed: Path, top: int) -> str:
    """Summarise py-spy's collapsed stacks: top frames by own samples and by inclusive samples."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = [_LINE_NUMBER.sub(")", frame) for frame in stack.split(";")]
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"{total} samples\n", "## own time"]
    lines += [f"{n / total:6.1%}  {frame}" for frame, n in own.most_common(top)]
    lines += ["", "## inclusive time"]
    lines += [f"{n / total:6.1%}  {frame}" for frame, n in inclusive.most_common(top * 2)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Prepare a database, start the server, load it while py-spy samples it, summarise."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("scenario", choices=[*WRK_MODES, *SEARCHES])
    parser.add_argument("--size", type=int, default=25_000, help="catalogue entries (default 25000)")
    parser.add_argument("--duration", type=int, default=15, help="seconds of load and sampling (default 15)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second (default 250)")
    parser.add_argument("--top", type=int, default=25, help="rows per summary table (default 25)")
    parser.add_argument("--native", action="store_true", help="also sample native (C) frames")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        sys.exit("py-spy is not installed: .venv/bin/pip install py-spy")
    wrk_path = wrk.require_wrk() if args.scenario in WRK_MODES else None
    lifecycle.exit_cleanly_on_sigterm()
    with lifecycle.workdir("pp-bench-profile-") as work:
        catalogue = work / "catalogue.jsonl"
        gen_catalogue.write(catalogue, args.size)
        active = [r["product_code"] for r in gen_catalogue.rows(args.size) if r["status"] == "ACTIVE"]
        random.Random(1).shuffle(active)
        (work / "get-codes.txt").write_text("\n".join(active[:2000]) + "\n")
        (work / "register-codes.txt").write_text("\n".join(active) + "\n")
        own = OwnDatabase(args.pg_url, "pp_bench_profile", args.redis_url)
        if args.backend == "postgresql":
            own.create()
            env = admin.postgres_env(own.url, args.redis_url)
            admin.run_cli(["db", "upgrade"], env)
        else:
            env = admin.sqlite_env(work / "profile.db")
        (work / "list-path.txt").write_text(LIST_PATH + "\n")
        try:
            _profile(args, py_spy, wrk_path, work, env, catalogue, active)
        finally:
            own.drop()
    return 0


def _profile(
    args: argparse.Namespace,
    py_spy: str,
    wrk_path: str | None,
    work: Path,
    env: dict[str, str],
    catalogue: Path,
    active: list[str],
) -> None:
    """Import, start one server, load it while py-spy samples it, write the summary."""
    admin.import_catalogue(env, catalogue)
    reader = admin.create_client(env, "bench-profile")
    writer = admin.create_client(env, "bench-profile-writer")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    collapsed = OUT_DIR / f"profile-{args.scenario}-{stamp}.txt"
    with Server(env, work / "server.log") as server:
        token = api.get_token(server.base_url, reader)
        if args.scenario in ("get", "list"):
            with httpx.Client(base_url=server.base_url, timeout=120) as http:
                for start in range(0, 2000, 500):
                    api.register_batch(http, token, active[start : start + 500])
        spy_cmd = [
            py_spy,
            "record",
            "--pid",
            str(server.pid),
            "--rate",
            str(args.rate),
            "--format",
            "raw",
        ]
        spy_cmd += ["--duration", str(args.duration), "--output", str(collapsed)]
        if args.native:
            spy_cmd.append("--native")
        spy = subprocess.Popen(spy_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            time.sleep(1)
            if wrk_path is not None:
                codes = {
                    "healthz": None,
                    "get": work / "get-codes.txt",
                    "register": work / "register-codes.txt",
                    "list": work / "list-path.txt",
                }
                tok = {
                    "healthz": None,
                    "get": token,
                    "register": api.get_token(server.base_url, writer),
                    "list": token,
                }
                result = wrk.run_wrk(
                    wrk_path,
                    server.base_url,
                    "paths" if args.scenario == "list" else args.scenario,
                    token=tok[args.scenario],
                    codes_file=codes[args.scenario],
                    duration=args.duration,
                    connections=args.connections,
                    threads=1,
                )
                print(f"{result['rps']:,.0f} req/s under the profiler, statuses {result['statuses']}")
            else:
                path, queries = SEARCHES[args.scenario]
                headers = {"Authorization": f"Bearer {token}"}
                deadline = time.monotonic() + args.duration
                sent = 0
                with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
                    while time.monotonic() < deadline:
                        client.get(path, params={"query": queries[sent % len(queries)]}).raise_for_status()
                        sent += 1
                print(f"{sent} sequential searches in {args.duration} s under the profiler")
            _, err = spy.communicate(timeout=args.duration + 60)
        finally:
            if spy.poll() is None:
                spy.kill()
                spy.wait(timeout=10)
    if not collapsed.exists():
        raise SystemExit(f"py-spy wrote nothing: {err.decode(errors='replace')}")
    summary = summarise(collapsed, args.top)
    summary_path = collapsed.with_suffix(".summary.txt")
    summary_path.write_text(summary)
    print(summary)
    print(f"collapsed stacks: {collapsed}\nsummary: {summary_path}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
