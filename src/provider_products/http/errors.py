"""Every error's HTTP form: the contract's envelope, rendered for domain, validation and HTTP errors alike.

Routes raise domain errors (``provider_products.errors``) and FastAPI raises its own; the handlers
installed by ``install_error_handlers`` render both. Errors raised outside the routes, by the edge
pieces, reach ``ErrorMiddleware``, which renders them the same way and answers anything unexpected
with a 500 that reveals nothing but the request id. The token endpoint's refusals are the same
envelope plus the two fields RFC 6749 section 5.2 asks for. ``ErrorBody`` and ``responses`` describe
the envelope in the OpenAPI document.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from provider_products.errors import (
    BodyTooLarge,
    MalformedRequest,
    MethodNotAllowed,
    RouteNotFound,
    ServiceError,
    TokenError,
    ValidationFailed,
)
from provider_products.http.context import current_request_id, request_context
from provider_products.http.routing import served_routes

logger = logging.getLogger("provider_products.request")


class ErrorBody(BaseModel):
    """The body of every error the service produces."""

    error_code: str = Field(examples=["071-102"])
    message: str = Field(examples=["Product already registered"])
    additional_information: dict[str, Any] = Field(examples=[{"product_code": "MED-042"}])


_DESCRIPTIONS = {
    400: "Malformed request (071-100)",
    401: "Authentication failed (071-401)",
    403: "Scope missing (071-403)",
    404: "Not found",
    409: "Conflict",
    413: "Request body too large (071-413)",
    422: "Validation error (071-105)",
    429: "Rate limit exceeded (071-429)",
    500: "Unexpected failure (071-500)",
    503: "A store is unavailable (071-503)",
}


def responses(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """Describe error responses for the OpenAPI document; every one has the error envelope."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        out[status] = {
            "model": ErrorBody,
            "description": descriptions.get(f"e{status}", _DESCRIPTIONS[status]),
        }
    return out


AUTHENTICATED = (401, 403, 429, 500, 503)


def envelope(error_code: str, message: str, additional_information: dict[str, Any] | None = None) -> bytes:
    """Render the contract's error body."""
    return orjson.dumps(
        {
            "error_code": error_code,
            "message": message,
            "additional_information": additional_information or {},
        }
    )


def error_response(exc: ServiceError, headers: Mapping[str, str] | None = None) -> Response:
    """Turn an error into its HTTP response, with ``headers`` added (the token endpoint's rate limit)."""
    if isinstance(exc, TokenError):
        return _token_error_response(exc, headers or {})
    return Response(
        envelope(exc.error_code, exc.message, exc.additional_information),
        status_code=exc.status_code,
        headers={**exc.headers, **(headers or {})},
        media_type="application/json",
    )


def _token_error_response(exc: TokenError, headers: Mapping[str, str]) -> Response:
    """Render an RFC 6749 section 5.2 error: ``error`` and ``error_description`` inside the envelope."""
    body = {
        "error": exc.error,
        "error_description": exc.message,
        "error_code": exc.error_code,
        "message": exc.message,
        "additional_information": {},
    }
    extra = dict(headers)
    if exc.status_code == 401:
        extra["WWW-Authenticate"] = 'Basic realm="provider-products"'
    return Response(
        orjson.dumps(body),
        status_code=exc.status_code,
        media_type="application/json",
        headers={**exc.headers, **extra, "Cache-Control": "no-store"},
    )


def _field_path(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    """Flatten FastAPI/pydantic validation errors into ``{"field", "message"}`` items."""
    items = []
    for error in exc.errors():
        message = str(error.get("msg", "invalid value"))
        if error.get("type") == "missing":
            message = "Field required"
        items.append({"field": _field_path(tuple(error.get("loc", ()))), "message": message})
    return items


async def _service_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    return error_response(exc)


async def _request_validation(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") in {"json_invalid", "json_type"} for e in errors):
        return error_response(MalformedRequest("Request body is not valid JSON"))
    # A body that arrived as raw bytes or text means it was not JSON at all.
    if any(
        e.get("loc", ())[:1] == ("body",)
        and isinstance(e.get("input"), (bytes, str))
        and e.get("loc") == ("body",)
        for e in errors
    ):
        return error_response(MalformedRequest("Request body must be a JSON object"))
    return error_response(ValidationFailed(validation_errors(exc)))


def allowed_methods(app: Any, scope: Scope) -> list[str]:
    """List every method the application's router serves on the request's path."""
    # Match from the application's root, not from inside the mount that may have raised the 405.
    scope = {**scope, "root_path": scope.get("app_root_path", scope.get("root_path", ""))}
    allowed: set[str] = set()
    for declared, served in served_routes(app.router.routes):
        match, _ = served.matches(scope)
        if match is Match.NONE:
            continue
        if isinstance(declared, Mount) and isinstance(declared.app, StaticFiles):
            allowed |= {"GET", "HEAD"}
        allowed |= getattr(served, "methods", None) or set()
    return sorted(allowed)


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return error_response(RouteNotFound())
    if exc.status_code == 405:
        response = error_response(MethodNotAllowed())
        response.headers["Allow"] = ", ".join(allowed_methods(request.app, request.scope))
        return response
    if exc.status_code == 400:
        return error_response(MalformedRequest(str(exc.detail)))
    if exc.status_code == 413:
        return error_response(BodyTooLarge())
    generic = ServiceError(str(exc.detail))
    generic.status_code = exc.status_code
    generic.error_code = f"071-{exc.status_code}"
    return error_response(generic)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that render every error raised while routing as the envelope."""
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_exception)


async def send_error(exc: ServiceError, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer ``exc`` from plain ASGI code, outside FastAPI's handlers."""
    await error_response(exc)(scope, receive, send)


class ErrorMiddleware:
    """Render the errors the edge pieces raise, and answer anything unexpected with a bare 500.

    Once an answer has started nothing else can be sent, so the error goes on to the server.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context = request_context(scope)
        try:
            await self.app(scope, receive, send)
        except ServiceError as exc:
            if context.started:
                raise
            await send_error(exc, scope, receive, send)
        except Exception:
            request_id = current_request_id()
            logger.exception(
                "unhandled error", extra={"context": {"request_id": request_id, "path": scope["path"]}}
            )
            if context.started:
                raise
            await send_error(
                ServiceError(additional_information={"request_id": request_id}), scope, receive, send
            )
