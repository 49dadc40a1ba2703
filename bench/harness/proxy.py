"""TCP proxies that count what a server asks PostgreSQL and Redis for: its round trips per request.

A proxy listens on a free loopback port, forwards every byte both ways, and parses the client's
side of the protocol as it passes:

* PostgreSQL: after the untyped start-up messages, every message is a type byte and a length.
  A round trip ends with ``Sync`` (``S``, extended protocol: asyncpg's prepared statements) or is a
  ``Query`` (``Q``, simple protocol: asyncpg's BEGIN/COMMIT and ``;`` pings), so those are counted.
* Redis: every command is a RESP array (``*N`` then N bulk strings); commands are counted (the
  service sends one at a time, so each is a round trip).

It runs in a thread of the benchmark process with its own event loop; ``counts()`` reads the
totals so far, and ``stop()`` closes everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
from collections import Counter
from collections.abc import Callable

from harness import HOST
from harness.server import free_port

_SSL_REQUEST, _GSSENC_REQUEST = 80877103, 80877104


class _PostgresCounter:
    """Parse the frontend stream of one PostgreSQL connection, counting round trips by kind."""

    def __init__(self, counts: Counter[str]) -> None:
        self.counts = counts
        self.buffer = b""
        self.started = False

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if not self.started:
                if len(self.buffer) < 8:
                    return
                length, code = struct.unpack("!ii", self.buffer[:8])
                if len(self.buffer) < length:
                    return
                self.buffer = self.buffer[length:]
                self.started = code not in (_SSL_REQUEST, _GSSENC_REQUEST)
                continue
            if len(self.buffer) < 5:
                return
            kind = self.buffer[:1]
            (length,) = struct.unpack("!i", self.buffer[1:5])
            if len(self.buffer) < 1 + length:
                return
            body = self.buffer[5 : 1 + length]
            self.buffer = self.buffer[1 + length :]
            if kind == b"S":
                self.counts["statement"] += 1
            elif kind == b"Q":
                text = body.rstrip(b"\0").strip().split(b" ", 1)[0].upper().rstrip(b";") or b";"
                self.counts[text.decode("ascii", "replace").lower()] += 1


class _RedisCounter:
    """Parse the RESP commands of one Redis connection, counting them by name."""

    def __init__(self, counts: Counter[str]) -> None:
        self.counts = counts
        self.buffer = b""

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while self.buffer:
            parsed = self._one()
            if parsed is None:
                return
            name, used = parsed
            self.buffer = self.buffer[used:]
            self.counts[name] += 1

    def _one(self) -> tuple[str, int] | None:
        end = self.buffer.find(b"\r\n")
        if end < 0 or self.buffer[:1] != b"*":
            return None if end < 0 else ("inline", end + 2)
        items, pos, name = int(self.buffer[1:end]), end + 2, ""
        for i in range(items):
            line_end = self.buffer.find(b"\r\n", pos)
            if line_end < 0:
                return None
            size = int(self.buffer[pos + 1 : line_end])
            start = line_end + 2
            if len(self.buffer) < start + size + 2:
                return None
            if i == 0:
                name = self.buffer[start : start + size].decode("ascii", "replace").lower()
            pos = start + size + 2
        return name, pos


class CountingProxy:
    """Forward a loopback port to ``target_host:target_port``, counting the client's requests."""

    def __init__(self, target_host: str, target_port: int, protocol: str) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._make: Callable[[Counter[str]], _PostgresCounter | _RedisCounter] = (
            _PostgresCounter if protocol == "postgresql" else _RedisCounter
        )
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("counting proxy did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._serve, HOST, self.port))
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        local: Counter[str] = Counter()
        parser = self._make(local)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, count: bool) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await src.read(65536):
                    if count:
                        parser.feed(data)
                        with self._lock:
                            self._counts.update(local)
                        local.clear()
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(OSError, RuntimeError):
                dst.close()

        await asyncio.gather(pump(reader, up_writer, True), pump(up_reader, writer, False))

    def counts(self) -> Counter[str]:
        """The requests counted so far, by kind (``statement``, ``begin``, ``evalsha``, ...)."""
        with self._lock:
            return Counter(self._counts)

    def stop(self) -> None:
        """Close the listening socket and stop the proxy's loop (open connections are dropped)."""
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
