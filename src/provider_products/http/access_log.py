"""The operators' record of each request: one log line (who, what, how long) and its metrics."""

from __future__ import annotations

import logging
import time

from prometheus_client import Counter, Histogram
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
        # Looking a labelled series up in prometheus_client takes a lock and costs microseconds.
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

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
        method, status = scope["method"], context.status
        series = self._series.get((method, template, status))
        if series is None:
            series = REQUESTS.labels(method, template, str(status)), LATENCY.labels(method, template)
            self._series[method, template, status] = series
        series[0].inc()
        series[1].observe(seconds)
        if not self.log_requests:
            return
        if not logger.isEnabledFor(logging.INFO):
            return
        caller = caller_of(scope)
        line = {
            "request_id": context.request_id,
            "method": method,
            "path": scope["path"],
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "client_id": caller.client_id if caller else None,
            "provider": caller.provider_slug if caller else None,
        }
        # ``logger.info`` would look up the caller's source line in the stack (``findCaller``) for a
        # record whose source is always this line: a sizeable share of a trivial request's cost.
        record = logger.makeRecord(
            logger.name, logging.INFO, __file__, 0, "request", (), None, "_observe", {"context": line}
        )
        logger.handle(record)
