"""One real ``provider-products serve`` process on a free loopback port, and waiting for its search index."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from harness import HOST, procfs
from harness.admin import cli_path


def free_port() -> int:
    """Return a TCP port free on the loopback interface right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


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
        command: Sequence[str] | None = None,
    ) -> None:
        """``command`` replaces ``provider-products serve``: another ASGI server answering
        ``/healthz``, its ``{host}`` and ``{port}`` filled in (``extra_args`` follow it)."""
        self.command = list(command) if command is not None else None
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
            argv = (
                [cli_path(), "serve", "--host", HOST, "--port", "{port}"]
                if self.command is None
                else self.command
            )
            self.proc = subprocess.Popen(
                [a.format(host=HOST, port=self.port) for a in argv] + self.extra_args,
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
                        self._known_children.update(procfs.descendants(self.proc.pid))
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
            self._known_children.update(procfs.descendants(self.proc.pid))
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
        children = procfs.descendants(self.pid)
        self._known_children.update(children)
        return [self.pid, *children]

    def cpu_seconds(self) -> float:
        """Return the CPU time (user + system) the server and its workers have used so far."""
        return procfs.cpu_seconds(self.pids())

    def rss_mib(self) -> float:
        """Return the server's resident memory in MiB (its own process only)."""
        return procfs.rss_mib(self.pid)

    def worker_pids(self) -> list[int]:
        """The processes serving requests: uvicorn's workers (not multiprocessing's resource tracker),
        or the server process itself when it runs one worker."""
        workers = []
        for pid in procfs.descendants(self.pid):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"resource_tracker" not in cmdline:
                workers.append(pid)
        return workers or [self.pid]

    def worker_rss_mib(self) -> list[float]:
        """Resident memory (MiB) of every process serving requests."""
        return [procfs.rss_mib(pid) for pid in self.worker_pids()]

    def worker_peak_rss_mib(self) -> list[float]:
        """Peak resident memory (VmHWM, MiB) of every process serving requests."""
        return [procfs.status_mib(pid, "VmHWM") for pid in self.worker_pids()]

    def log_tail(self, lines: int = 30) -> str:
        """Return the last lines of the server's log."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _first_search(
    client: httpx.Client, path: str, params: dict[str, str], limit_s: float
) -> tuple[float, float, list[str]]:
    """Search until one answers 200 (503 while building the index failed: each search retries it).

    Returns when that search was sent and answered (``perf_counter`` readings) and the failures before.
    """
    deadline = time.monotonic() + limit_s
    failures: list[str] = []
    while True:
        started = time.perf_counter()
        response = client.get(path, params=params)
        answered = time.perf_counter()
        if response.status_code == 200:
            return started, answered, failures
        failures.append(f"{response.status_code} after {answered - started:.1f} s: {response.text[:200]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no search answered 200 within {limit_s:.0f} s: {failures}")
        time.sleep(1)


def wait_for_index(
    server: Server, token: str, workers: int, limit_s: float, path: str, params: dict[str, str]
) -> dict[str, Any]:
    """Wait until a search is answered (the index is built); with several workers, until all are warm.

    A fresh connection may land on any worker: rounds of 16 parallel searches on fresh connections
    are repeated until none waits for an index build. Returns the start-up timings (seconds from the
    process start) and the workers' RSS before and after.
    """
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + limit_s
    rss_ready = server.worker_rss_mib()
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=limit_s) as client:
        started, answered, failures = _first_search(client, path, params, limit_s)
    all_warm = answered

    def one(_: int) -> float:
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=limit_s) as fresh:
            t0 = time.perf_counter()
            fresh.get(path, params=params).raise_for_status()
            return time.perf_counter() - t0

    if workers > 1:
        with ThreadPoolExecutor(max_workers=8) as pool:
            while max(pool.map(one, range(16))) >= 0.25:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"workers not all warm within {limit_s:.0f} s")
                time.sleep(0.2)
        all_warm = time.perf_counter()
    return {
        "ready_s": server.ready_at - server.spawned_at,
        "first_search_s": answered - server.spawned_at,
        "first_search_latency_s": answered - started,
        "all_workers_warm_s": all_warm - server.spawned_at,
        "worker_rss_mib_at_ready": rss_ready,
        "worker_rss_mib_after_index": server.worker_rss_mib(),
        "failed_first_searches": failures,
    }
