"""Driving wrk with ``bench/wrk/endpoint.lua`` and reading the one-line JSON summary it prints."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness import BENCH_DIR
from harness.procfs import cpu_by_comm
from harness.server import Server
from harness.stores import pg_sessions

WRK_SCRIPT = BENCH_DIR / "wrk" / "endpoint.lua"


def require_wrk() -> str:
    """Return wrk's path, or exit with the command that installs it."""
    path = shutil.which("wrk")
    if path is None:
        sys.exit(
            "wrk is not installed. On Debian/Ubuntu: apt-get update && apt-get install -y wrk\n"
            "(or build it from https://github.com/wg/wrk and put it on PATH)"
        )
    return path


def version(wrk: str) -> str:
    """wrk's version line."""
    done = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10, check=False)
    return (done.stdout or done.stderr).splitlines()[0].strip()


def run_wrk(
    wrk: str,
    base_url: str,
    mode: str,
    *,
    token: str | None,
    codes_file: Path | None,
    duration: int,
    connections: int,
    threads: int = 1,
) -> dict[str, Any]:
    """Run wrk once against one endpoint (an ``endpoint.lua`` mode) and return its parsed summary.

    The summary has ``requests``, ``duration_us``, ``bytes``, ``errors`` (connect, read, write, status,
    timeout), ``latency_us`` (p50, p90, p95, p99, max, mean), ``statuses`` and the computed ``rps``.
    """
    cmd = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "5s",
        "-s",
        str(WRK_SCRIPT),
    ]
    if token is not None:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    cmd += [base_url, "--", mode, str(codes_file) if codes_file else "-", str(threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def run_wrk_on(server: Server, wrk: str, mode: str, **options: Any) -> tuple[dict[str, Any], float, float]:
    """``run_wrk`` against ``server``; also return the CPU seconds the server used and the wall seconds."""
    cpu, started = server.cpu_seconds(), time.perf_counter()
    result = run_wrk(wrk, server.base_url, mode, **options)
    return result, server.cpu_seconds() - cpu, time.perf_counter() - started


def socket_errors(result: dict[str, Any]) -> int:
    """Errors of a wrk run other than non-2xx statuses: connect, read, write, timeout."""
    errors: dict[str, int] = result["errors"]
    return sum(errors.values()) - errors["status"]


def run_wrk_on_stack(
    server: Server, wrk: str, mode: str, database_url: str, **options: Any
) -> dict[str, Any]:
    """``run_wrk`` against a server on PostgreSQL and Redis; add the CPU seconds of all three.

    Also adds ``new_pg_sessions``, the connections PostgreSQL accepted on the database meanwhile.
    """
    database = database_url.rsplit("/", 1)[1]
    cpu = (cpu_by_comm("postgres", database), cpu_by_comm("redis-server"))
    sessions = pg_sessions(database_url)
    result, server_cpu, wall = run_wrk_on(server, wrk, mode, **options)
    after = (cpu_by_comm("postgres", database), cpu_by_comm("redis-server"))
    result["new_pg_sessions"] = pg_sessions(database_url) - sessions - 1  # less this function's own session
    result["wall_s"] = wall
    result["server_cpu_s"] = server_cpu
    result["postgres_cpu_s"] = after[0] - cpu[0]
    result["redis_cpu_s"] = after[1] - cpu[1]
    result["connections"] = options["connections"]
    return result
