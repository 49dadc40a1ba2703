"""The scopes routes declare: a dependency that checks them on the caller the edge resolved.

Whether a request needs a caller at all is decided by ``auth.middleware.AUTHENTICATED_PATHS`` alone;
``check_routes`` makes sure the routes that ask for scopes and that rule agree.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.routing import APIRoute
from fastapi.security import OAuth2
from starlette.routing import BaseRoute

from provider_products.auth import security
from provider_products.auth.caller import Caller, caller_of
from provider_products.auth.middleware import requires_authentication
from provider_products.errors import ScopeMissing
from provider_products.http.routing import served_routes

__all__ = ["Caller", "check_routes", "oauth2_scheme", "require_scopes"]

oauth2_scheme = OAuth2(
    flows=OAuthFlows(
        clientCredentials=OAuthFlowClientCredentials(
            tokenUrl="/v1/oauth/token", scopes={s: s for s in security.ALL_SCOPES}
        )
    ),
    scheme_name="OAuth2ClientCredentials",
    auto_error=False,
)

_SCOPE_CHECKS: set[Callable[..., Any]] = set()


def require_scopes(*scopes: str) -> Callable[..., Awaitable[Caller]]:
    """Build a dependency that returns the caller, or refuses with 403 ``071-403`` without ``scopes``.

    The token itself is verified (and the request counted against the client's rate limit) by the
    edge before routing; this only checks the scopes of the caller it found.
    """

    async def dependency(
        request: Request, _: str | None = Security(oauth2_scheme, scopes=list(scopes))
    ) -> Caller:
        caller = caller_of(request.scope)
        if caller is None:
            # check_routes rules this out when the application is built.
            raise RuntimeError(f"{request.url.path} asks for scopes outside the authenticated paths")
        missing = [s for s in scopes if s not in caller.scopes]
        if missing:
            raise ScopeMissing(list(scopes))
        return caller

    _SCOPE_CHECKS.add(dependency)
    return dependency


def _asks_for_scopes(dependant: Dependant) -> bool:
    return any(d.call in _SCOPE_CHECKS or _asks_for_scopes(d) for d in dependant.dependencies)


def check_routes(routes: Sequence[BaseRoute]) -> None:
    """Refuse routes that ask for scopes outside the authenticated paths, or serve them without asking."""
    wrong = [
        f"{', '.join(sorted(served.methods or ()))} {served.path}"
        for declared, served in served_routes(routes)
        if isinstance(declared, APIRoute)
        and requires_authentication(served.path) != _asks_for_scopes(served.dependant)
    ]
    if wrong:
        raise RuntimeError(
            "Routes under the authenticated paths must declare require_scopes(...), and only they: "
            + "; ".join(wrong)
        )
