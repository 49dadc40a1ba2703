"""Bearer authentication at the edge, and the one rule that says which paths need it.

``AUTHENTICATED_PATHS`` is the only place that decides whether a request needs a caller: every
request under it must carry a valid bearer token of an active client, checked here before routing
and body parsing (so a wrong path or a bad body still costs the client a request of its limit), or
is refused with 401 ``071-401``; no request elsewhere gets a caller. Routes only declare which
scopes they need (``auth.dependencies.require_scopes``, which reads the caller found here), and
``check_routes`` refuses to build an application whose routes and this rule disagree, so that a
disagreement is a startup error rather than a silent 401.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from provider_products.auth.caller import Caller, set_caller
from provider_products.auth.security import TokenInvalid
from provider_products.errors import AuthenticationFailed
from provider_products.http.asgi import header
from provider_products.runtime import Runtime

AUTHENTICATED_PATHS = ("/arc/", "/medical-catalogs/", "/ehr/", "/dispensing/")


def requires_authentication(path: str) -> bool:
    """Say whether requests to ``path`` (a request path or a route's template) need a caller."""
    return path.startswith(AUTHENTICATED_PATHS)


class AuthenticationMiddleware:
    """Resolve the bearer token of every request under ``AUTHENTICATED_PATHS`` to its caller, or refuse."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and requires_authentication(scope["path"]):
            set_caller(scope, await self._authenticate(scope))
        await self.app(scope, receive, send)

    async def _authenticate(self, scope: Scope) -> Caller:
        """Resolve the bearer token to its caller, or raise 401."""
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
        if (
            client is None
            or not client.is_active
            or client.provider_slug != claims.provider_slug
            or not client.accepts_token_issued_at(claims.issued_at)
        ):
            # Disabled, moved, or its secret rotated after this token was issued: revoked.
            raise AuthenticationFailed("Invalid or expired token")
        return Caller(
            client_id=client.client_id,
            provider_id=client.provider_id,
            provider_slug=client.provider_slug,
            scopes=claims.scopes & client.scopes,
            rate_limit=client.rate_limit,
        )
