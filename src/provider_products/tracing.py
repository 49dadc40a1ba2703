"""Optional OpenTelemetry tracing (the ``otel`` extra): spans for requests, SQL, Redis and outgoing HTTP.

Off unless configured: ``PROVIDER_PRODUCTS_TRACING=on``, or ``auto`` (the default) with an OTLP
endpoint in ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``; never while
``OTEL_SDK_DISABLED=true``. While off, nothing of the OpenTelemetry SDK or of the instrumentations
is imported and FastAPI's own telemetry is switched off, whatever else set a global provider.

Request spans come from FastAPI's own telemetry support (``FastAPI(telemetry=...)``), with the
spans of each route's dependencies, endpoint and serialisation below them; the database's
statements and the rate limiter's Redis calls are children of the request's span; the SDK's calls
(``onboard``, ``match``: ``provider_products_client.tracing``) are client spans that carry the
trace to the server (``traceparent``).
The exporter is OTLP over HTTP/protobuf, configured by the standard ``OTEL_*`` variables.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from provider_products_client import tracing as client_tracing

# The rule that says whether tracing is on is the SDK tools' own (one rule for server and client).
wanted = client_tracing.wanted

if TYPE_CHECKING:
    import httpx
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import TracerProvider as AnyTracerProvider
    from redis.asyncio import Redis
    from sqlalchemy import Engine

    from provider_products.db.engine import Database

INSTALL_HINT = "pip install 'provider-products[otel]'"
_MODULES = (
    "opentelemetry.sdk.trace",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.instrumentation.sqlalchemy",
    "opentelemetry.instrumentation.redis",
    "opentelemetry.instrumentation.httpx",
)
# Probes and scrapes would drown the requests in spans.
_UNTRACED_PATHS = frozenset({"/healthz", "/metrics"})


def missing_modules() -> list[str]:
    """Name the modules of the ``otel`` extra that are not installed (none are imported to find out)."""
    return client_tracing.missing_modules(_MODULES)


def build_provider() -> TracerProvider:
    """Return a tracer provider that exports in batches over OTLP/HTTP, as the ``OTEL_*`` variables say."""
    return client_tracing.build_provider("provider-products")


def _untraced(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in _UNTRACED_PATHS


def fastapi_telemetry(provider: AnyTracerProvider | None) -> dict[str, Any]:
    """Return ``FastAPI(telemetry=...)``: request spans through ``provider``, or everything off."""
    off: dict[str, Any] = {"metrics": False, "logs": False, "auto_configure": False}
    if provider is None:
        return {**off, "tracing": False}
    return {**off, "tracing": True, "tracer_provider": provider, "exclude": _untraced}


def instrument_engine(engine: Engine, provider: AnyTracerProvider) -> None:
    """Trace every statement of one SQLAlchemy engine (for an asyncio engine, its ``sync_engine``)."""
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.instrumentation.sqlalchemy.version import __version__
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.trace import get_tracer

    # The engine's tracer itself, not SQLAlchemyInstrumentor().instrument(): that one instruments
    # once per process (a second application would get nothing) and refuses SQLAlchemy 2.1, which
    # its version range predates but its engine events serve unchanged.
    tracer = get_tracer("opentelemetry.instrumentation.sqlalchemy", __version__, provider)
    usage = NoOpMeterProvider().get_meter(__name__).create_up_down_counter("db.client.connections.usage")
    EngineTracer(tracer, engine, usage)  # type: ignore[no-untyped-call]


def instrument_redis(client: Redis, provider: AnyTracerProvider) -> None:
    """Trace every command one Redis client sends."""
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    RedisInstrumentor.instrument_client(client, tracer_provider=provider)


def instrument_http_client(client: httpx.Client | httpx.AsyncClient, provider: AnyTracerProvider) -> None:
    """Trace the requests of one httpx client, such as the one an SDK client is given."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=provider)


def instrument_runtime(database: Database, limiter: object, provider: AnyTracerProvider) -> None:
    """Trace an application's database statements and, with a Redis limiter, its Redis commands."""
    instrument_engine(
        database.sync_engine if database.dialect == "sqlite" else database.async_engine.sync_engine,
        provider,
    )
    redis = getattr(limiter, "redis", None)
    if redis is not None:
        instrument_redis(redis, provider)
