"""The domain's errors: one noun per condition, each with its HTTP status and contract error code.

Nothing here knows about HTTP frameworks; ``provider_products.http.errors`` renders them.
"""

from __future__ import annotations

from typing import Any


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
    """An ``Idempotency-Key`` whose first request is still being executed (retry after a moment)."""

    status_code = 409
    error_code = "071-106"
    message = "A request with this Idempotency-Key is still in progress"


class IdempotencyKeyMismatch(ServiceError):
    """An ``Idempotency-Key`` reused with a different request (method, path, query or body)."""

    status_code = 422
    error_code = "071-106"
    message = "This Idempotency-Key was used with a different request"


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


class TokenError(ServiceError):
    """The token endpoint refuses the request with an RFC 6749 section 5.2 ``error`` (``invalid_scope``)."""

    status_code = 400
    error_code = "071-100"
    message = "Token request refused"

    def __init__(self, error: str, description: str, status: int = 400, error_code: str = "071-100") -> None:
        super().__init__(description)
        self.error = error
        self.status_code = status
        self.error_code = error_code
