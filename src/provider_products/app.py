"""The application factory: routers, error handlers, the edge pieces and offline API docs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from provider_products import __doc__ as package_doc
from provider_products import tracing
from provider_products.auth.dependencies import check_routes
from provider_products.auth.middleware import AuthenticationMiddleware
from provider_products.auth.routes import router as auth_router
from provider_products.catalogue.change_routes import router as catalogue_changes_router
from provider_products.catalogue.routes import router as catalogue_router
from provider_products.config import Settings
from provider_products.db import migrate
from provider_products.downstream.routes import router as downstream_router
from provider_products.http import openapi
from provider_products.http.access_log import AccessLogMiddleware
from provider_products.http.body_limit import BodyLimitMiddleware
from provider_products.http.context import RequestContextMiddleware
from provider_products.http.errors import ErrorMiddleware, install_error_handlers
from provider_products.idempotency.middleware import IdempotencyMiddleware
from provider_products.observability import POOL_IN_USE, POOL_SIZE, configure_logging, metrics_payload
from provider_products.portal.app import build_portal
from provider_products.portal.onboarding import inventory
from provider_products.ratelimit.base import RateLimiter
from provider_products.ratelimit.middleware import RateLimitMiddleware
from provider_products.registry.routes import router as registry_router
from provider_products.runtime import Runtime, runtime
from provider_products.stallwatch import StallWatch

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
PROBES = frozenset({"/healthz", "/readyz"})

DESCRIPTION = """\
Health-insurance provider product registry, compatible with Osigu's public API.

Every `/arc/...`, `/medical-catalogs/...` request needs a bearer token from `POST /v1/oauth/token`
and counts against its OAuth client's rate limit (default 50 per rolling 60 seconds), advertised in
the `RateLimit`, `RateLimit-Policy` and `X-RateLimit-*` headers. Errors carry
`{"error_code", "message", "additional_information"}`.
"""


def create_app(
    settings: Settings | None = None,
    *,
    limiter: RateLimiter | None = None,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """Build the application for ``settings`` (read from the environment when omitted).

    With ``tracer_provider``, or when the settings turn tracing on (``tracing``), requests,
    database statements and Redis commands are traced; otherwise nothing of OpenTelemetry's SDK
    is loaded.
    """
    settings = settings or Settings()
    rt = Runtime.build(settings, limiter)
    owned_provider = None
    if tracer_provider is None and tracing.wanted(settings.tracing):
        tracer_provider = owned_provider = tracing.build_provider()
    if tracer_provider is not None:
        tracing.instrument_runtime(rt.database, rt.limiter, tracer_provider)
    configure_logging(
        settings.log_format
        if settings.log_format != "auto"
        else ("json" if settings.environment == "production" else "text")
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if rt.database.dialect == "postgresql":
            await migrate.require_current(rt.database)
        # Load (or build) the search index in the background and follow the catalogue's revision:
        # searches wait for the first snapshot, /readyz says not ready until it is there.
        follow = asyncio.create_task(rt.search_index.run())
        watch = None
        if settings.loop_stall_report_ms:
            watch = asyncio.create_task(StallWatch(settings.loop_stall_report_ms / 1000).run())
        yield
        follow.cancel()
        if watch is not None:
            watch.cancel()
        await rt.limiter.close()
        await rt.database.dispose()
        if owned_provider is not None:
            owned_provider.shutdown()  # exports the spans still queued

    app = FastAPI(
        title="provider-products",
        summary=(package_doc or "").strip(),
        description=DESCRIPTION,
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        # A trailing-slash URL is a 404, never a redirect built from the Host header.
        redirect_slashes=False,
        telemetry=tracing.fastapi_telemetry(tracer_provider),  # type: ignore[arg-type]
    )
    app.state.runtime = rt
    app.state.tracer_provider = tracer_provider
    install_error_handlers(app)
    app.include_router(auth_router)
    # Before the catalogue's routes, whose /arc/v1/products/{product_code} would take "changes".
    app.include_router(catalogue_changes_router)
    app.include_router(catalogue_router)
    app.include_router(registry_router)
    app.include_router(downstream_router)
    app.mount("/static/docs", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")
    # The provider portal: pages for people, on the same runtime (its own app: HTML error pages).
    app.mount("/portal", build_portal(rt), name="portal")

    @app.get("/portal", include_in_schema=False)
    async def portal_root() -> RedirectResponse:
        return RedirectResponse("/portal/", status_code=307)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="provider-products API",
            swagger_js_url="/static/docs/swagger-ui-bundle.js",
            swagger_css_url="/static/docs/swagger-ui.css",
            swagger_favicon_url="/static/docs/favicon.png",
        )

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        size, in_use = rt.database.pool_status()
        POOL_SIZE.set(size)
        POOL_IN_USE.set(in_use)
        payload, content_type = metrics_payload()
        return Response(payload, media_type=content_type)

    @app.get("/healthz", tags=["Health"], operation_id="liveness")
    async def healthz() -> dict[str, str]:
        """Say that the process is up."""
        return {"status": "ok"}

    @app.get(
        "/readyz", tags=["Health"], operation_id="readiness", responses={503: {"description": "Not ready"}}
    )
    async def readyz(request: Request) -> JSONResponse:
        """Say whether the database and the rate-limit store are reachable and searches can be answered.

        ``search_index.revision`` is the catalogue revision this process searches (null until its
        first snapshot is loaded: until then the process is not ready).
        """
        current = runtime(request)
        revision = current.search_index.revision
        checks = {
            "database": "ok" if await current.database.ping() else "unavailable",
            "rate_limit_store": "ok" if await current.limiter.ping() else "unavailable",
            "search_index": "ok" if revision is not None else "loading",
        }
        ready = all(v == "ok" for v in checks.values())
        body = {
            "status": "ok" if ready else "unavailable",
            "checks": checks,
            "search_index": {"revision": revision},
        }
        return JSONResponse(body, 200 if ready else 503)

    # The probes first: the router tries routes in order, and the probes a load balancer sends every
    # second need not be matched against every API route before their own (a stable sort).
    app.router.routes.sort(key=lambda route: getattr(route, "path", None) not in PROBES)
    check_routes(app.routes)
    openapi.install(
        app,
        app.openapi,
        servers=[{"url": "http://localhost:8000", "description": "The sandbox (`provider-products serve`)"}],
    )
    # The edge, innermost first (Starlette runs the last added outermost). A request passes, in
    # order: its id and context, the access log, the error boundary, the body limit, authentication,
    # the rate limit (every authenticated request counts, before routing), then idempotency.
    app.add_middleware(IdempotencyMiddleware, runtime=rt)
    app.add_middleware(RateLimitMiddleware, runtime=rt)
    app.add_middleware(AuthenticationMiddleware, runtime=rt)
    # The portal's inventory upload takes files up to 10 MB; a body up to twice that reaches the
    # page, which refuses a file over the limit in words a person reads.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        paths={"/portal/onboarding": max(settings.max_body_bytes, 2 * inventory.MAX_UPLOAD_BYTES)},
    )
    app.add_middleware(ErrorMiddleware)
    app.add_middleware(AccessLogMiddleware, log_requests=settings.log_requests)
    app.add_middleware(RequestContextMiddleware)
    if settings.cors_origins:
        # Closed unless configured. Outermost, so that errors the edge answers carry CORS headers too.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id"],
            expose_headers=[
                "RateLimit",
                "RateLimit-Policy",
                "Retry-After",
                "Link",
                "Location",
                "X-Request-Id",
            ],
        )
    return app
