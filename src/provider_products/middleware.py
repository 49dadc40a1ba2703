"""The edge of every request: request id, body limit, bearer authentication, rate limit, last-resort 500.

It is a plain ASGI middleware (no per-request task or buffering) so that it costs microseconds.
Authentication and rate limiting happen here, before routing and body parsing, so that every
authenticated request counts against its client's limit whatever its outcome.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from provider_products.auth.dependencies import Caller
from provider_products.auth.security import TokenInvalid
from provider_products.errors import AuthenticationFailed, BodyTooLarge, RateLimited, ServiceError
from provider_products.http.errors import envelope
from provider_products.observability import LATENCY, RATE_LIMITED, REQUESTS
from provider_products.runtime import Runtime

logger = logging.getLogger("provider_products.request")

PROTECTED_PREFIXES = ("/arc/", "/medical-catalogs/", "/ehr/", "/dispensing/")
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class _BodyTooLarge(Exception):
    pass


def header(scope: Scope, name: bytes) -> str | None:
    """Return a request header's value from an ASGI scope, or None."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _send_error(exc: ServiceError, extra_headers: list[tuple[bytes, bytes]], send: Send) -> None:
    body = envelope(exc.error_code, exc.message, exc.additional_information)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in exc.headers.items()),
        *extra_headers,
    ]
    await send({"type": "http.response.start", "status": exc.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class EdgeMiddleware:
    """Wrap the application with the cross-cutting rules of the contract."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = header(scope, b"x-request-id")
        request_id = given if given and _SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        extra_headers: list[tuple[bytes, bytes]] = [(b"x-request-id", request_id.encode())]
        started = False
        status = 0
        began = time.perf_counter()
        limit = self.runtime.settings.max_body_bytes
        received = 0
        too_large = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started, status
            if too_large and not started:
                # The application turned the aborted body read into an error of its own; answer 413.
                started, status = True, 413
                await _send_error(
                    BodyTooLarge(additional_information={"max_bytes": limit}), extra_headers, send
                )
                return
            if too_large:
                return
            if message["type"] == "http.response.start":
                started, status = True, message["status"]
                message["headers"] = [*message.get("headers", []), *extra_headers]
            await send(message)

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise _BodyTooLarge
            return message

        try:
            length = header(scope, b"content-length")
            if length is not None and length.isdigit() and int(length) > limit:
                raise BodyTooLarge(additional_information={"max_bytes": limit})
            if scope["path"].startswith(PROTECTED_PREFIXES):
                caller, (rate, window) = await self._authenticate(scope)
                decision = await self.runtime.limiter.hit(
                    f"api:{caller.client_id}", limit=rate, window=window
                )
                extra_headers.extend((k.lower().encode(), v.encode()) for k, v in decision.headers().items())
                if not decision.allowed:
                    RATE_LIMITED.labels("api").inc()
                    raise RateLimited(decision.reset_after, {})
                state["caller"] = caller
            await self.app(scope, limited_receive, send_with_headers)
        except _BodyTooLarge:
            if not started:
                status = 413
                too_large_error = BodyTooLarge(additional_information={"max_bytes": limit})
                await _send_error(too_large_error, extra_headers, send)
        except ServiceError as exc:
            if started:
                raise
            status = exc.status_code
            await _send_error(exc, extra_headers, send)
        except Exception:
            context = {"request_id": request_id, "path": scope["path"]}
            logger.exception("unhandled error", extra={"context": context})
            if started:
                raise
            status = 500
            failure = ServiceError(additional_information={"request_id": request_id})
            await _send_error(failure, extra_headers, send)
        finally:
            self._observe(scope, state, status, time.perf_counter() - began)

    def _observe(self, scope: Scope, state: dict[str, Any], status: int, seconds: float) -> None:
        """Count and time the request, and log one line with who made it."""
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        REQUESTS.labels(scope["method"], template, str(status)).inc()
        LATENCY.labels(scope["method"], template).observe(seconds)
        if not self.runtime.settings.log_requests:
            return
        caller = state.get("caller")
        context = {
            "request_id": state.get("request_id"),
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "client_id": getattr(caller, "client_id", None),
            "provider": getattr(caller, "provider_slug", None),
        }
        logger.info("request", extra={"context": context})

    async def _authenticate(self, scope: Scope) -> tuple[Caller, tuple[int, int]]:
        """Resolve the bearer token to its caller and that client's rate limit, or raise 401."""
        authorization = header(scope, b"authorization")
        if not authorization:
            raise AuthenticationFailed("Missing bearer token")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailed("Authorization must be 'Bearer <token>'")
        try:
            claims = self.runtime.verifier.verify(token.strip())
        except TokenInvalid:
            raise AuthenticationFailed("Invalid or expired token") from None
        client = await self.runtime.directory.get(claims.client_id)
        if client is None or not client.is_active or client.provider_slug != claims.provider_slug:
            raise AuthenticationFailed("Invalid or expired token")
        caller = Caller(
            client_id=client.client_id,
            provider_id=client.provider_id,
            provider_slug=client.provider_slug,
            scopes=claims.scopes & client.scopes,
        )
        return caller, self.runtime.rate_of(client.rate_limit)
