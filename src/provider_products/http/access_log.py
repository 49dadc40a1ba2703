"""The operators' record of each request: one log line (who, what, how long) and its metrics."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from provider_products.auth.caller import caller_of
from provider_products.http.context import request_context
from provider_products.observability import LATENCY, REQUESTS

logger = logging.getLogger("provider_products.request")


class AccessLogMiddleware:
    """Count and time every request by route template and status, and log one line with its caller."""

    def __init__(self, app: ASGIApp, *, log_requests: bool) -> None:
        self.app = app
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self._observe(scope, time.perf_counter() - began)

    def _observe(self, scope: Scope, seconds: float) -> None:
        context = request_context(scope)
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        REQUESTS.labels(scope["method"], template, str(context.status)).inc()
        LATENCY.labels(scope["method"], template).observe(seconds)
        if not self.log_requests:
            return
        caller = caller_of(scope)
        line = {
            "request_id": context.request_id,
            "method": scope["method"],
            "path": scope["path"],
            "status": context.status,
            "duration_ms": round(seconds * 1000, 2),
            "client_id": caller.client_id if caller else None,
            "provider": caller.provider_slug if caller else None,
        }
        logger.info("request", extra={"context": line})
