"""The caller: the authenticated client behind a request, kept in the request's scope for its whole life."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import Scope

_KEY = "provider_products.caller"


@dataclass(frozen=True)
class Caller:
    """The authenticated client behind a request, and the provider it acts for."""

    client_id: str
    provider_id: int
    provider_slug: str
    scopes: frozenset[str]
    rate_limit: str | None = None
    """The client's own rate limit (``"100/minute"``), or None for the service default."""


def caller_of(scope: Scope) -> Caller | None:
    """Return the caller ``AuthenticationMiddleware`` resolved for this request, or None if it had none."""
    caller = scope.get("state", {}).get(_KEY)
    return caller if isinstance(caller, Caller) else None


def set_caller(scope: Scope, caller: Caller) -> None:
    """Record the request's caller; only the authentication middleware does."""
    scope.setdefault("state", {})[_KEY] = caller
