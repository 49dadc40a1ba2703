"""Optional OpenTelemetry tracing of the SDK's calls (the ``otel`` extra), for ``onboard`` and ``match``.

Off unless configured: ``PROVIDER_PRODUCTS_TRACING=on``, or ``auto`` (the default) with an OTLP
endpoint in ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``; never while
``OTEL_SDK_DISABLED=true``. Each call is a client span that carries the trace to the server
(``traceparent``); the exporter is OTLP over HTTP/protobuf, configured by the standard ``OTEL_*``
variables. While off, nothing of OpenTelemetry is imported. A program using the SDK directly can
instead instrument the ``http_client`` it passes in (``HTTPXClientInstrumentor.instrument_client``).
"""

from __future__ import annotations

import atexit
import importlib.util
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import TracerProvider as AnyTracerProvider

INSTALL_HINT = "pip install 'provider-products-client[otel]'"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_MODULES = (
    "opentelemetry.sdk.trace",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.instrumentation.httpx",
)


def wanted(mode: str, environ: Mapping[str, str] | None = None) -> bool:
    """Say whether tracing is on for ``mode`` (``auto``, ``on`` or ``off``) and the ``OTEL_*`` variables."""
    env = os.environ if environ is None else environ
    if mode == "off" or env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return mode == "on" or any(env.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def missing_modules(modules: tuple[str, ...] = _MODULES) -> list[str]:
    """Name the ``modules`` (by default, the ``otel`` extra's) that are not installed, importing none."""
    missing = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(name)
    return missing


def build_provider(default_service_name: str = "provider-products-client") -> TracerProvider:
    """Return a tracer provider that exports in batches over OTLP/HTTP, as the ``OTEL_*`` variables say."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the default name.
    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    resource = Resource.create({} if named else {SERVICE_NAME: default_service_name})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def trace_outgoing_calls(provider: AnyTracerProvider | None = None) -> None:
    """Trace every httpx request of this process (the SDK's).

    Without ``provider``, build the OTLP one and flush it when the process exits.
    """
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    if provider is None:
        owned = build_provider()
        atexit.register(owned.shutdown)
        provider = owned
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
