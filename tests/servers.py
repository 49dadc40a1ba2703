"""Real ``provider-products serve`` processes for process-level tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

CLI = Path(sys.executable).parent / "provider-products"
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


def free_port() -> int:
    """Return a TCP port that is free on the loopback interface now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**settings: str) -> dict[str, str]:
    """The caller's environment without any PROVIDER_PRODUCTS_* variable, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVIDER_PRODUCTS_")}
    env.update({f"PROVIDER_PRODUCTS_{k.upper()}": v for k, v in settings.items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Server:
    """A running ``provider-products serve`` process and what it printed."""

    process: subprocess.Popen[bytes]
    base_url: str
    port: int
    stdout_path: Path
    stderr_path: Path

    @property
    def stdout(self) -> str:
        """Everything the server printed on stdout so far."""
        return self.stdout_path.read_text("utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        """Everything the server printed on stderr so far."""
        return self.stderr_path.read_text("utf-8", errors="replace")

    def stop(self) -> int | None:
        """SIGTERM, wait; kill if it does not stop. Return the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
        return self.process.returncode


def start_server(workdir: Path, env: dict[str, str], name: str, *extra: str) -> Server:
    """Start ``serve`` on a free port and wait until ``/healthz`` answers (bounded)."""
    port = free_port()
    stdout_path, stderr_path = workdir / f"{name}.stdout", workdir / f"{name}.stderr"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(
            [str(CLI), "serve", "--host", "127.0.0.1", "--port", str(port), *extra],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=err,
        )
    server = Server(process, f"http://127.0.0.1:{port}", port, stdout_path, stderr_path)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if process.poll() is not None:
            raise AssertionError(
                f"server exited with {process.returncode}:\n{server.stdout}\n{server.stderr}"
            )
        # Only trust /healthz once this process says it holds the port (not some other server on it).
        if f"Uvicorn running on {server.base_url}" in server.stderr:
            try:
                if httpx.get(f"{server.base_url}/healthz", timeout=2).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
        if time.monotonic() > deadline:
            server.stop()
            raise AssertionError(f"server not up after {STARTUP_TIMEOUT}s:\n{server.stdout}\n{server.stderr}")
        time.sleep(0.1)
