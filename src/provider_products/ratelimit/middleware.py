"""The API rate limit at the edge: every authenticated request counts against its client's limit.

The hit happens before routing and body parsing, so every request of a caller counts whatever its
outcome (404, 422, 201 alike); the decision's headers go on every answer to the request.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from provider_products.auth.caller import caller_of
from provider_products.errors import RateLimited
from provider_products.http.context import add_response_headers
from provider_products.observability import RATE_LIMITED
from provider_products.runtime import Runtime


class RateLimitMiddleware:
    """Count the caller's request against its limit (its own or the default); refuse with 429 past it."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        caller = caller_of(scope) if scope["type"] == "http" else None
        if caller is not None:
            limit, window = self.runtime.rate_of(caller.rate_limit)
            decision = await self.runtime.limiter.hit(f"api:{caller.client_id}", limit=limit, window=window)
            add_response_headers(scope, decision.headers())
            if not decision.allowed:
                RATE_LIMITED.labels("api").inc()
                raise RateLimited(decision.reset_after, {})
        await self.app(scope, receive, send)
