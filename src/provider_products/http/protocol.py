"""The HTTP/1.1 connection protocol ``serve`` runs: uvicorn's httptools protocol with two bounds.

Hand-written because uvicorn 0.54 has neither bound on its fast (httptools) protocol:

* **Header size.** httptools buffers an unfinished header name or value in Python bytes objects,
  without limit: 50 connections sending 10 MiB headers grew the server from 117 MiB to 645 MiB, and
  a complete 10 MiB header was answered 200. uvicorn's ``h11_max_incomplete_event_size`` applies to
  the slower h11 protocol only. Here the bytes of a request's head (request line and headers) are
  counted as they arrive: beyond ``max_header_bytes`` the request gets ``431 Request Header Fields
  Too Large`` and the connection is closed, so no connection ever holds more than the limit plus
  one socket read.
* **Request time.** uvicorn arms its keep-alive timer only after a response, and nothing while a
  request is being received: a connection that sends half a request (slowloris) or nothing at all
  stays open forever. Here a connection has ``timeout_keep_alive`` seconds to start its first
  request, and every request ``request_timeout`` seconds from its first byte until it is complete
  (head and body); otherwise it is answered ``408`` (if its head was not complete) and closed.

Both answers carry the contract's error envelope (``071-431`` with ``max_header_bytes``, ``071-408``
with ``timeout_seconds``) and a fresh ``X-Request-Id``, like every answer of the service; they are
rendered once per process, not per rejection.

A rejected connection is closed "lingering": the response is written, the write side shut, and
what the client still sends is read and dropped for a moment, so that closing a socket with unread
data does not reset the connection before the client has read the response.

The limits come from ``PROVIDER_PRODUCTS_MAX_HEADER_BYTES`` and ``PROVIDER_PRODUCTS_REQUEST_TIMEOUT``
(``serve`` sets them from its options), read from the environment because uvicorn's worker processes
receive the protocol class, not an instance.
"""

from __future__ import annotations

import asyncio
import functools
import os
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from provider_products.http.errors import envelope

DEFAULT_MAX_HEADER_BYTES = 32 * 1024
DEFAULT_REQUEST_TIMEOUT = 20.0
_LINGER_SECONDS = 1.0
_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}
_MESSAGES = {408: "Request not received in time", 431: "Request header fields too large"}


@functools.cache
def limits() -> tuple[int, float]:
    """Return ``(max_header_bytes, request_timeout)`` from the environment (defaults when unset)."""
    size = int(os.environ.get("PROVIDER_PRODUCTS_MAX_HEADER_BYTES", DEFAULT_MAX_HEADER_BYTES))
    timeout = float(os.environ.get("PROVIDER_PRODUCTS_REQUEST_TIMEOUT", DEFAULT_REQUEST_TIMEOUT))
    return size, timeout


@functools.cache
def rejection(status: int) -> tuple[bytes, bytes]:
    """Return the head (without its ``x-request-id`` line) and the envelope body of a 408 or 431."""
    max_header_bytes, request_timeout = limits()
    detail: dict[str, Any] = (
        {"max_header_bytes": max_header_bytes} if status == 431 else {"timeout_seconds": request_timeout}
    )
    body = envelope(f"071-{status}", _MESSAGES[status], detail)
    head = (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
        b"connection: close\r\n" % (status, _REASONS[status], len(body))
    )
    return head, body


class _Rejected(Exception):
    """Raised from a parser callback to stop parsing a request that was answered already."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bounded request head and a request-receiving timeout."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_header_bytes, self.request_timeout = limits()
        self._reading_head = True
        self._head_bytes = 0  # bytes received while the head is unfinished (bounds the buffer)
        self._head_size = 0  # parsed request line and headers (bounds a head read in one chunk)
        self._request_timer: asyncio.TimerHandle | None = None
        self._rejected = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A connection that never starts a request is idle like a kept-alive one.
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_request_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._rejected:
            return  # lingering: drop what the client still sends
        if self._reading_head:
            if self._request_timer is None:
                self._request_timer = self.loop.call_later(self.request_timeout, self._request_timed_out)
            self._head_bytes += len(data)
        super().data_received(data)
        if self._reading_head and not self._rejected and self._head_bytes > self.max_header_bytes:
            self._reject(431)

    def eof_received(self) -> None:
        if self._rejected:
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        if not self._rejected:  # a request answered 431 stops the parser with an exception
            super().send_400_response(msg)

    def on_message_begin(self) -> None:
        self._reading_head = True
        self._head_size = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._cancel_request_timer()
        self._reading_head = True
        self._head_bytes = 0
        super().on_message_complete()

    def _count(self, size: int) -> None:
        self._head_size += size
        if self._head_size > self.max_header_bytes:
            self._reject(431)
            raise _Rejected

    def _cancel_request_timer(self) -> None:
        if self._request_timer is not None:
            self._request_timer.cancel()
            self._request_timer = None

    def _request_timed_out(self) -> None:
        self._request_timer = None
        if self.transport.is_closing():
            return
        if self._reading_head:
            self.logger.info("Closing a connection whose request was not received in time")
            self._reject(408)
        else:
            # The application is reading the body: it sees a disconnect.
            self.transport.close()

    def _reject(self, status: int) -> None:
        """Answer ``status`` with the error envelope, shut the write side and close after a linger."""
        self._rejected = True
        self._cancel_request_timer()
        self._unset_keepalive_if_required()
        head, body = rejection(status)
        request_id = os.urandom(16).hex().encode()
        self.transport.write(b"%sx-request-id: %s\r\n\r\n%s" % (head, request_id, body))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(_LINGER_SECONDS, self.transport.close)
