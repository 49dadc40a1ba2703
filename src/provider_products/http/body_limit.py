"""The request body limit: 413 ``071-413`` for a body over ``max_body_bytes``, declared or streamed."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from provider_products.errors import BodyTooLarge
from provider_products.http.asgi import header
from provider_products.http.errors import send_error


class _BodyTooLarge(Exception):
    """Raised from ``receive`` to stop whoever reads a body past the limit."""


def _framed(scope: Scope, length: str | None) -> bool:
    """Say whether the server already holds the body to a known size: a valid ``Content-Length``, or
    HTTP/1 without one and without ``Transfer-Encoding`` (which means no body at all)."""
    if length is not None:
        return length.isdigit()
    return scope.get("http_version") in ("1.0", "1.1") and header(scope, b"transfer-encoding") is None


class BodyLimitMiddleware:
    """Refuse a declared ``Content-Length`` over the limit at once, and a streamed body when it passes it.

    A streamed body is cut off inside ``receive``; whatever the application then answers (a 400 for
    the body it could not read, usually) is replaced by the 413. A body whose size the server
    already enforces (see ``_framed``) is left alone, which spares most requests two wrappers.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, paths: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Exact paths with a limit of their own (the portal's inventory upload takes files).
        self.paths = dict(paths or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.paths.get(scope["path"], self.max_bytes) if self.paths else self.max_bytes
        length = header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise self._error(limit)
        if _framed(scope, length):
            await self.app(scope, receive, send)
            return
        received = 0
        too_large = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise _BodyTooLarge
            return message

        async def send_unless_too_large(message: Message) -> None:
            nonlocal started
            if too_large:
                if not started:
                    # The application turned the aborted body read into an error of its own; answer 413.
                    started = True
                    await send_error(self._error(limit), scope, receive, send)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, send_unless_too_large)
        except _BodyTooLarge:
            if not started:
                await send_error(self._error(limit), scope, receive, send)

    def _error(self, limit: int) -> BodyTooLarge:
        return BodyTooLarge(additional_information={"max_bytes": limit})
