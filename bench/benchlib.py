"""Shared helpers of the benchmark scripts: admin CLI, one real server process, tokens, statistics.

Everything here is bounded in time (every subprocess and poll has a deadline) and the server is
always stopped by the process id this module started, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import httpx

BENCH_DIR = Path(__file__).resolve().parent
OUT_DIR = BENCH_DIR / "out"
HOST = "127.0.0.1"


def cli_path() -> str:
    """Return the ``provider-products`` executable next to the running interpreter (the venv's)."""
    candidate = Path(sys.executable).parent / "provider-products"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("provider-products")
    if found is None:
        raise SystemExit(
            "provider-products not found: run with the project's venv, e.g. .venv/bin/python bench/..."
        )
    return found


def service_env(db_path: Path) -> dict[str, str]:
    """Return the environment for the CLI and the server: this database, no sandbox seeding."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVIDER_PRODUCTS_")}
    env["PROVIDER_PRODUCTS_DATABASE_URL"] = f"sqlite:///{db_path.resolve()}"
    env["PROVIDER_PRODUCTS_SEED_SANDBOX"] = "false"
    env["PROVIDER_PRODUCTS_ENVIRONMENT"] = "sandbox"
    return env


def run_cli(args: Sequence[str], env: dict[str, str], timeout: float = 300.0) -> str:
    """Run one ``provider-products`` admin command and return its stdout; fail loudly with its stderr."""
    done = subprocess.run(
        [cli_path(), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"provider-products {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def import_catalogue(env: dict[str, str], catalogue: Path) -> float:
    """Create/migrate the database and import ``catalogue`` through the admin CLI; return seconds taken."""
    started = time.perf_counter()
    run_cli(["catalogue", "import", str(catalogue)], env, timeout=600)
    return time.perf_counter() - started


@dataclass(frozen=True)
class Credentials:
    """An OAuth client of a provider."""

    provider_slug: str
    client_id: str
    client_secret: str


def create_client(env: dict[str, str], slug: str) -> Credentials:
    """Create a provider and one client with every bench scope and a huge rate-limit override."""
    run_cli(["providers", "create", slug, "--name", f"Bench {slug}"], env, timeout=60)
    out = run_cli(
        [
            "clients",
            "create",
            "--provider",
            slug,
            "--scopes",
            "arc:read arc:write",
            "--rate-limit",
            "100000000/minute",
            "--json",
        ],
        env,
        timeout=60,
    )
    data = json.loads(out.strip().splitlines()[-1])
    return Credentials(slug, data["client_id"], data["client_secret"])


def free_port() -> int:
    """Return a TCP port free on the loopback interface right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _raise_system_exit(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def exit_cleanly_on_sigterm() -> None:
    """Turn SIGTERM/SIGHUP into SystemExit so that ``finally`` blocks stop the server."""
    signal.signal(signal.SIGTERM, _raise_system_exit)
    signal.signal(signal.SIGHUP, _raise_system_exit)


def _proc_status(pid: int, field: str) -> float:
    """Return a ``kB`` field of ``/proc/<pid>/status`` (VmRSS, VmHWM) in MiB, NaN if unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


def descendants(pid: int) -> list[int]:
    """Return the process ids of every descendant of ``pid`` (uvicorn's worker processes)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                children = [int(c) for c in task.read_text().split()]
            except OSError:
                continue
            found.extend(children)
            todo.extend(children)
    return found


class Server:
    """One ``provider-products serve`` process (and its workers) on a free loopback port, stopped on exit.

    ``spawned_at`` and ``ready_at`` are ``time.perf_counter()`` readings: when the process was started
    and when ``/healthz`` first answered 200.
    """

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        ready_timeout: float = 60.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.env = env
        self.log_path = log_path
        self.ready_timeout = ready_timeout
        self.extra_args = list(extra_args)
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.spawned_at = math.nan
        self.ready_at = math.nan
        self._known_children: set[int] = set()

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the server and wait until ``/healthz`` answers 200 (or fail with the log's tail)."""
        with self.log_path.open("wb") as log:
            self.spawned_at = time.perf_counter()
            self.proc = subprocess.Popen(
                [cli_path(), "serve", "--host", HOST, "--port", str(self.port), *self.extra_args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + self.ready_timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
                try:
                    if client.get(f"{self.base_url}/healthz").status_code == 200:
                        self.ready_at = time.perf_counter()
                        self._known_children.update(descendants(self.proc.pid))
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server not ready within {self.ready_timeout:.0f}s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop the server by its pid: SIGTERM, then SIGKILL after 10 seconds; then any worker left."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._known_children.update(descendants(self.proc.pid))
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        for child in self._known_children:  # workers are normally stopped by uvicorn's supervisor
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(child, signal.SIGKILL)
        self._known_children.clear()

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.proc is not None
        return self.proc.pid

    def pids(self) -> list[int]:
        """The server's process and its live descendants (uvicorn workers with ``--workers N``)."""
        children = descendants(self.pid)
        self._known_children.update(children)
        return [self.pid, *children]

    def cpu_seconds(self) -> float:
        """Return the CPU time (user + system) the server and its workers have used so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / ticks
        return total

    def rss_mib(self) -> float:
        """Return the server's resident memory in MiB (its own process only)."""
        return _proc_status(self.pid, "VmRSS")

    def worker_pids(self) -> list[int]:
        """The processes serving requests: uvicorn's workers (not multiprocessing's resource tracker),
        or the server process itself when it runs one worker."""
        workers = []
        for pid in descendants(self.pid):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"resource_tracker" not in cmdline:
                workers.append(pid)
        return workers or [self.pid]

    def worker_rss_mib(self) -> list[float]:
        """Resident memory (MiB) of every process serving requests."""
        return [_proc_status(pid, "VmRSS") for pid in self.worker_pids()]

    def worker_peak_rss_mib(self) -> list[float]:
        """Peak resident memory (VmHWM, MiB) of every process serving requests."""
        return [_proc_status(pid, "VmHWM") for pid in self.worker_pids()]

    def log_tail(self, lines: int = 30) -> str:
        """Return the last lines of the server's log."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def get_token(base_url: str, credentials: Credentials) -> str:
    """Get an access token with the client-credentials grant."""
    response = httpx.post(
        f"{base_url}/v1/oauth/token",
        auth=(credentials.client_id, credentials.client_secret),
        data={"grant_type": "client_credentials"},
        timeout=30,
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def percentile(values: Sequence[float], pct: float) -> float:
    """Return the ``pct`` percentile with linear interpolation between closest ranks (NumPy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    """Return the median, NaN for no values."""
    return percentile(values, 50)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def machine_info() -> dict[str, Any]:
    """Describe the machine and software the numbers were measured on."""
    cpu = "-"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "loadavg_at_start": list(os.getloadavg()),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "packages": {
            p: _version(p)
            for p in ("provider-products", "fastapi", "starlette", "uvicorn", "sqlalchemy", "httpx")
        },
    }


def write_results(
    stem: str, data: dict[str, Any], markdown: str, out_dir: Path = OUT_DIR
) -> tuple[Path, Path]:
    """Write ``<stem>-<timestamp>.json`` and ``.md`` (plus ``<stem>-latest.*`` copies) under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    json_path, md_path = out_dir / f"{stem}-{stamp}.json", out_dir / f"{stem}-{stamp}.md"
    json_path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(markdown, encoding="utf-8")
    shutil.copyfile(json_path, out_dir / f"{stem}-latest.json")
    shutil.copyfile(md_path, out_dir / f"{stem}-latest.md")
    return json_path, md_path


def md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Render a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
