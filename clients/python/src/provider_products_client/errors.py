"""Exceptions raised by the provider-products SDK, one class per contract error code.

Everything the SDK raises about a call derives from ``ProviderProductsError``::

    ProviderProductsError
    ├── TransportError (alias ApiConnectionError): the service could not be reached
    │   └── ApiTimeoutError: no answer within the timeout
    └── ApiError: the service (or a proxy) answered an error; one subclass per error code
        ├── MalformedRequest (071-100), ProductNotInCatalogue (071-101), ...
        └── IdempotencyConflict (071-106): IdempotencyKeyMismatch (422), IdempotencyKeyInProgress (409)

Settings that cannot work (a missing client id, a negative ``max_retries``) raise ``ValueError``
when the client is built, before any call.
"""

from __future__ import annotations

from typing import Any

import httpx

__all__ = [
    "ApiConnectionError",
    "ApiError",
    "ApiTimeoutError",
    "AuthenticationFailed",
    "IdempotencyConflict",
    "IdempotencyKeyInProgress",
    "IdempotencyKeyMismatch",
    "MalformedRequest",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "ProductAlreadyRegistered",
    "ProductNotInCatalogue",
    "ProductNotRegistered",
    "ProductsNotRegistered",
    "ProviderProductsError",
    "RateLimited",
    "RouteNotFound",
    "ServerError",
    "ServiceUnavailable",
    "TransportError",
    "ValidationFailed",
    "error_from_response",
]


class ProviderProductsError(Exception):
    """The base of every error the SDK raises about a call."""


class ApiError(ProviderProductsError):
    """An error answered by the service (or by anything between it and the SDK)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        error_code: str | None = None,
        additional_information: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.error_code = error_code
        self.additional_information: dict[str, Any] = additional_information or {}
        self.request_id = request_id

    def __str__(self) -> str:
        code = f" {self.error_code}" if self.error_code else ""
        return f"HTTP {self.status_code}{code}: {self.message}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only fields are not in ``args``: rebuild from them, then restore every attribute,
        # so that errors survive pickling (multiprocessing, task queues).
        args = (
            type(self),
            self.message,
            self.status_code,
            self.error_code,
            self.additional_information,
            self.request_id,
        )
        return (_rebuild, args, self.__dict__)


def _rebuild(
    cls: type[ApiError],
    message: str,
    status_code: int,
    error_code: str | None,
    additional_information: dict[str, Any],
    request_id: str | None,
) -> ApiError:
    return cls(
        message,
        status_code=status_code,
        error_code=error_code,
        additional_information=additional_information,
        request_id=request_id,
    )


class MalformedRequest(ApiError):
    """The request could not be parsed (071-100)."""


class ProductNotInCatalogue(ApiError):
    """The code is not in the global catalogue, or is withdrawn there (071-101)."""


class ProductAlreadyRegistered(ApiError):
    """The provider already has an active registration of this code (071-102)."""


class ProductNotRegistered(ApiError):
    """The provider has no active registration of this code (071-103)."""


class ProductsNotRegistered(ApiError):
    """Some of the codes are not registered by this provider (071-104)."""


class ValidationFailed(ApiError):
    """A field or parameter is missing or ill-formed (071-105)."""

    @property
    def errors(self) -> list[dict[str, Any]]:
        """Return the ``{"field", "message"}`` items the service listed."""
        items = self.additional_information.get("errors")
        if not isinstance(items, list):
            return []
        return [item for item in items if isinstance(item, dict)]


class IdempotencyConflict(ApiError):
    """An ``Idempotency-Key`` could not be honoured (071-106); one of the two classes below."""


class IdempotencyKeyMismatch(IdempotencyConflict):
    """422 ``071-106``: the key was already used for a different request; never retried."""


class IdempotencyKeyInProgress(IdempotencyConflict):
    """409 ``071-106``: the key's first request is still running; retried, raised once retries run out."""


class AuthenticationFailed(ApiError):
    """The credentials or the token were refused (071-401)."""


class PermissionDenied(ApiError):
    """The token lacks a scope the operation needs (071-403)."""


class NotFound(ApiError):
    """No route matches the path, or no record with this id belongs to the caller (071-404)."""


# The name of 071-404's class before records had ids; kept for code written against it.
RouteNotFound = NotFound


class MethodNotAllowed(ApiError):
    """The path exists but not with this method (071-405)."""


class PayloadTooLarge(ApiError):
    """The request body exceeds the service's limit (071-413)."""


class RateLimited(ApiError):
    """The client used up its requests for the current window (071-429)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        error_code: str | None = None,
        additional_information: dict[str, Any] | None = None,
        request_id: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(
            message,
            status_code=status_code,
            error_code=error_code,
            additional_information=additional_information,
            request_id=request_id,
        )
        if retry_after is None:
            value = self.additional_information.get("retry_after_seconds")
            retry_after = value if isinstance(value, int) and not isinstance(value, bool) else 0
        self.retry_after: int = retry_after


class ServerError(ApiError):
    """The service failed unexpectedly (071-500)."""


class ServiceUnavailable(ApiError):
    """A store the service needs is unreachable (071-503)."""


class TransportError(ProviderProductsError):
    """The service could not be reached (connection failure or timeout), even after retries."""


ApiConnectionError = TransportError


class ApiTimeoutError(TransportError):
    """The service did not answer within the timeout, even after retries."""


_BY_CODE: dict[str, type[ApiError]] = {
    "071-100": MalformedRequest,
    "071-101": ProductNotInCatalogue,
    "071-102": ProductAlreadyRegistered,
    "071-103": ProductNotRegistered,
    "071-104": ProductsNotRegistered,
    "071-105": ValidationFailed,
    "071-106": IdempotencyConflict,
    "071-401": AuthenticationFailed,
    "071-403": PermissionDenied,
    "071-404": NotFound,
    "071-405": MethodNotAllowed,
    "071-413": PayloadTooLarge,
    "071-429": RateLimited,
    "071-500": ServerError,
    "071-503": ServiceUnavailable,
}


def retry_after_seconds(response: httpx.Response) -> int | None:
    """Read a ``Retry-After`` header given in seconds; ``None`` when absent or not a number."""
    value = response.headers.get("retry-after", "").strip()
    return int(value) if value.isdigit() else None


def error_from_response(response: httpx.Response) -> ApiError:
    """Build the exception for an error response: the class of its ``error_code``, or ``ApiError``."""
    request_id = response.headers.get("x-request-id")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("error_code"), str):
        # Not the contract's envelope (a proxy's page, say): keep the status and a bounded excerpt.
        text = response.text.strip()[:500] or response.reason_phrase or "error"
        return ApiError(text, status_code=response.status_code, request_id=request_id)
    info = body.get("additional_information")
    info = dict(info) if isinstance(info, dict) else {}
    message = body.get("message")
    if not isinstance(message, str) or not message:
        message = response.reason_phrase or "error"
    request_id = request_id or _str_or_none(info.get("request_id"))
    cls = _class_of(body["error_code"], response.status_code)
    if cls is RateLimited:
        # The header is what the service acts on; the body's field is the fallback.
        return RateLimited(
            message,
            status_code=response.status_code,
            error_code=body["error_code"],
            additional_information=info,
            request_id=request_id,
            retry_after=retry_after_seconds(response),
        )
    return cls(
        message,
        status_code=response.status_code,
        error_code=body["error_code"],
        additional_information=info,
        request_id=request_id,
    )


def _class_of(error_code: str, status: int) -> type[ApiError]:
    """Return the exception class of an error code; ``071-106`` differs by status (422 or 409)."""
    if error_code == "071-106":
        return IdempotencyKeyInProgress if status == 409 else IdempotencyKeyMismatch
    return _BY_CODE.get(error_code, ApiError)


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
