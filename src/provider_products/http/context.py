"""The request's context: its id (a context variable, for every log line), the headers every answer carries.

The request id is the caller's sane ``X-Request-Id`` or a fresh one. It lives in ``REQUEST_ID`` for the
whole request, so the log filter of ``observability`` stamps it on every line logged while serving it,
the server's own access and error lines included. Edge pieces that learn something every answer must
say (the rate-limit headers, say) add it with ``add_response_headers``; this piece appends those
headers to whatever answer goes out, the routes' and the edge's own errors alike.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from provider_products.http.asgi import header

REQUEST_ID: ContextVar[str | None] = ContextVar("provider_products_request_id", default=None)

_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_KEY = "provider_products.request_context"


@dataclass(slots=True)
class RequestContext:
    """What the edge knows of one request: its id, the headers of its answer, its status once sent."""

    request_id: str
    response_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    status: int = 0

    @property
    def started(self) -> bool:
        """Say whether the answer's status line has gone out (after which no other answer can)."""
        return self.status != 0


def current_request_id() -> str | None:
    """Return the id of the request being served, or None outside any request."""
    return REQUEST_ID.get()


def request_context(scope: Scope) -> RequestContext:
    """Return the context ``RequestContextMiddleware`` gave this request."""
    context: RequestContext = scope["state"][_KEY]
    return context


def add_response_headers(scope: Scope, headers: Mapping[str, str]) -> None:
    """Have every answer to this request carry ``headers``."""
    request_context(scope).response_headers.extend(
        (k.lower().encode(), v.encode()) for k, v in headers.items()
    )


class RequestContextMiddleware:
    """Give each request its id and context, and every answer its ``X-Request-Id`` and added headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = header(scope, b"x-request-id")
        request_id = given if given and _SANE_REQUEST_ID.fullmatch(given) else os.urandom(16).hex()
        context = RequestContext(request_id, [(b"x-request-id", request_id.encode())])
        scope.setdefault("state", {})[_KEY] = context

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                context.status = message["status"]
                message["headers"] = [*message.get("headers", []), *context.response_headers]
            await send(message)

        token = REQUEST_ID.set(request_id)
        await self.app(scope, receive, send_with_headers)
        # Reset only on a normal return: when an exception escapes to the server, the id stays set
        # so that the server's error line carries it too (servers run each request in a task of
        # its own, whose context ends with it).
        REQUEST_ID.reset(token)
