"""The error hierarchy and the handlers that render every error as the contract's envelope."""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import compile_path

logger = logging.getLogger("provider_products")


class ServiceError(Exception):
    """An error the service answers on purpose, with a status and a contract error code."""

    status_code = 500
    error_code = "071-500"
    message = "Unexpected failure"

    def __init__(
        self,
        message: str | None = None,
        *,
        additional_information: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.additional_information = additional_information or {}
        self.headers = headers or {}


class MalformedRequest(ServiceError):
    """The request could not be parsed: bad JSON, wrong content type."""

    status_code = 400
    error_code = "071-100"
    message = "Malformed request"


class ProductNotInCatalogue(ServiceError):
    """The code is not in the global catalogue, or is withdrawn there."""

    status_code = 404
    error_code = "071-101"
    message = "Product not found in the global catalogue"


class ProductAlreadyRegistered(ServiceError):
    """The provider already has an active registration of this code."""

    status_code = 409
    error_code = "071-102"
    message = "Product already registered"


class ProductNotRegistered(ServiceError):
    """The provider has no active registration of this code."""

    status_code = 404
    error_code = "071-103"
    message = "Product not registered by this provider"


class ProductsNotRegistered(ServiceError):
    """A downstream record references products the provider had not registered when filing."""

    status_code = 422
    error_code = "071-104"
    message = "Product not registered by this provider"

    def __init__(self, product_codes: list[str]) -> None:
        super().__init__(
            f"Not registered by this provider: {', '.join(product_codes)}",
            additional_information={"product_codes": product_codes},
        )


class RecordNotFound(ServiceError):
    """No record with this id belongs to the calling provider."""

    status_code = 404
    error_code = "071-404"
    message = "Record not found"


class IdempotencyConflict(ServiceError):
    """An ``Idempotency-Key`` reused with a different request, or while its first request runs."""

    status_code = 409
    error_code = "071-106"
    message = "Idempotency-Key reused with a different request"


class ValidationFailed(ServiceError):
    """A field or parameter is missing or ill-formed."""

    status_code = 422
    error_code = "071-105"
    message = "Validation error"

    def __init__(self, errors: list[dict[str, str]], message: str | None = None) -> None:
        super().__init__(message, additional_information={"errors": errors})


class AuthenticationFailed(ServiceError):
    """No usable credentials: missing, malformed, expired or forged token."""

    status_code = 401
    error_code = "071-401"
    message = "Authentication failed"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class ScopeMissing(ServiceError):
    """The token is valid but lacks a scope the operation needs."""

    status_code = 403
    error_code = "071-403"
    message = "Insufficient scope"

    def __init__(self, required: list[str]) -> None:
        super().__init__(
            f"This operation requires the scope {' '.join(required)}",
            additional_information={"required_scopes": required},
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{" ".join(required)}"'},
        )


class RouteNotFound(ServiceError):
    """No route matches the path."""

    status_code = 404
    error_code = "071-404"
    message = "Not found"


class MethodNotAllowed(ServiceError):
    """The path exists but not with this method."""

    status_code = 405
    error_code = "071-405"
    message = "Method not allowed"


class BodyTooLarge(ServiceError):
    """The request body exceeds the configured limit."""

    status_code = 413
    error_code = "071-413"
    message = "Request body too large"


class RateLimited(ServiceError):
    """The client has used up its requests for the current window."""

    status_code = 429
    error_code = "071-429"
    message = "Rate limit exceeded"

    def __init__(self, retry_after: int, headers: dict[str, str]) -> None:
        super().__init__(
            f"Rate limit exceeded; retry after {retry_after} seconds",
            additional_information={"retry_after_seconds": retry_after},
            headers={**headers, "Retry-After": str(retry_after)},
        )


class StoreUnavailable(ServiceError):
    """A store the request needs (database, rate-limit store) is unreachable."""

    status_code = 503
    error_code = "071-503"
    message = "Service temporarily unavailable"

    def __init__(self, message: str | None = None, retry_after: int = 1) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


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


def error_response(exc: ServiceError) -> Response:
    """Turn a service error into its HTTP response."""
    return Response(
        envelope(exc.error_code, exc.message, exc.additional_information),
        status_code=exc.status_code,
        headers=exc.headers,
        media_type="application/json",
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


@functools.lru_cache(maxsize=64)
def _path_patterns(
    paths: tuple[tuple[str, tuple[str, ...]], ...],
) -> list[tuple[re.Pattern[str], tuple[str, ...]]]:
    return [(compile_path(path)[0], methods) for path, methods in paths]


def _allowed_methods(request: Request) -> list[str]:
    """List every method the OpenAPI document offers on the request's path."""
    spec = request.app.openapi()
    paths = tuple((p, tuple(m.upper() for m in ops)) for p, ops in spec["paths"].items())
    allowed = {
        m for pattern, methods in _path_patterns(paths) if pattern.match(request.url.path) for m in methods
    }
    return sorted(allowed)


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return error_response(RouteNotFound())
    if exc.status_code == 405:
        response = error_response(MethodNotAllowed())
        response.headers["Allow"] = ", ".join(_allowed_methods(request))
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
    """Register the handlers that render every error as the envelope."""
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
