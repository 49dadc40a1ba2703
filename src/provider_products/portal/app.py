"""The portal as an application of its own, mounted by ``create_app`` under ``/portal``.

It shares the API's runtime (database, rate limiter, search index) and edge, but has its own
error pages (HTML, not the API's JSON envelope), no OpenAPI document, and the security headers
every page sends: a Content-Security-Policy without inline script, no framing, and no caching of
pages (which show a provider's data; the package's static files may be cached).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from provider_products.portal import web
from provider_products.portal.pages import account, clients, home, products, users
from provider_products.portal.pages import catalogue as catalogue_page
from provider_products.runtime import Runtime

STATIC = Path(__file__).parent / "static"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
ONBOARDING_ROUTER = "provider_products.portal.onboarding.routes"


class SecurityHeadersMiddleware:
    """Add the portal's security headers to every response, and ``no-store`` to every page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith(f"{web.PREFIX}/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"cache-control"]
                headers += _HEADERS
                headers.append((b"cache-control", b"public, max-age=3600" if static else b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def build_portal(rt: Runtime) -> FastAPI:
    """Build the portal application on the API's runtime."""
    portal = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, redirect_slashes=False)
    portal.state.runtime = rt
    portal.include_router(account.router)
    portal.include_router(home.router)
    portal.include_router(catalogue_page.router)
    portal.include_router(products.router)
    portal.include_router(clients.router)
    portal.include_router(users.router)
    portal.state.onboarding = False
    try:
        onboarding = importlib.import_module(ONBOARDING_ROUTER)
    except ModuleNotFoundError as exc:
        if exc.name is None or not ONBOARDING_ROUTER.startswith(exc.name):
            raise
    else:
        portal.include_router(onboarding.router)
        portal.state.onboarding = True
    portal.mount("/static", StaticFiles(directory=STATIC), name="portal-static")
    _install_error_pages(portal)
    portal.add_middleware(SecurityHeadersMiddleware)
    return portal


def _install_error_pages(portal: FastAPI) -> None:
    @portal.exception_handler(web.LoginRequired)
    async def login_required(request: Request, _: Exception) -> Response:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target = f"{web.PREFIX}/login"
        if request.method == "GET" and here != f"{web.PREFIX}/":
            from urllib.parse import quote

            target += f"?next={quote(here, safe='')}"
        return RedirectResponse(target, status_code=303)

    @portal.exception_handler(web.Forbidden)
    async def forbidden(request: Request, _: Exception) -> HTMLResponse:
        return web.render(request, "error.html", {"status": 403, "reason": "forbidden"}, status_code=403)

    @portal.exception_handler(web.CsrfRefused)
    async def csrf_refused(request: Request, _: Exception) -> HTMLResponse:
        return web.render(request, "error.html", {"status": 403, "reason": "csrf"}, status_code=403)

    @portal.exception_handler(RequestValidationError)
    async def bad_request(request: Request, _: Exception) -> HTMLResponse:
        return web.render(request, "error.html", {"status": 400, "reason": "bad_request"}, status_code=400)

    @portal.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: Exception) -> HTMLResponse:
        status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
        reason = "not_found" if status == 404 else "bad_request"
        return web.render(request, "error.html", {"status": status, "reason": reason}, status_code=status)
