"""Connections against a real ``serve`` process: bounded request heads, timeouts, memory, the port.

Each test starts its own server with short timeouts, so that nothing waits for the defaults.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import servers
from tests.servers import CLI, Server, clean_env

pytestmark = pytest.mark.slow

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A sandbox server that gives a request 1 s and an idle connection 1 s."""
    workdir = tmp_path_factory.mktemp("connections")
    env = clean_env(database_url=f"sqlite:///{workdir / 'db.sqlite'}", log_requests="false")
    started = servers.start_server(
        workdir, env, "server", "--request-timeout", "1", "--keep-alive-timeout", "1"
    )
    try:
        yield started
    finally:
        started.stop()


def _connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _status(sock: socket.socket) -> int | None:
    """The status of the response on ``sock``, or None if it closed without one."""
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split()[1]) if data.startswith(b"HTTP/1.1 ") else None


def _response(sock: socket.socket) -> tuple[int, dict[str, str], dict[str, object]]:
    """Read a whole answer until the server closes: its status, headers and JSON body."""
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines)
    assert len(body) == int(headers["content-length"])
    return int(status_line.split()[1]), headers, json.loads(body)


def _closed_within(sock: socket.socket, seconds: float) -> float:
    """Read until the server closes; return how long it took (fails beyond ``seconds``)."""
    sock.settimeout(seconds)
    start = time.monotonic()
    with contextlib.suppress(ConnectionResetError):
        while sock.recv(4096):
            pass
    return time.monotonic() - start


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_header_of_100_kib_is_answered_431(server: Server) -> None:
    with _connect(server) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100 * 1024 + b"\r\n\r\n")
        assert _status(sock) == 431


def test_header_beyond_limit_is_answered_with_the_error_envelope(server: Server) -> None:
    with _connect(server) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40 * 1024 + b"\r\n\r\n")
        status, headers, body = _response(sock)
    assert status == 431
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])
    assert body == {
        "error_code": "071-431",
        "message": "Request header fields too large",
        "additional_information": {"max_header_bytes": 32768},
    }


def test_header_within_limit_is_served(server: Server) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 24 * 1024 + b"\r\n\r\n")
        assert _status(sock) == 200


def test_many_small_headers_beyond_limit_are_answered_431(server: Server) -> None:
    headers = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(500))
    with _connect(server) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
        assert _status(sock) == 431


def test_half_request_is_answered_408_and_closed_after_timeout(server: Server) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        start = time.monotonic()
        assert _status(sock) == 408
        elapsed = time.monotonic() - start + _closed_within(sock, 5)
    assert 0.5 < elapsed < 4


def test_half_request_is_answered_with_the_error_envelope(server: Server) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        status, headers, body = _response(sock)
    assert status == 408
    assert headers["content-type"] == "application/json"
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])
    assert body == {
        "error_code": "071-408",
        "message": "Request not received in time",
        "additional_information": {"timeout_seconds": 1.0},
    }


def test_slow_header_bytes_do_not_extend_the_timeout(server: Server) -> None:
    with _connect(server) as sock:
        start = time.monotonic()
        with contextlib.suppress(OSError):
            for _ in range(8):  # a byte every 0.25 s: slowloris
                sock.sendall(b"X")
                time.sleep(0.25)
        _closed_within(sock, 5)
    assert time.monotonic() - start < 4


def test_half_body_is_closed_after_timeout(server: Server) -> None:
    with _connect(server) as sock:
        sock.sendall(
            b"POST /v1/oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 100\r\n\r\ngrant_type="
        )
        assert _closed_within(sock, 5) < 4


def test_connection_that_sends_nothing_is_closed_after_keep_alive_timeout(server: Server) -> None:
    with _connect(server) as sock:
        assert _closed_within(sock, 5) < 3


def test_fifty_connections_with_10_mib_headers_keep_rss_bounded(server: Server) -> None:
    # Before: 50 such connections took the server from 117 MiB to 645 MiB.
    before = _rss_kib(server.process.pid)
    chunk = b"a" * MIB
    socks = [_connect(server) for _ in range(50)]
    try:
        for sock in socks:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        for _ in range(10):
            for sock in socks:
                with contextlib.suppress(OSError):
                    sock.settimeout(0.2)
                    sock.send(chunk)
        peak = _rss_kib(server.process.pid)
    finally:
        for sock in socks:
            sock.close()
    print(f"RSS before {before} KiB, under 50 connections {peak} KiB")
    assert peak - before < 40 * 1024, f"RSS grew from {before} KiB to {peak} KiB"
    with _connect(server) as sock:  # and the server still serves
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _status(sock) == 200


def test_serve_on_busy_port_fails_first_and_creates_nothing(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        db = tmp_path / "db.sqlite"
        done = subprocess.run(
            [str(CLI), "serve", "--port", str(port)],
            cwd=tmp_path,
            env=clean_env(database_url=f"sqlite:///{db}"),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr
    assert "client_secret" not in done.stdout
    assert not db.exists()
