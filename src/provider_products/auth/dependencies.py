"""Who is calling: the caller resolved from the bearer token, and the scope checks routes declare."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import OAuth2

from provider_products.auth import security
from provider_products.errors import AuthenticationFailed, ScopeMissing

oauth2_scheme = OAuth2(
    flows=OAuthFlows(
        clientCredentials=OAuthFlowClientCredentials(
            tokenUrl="/v1/oauth/token", scopes={s: s for s in security.ALL_SCOPES}
        )
    ),
    scheme_name="OAuth2ClientCredentials",
    auto_error=False,
)


@dataclass(frozen=True)
class Caller:
    """The authenticated client behind a request, and the provider it acts for."""

    client_id: str
    provider_id: int
    provider_slug: str
    scopes: frozenset[str]


def require_scopes(*scopes: str) -> Callable[..., Awaitable[Caller]]:
    """Build a dependency that returns the caller, or refuses with 403 ``071-403`` without ``scopes``.

    The token itself is verified (and the request counted against the client's rate limit) by the
    edge middleware before routing; this only reads what it found.
    """

    async def dependency(
        request: Request, _: str | None = Security(oauth2_scheme, scopes=list(scopes))
    ) -> Caller:
        caller = request.scope.get("state", {}).get("caller")
        if not isinstance(caller, Caller):
            raise AuthenticationFailed()
        missing = [s for s in scopes if s not in caller.scopes]
        if missing:
            raise ScopeMissing(list(scopes))
        return caller

    return dependency
