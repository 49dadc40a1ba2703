"""OpenTelemetry tracing: spans for a request, its SQL, its Redis calls and the SDK's calls; off by default.

Spans go to the SDK's in-memory exporter through a provider handed to ``create_app``; one test
sends them over OTLP/HTTP to a receiver on the loopback, as a deployment would.
"""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from provider_products import tracing
from provider_products.app import create_app
from provider_products.config import Settings
from provider_products.ratelimit.base import RateLimiter
from provider_products_client import AsyncClient
from tests.conftest import TEST_JWT_SECRET, ApiClient


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    """Where this test's spans end."""
    return InMemorySpanExporter()


@pytest.fixture
def app(settings: Settings, limiter: RateLimiter, exporter: InMemorySpanExporter) -> FastAPI:
    """The application, tracing through a provider of its own into the in-memory exporter."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return create_app(settings, limiter=limiter, tracer_provider=provider)


def _server_span(spans: tuple[ReadableSpan, ...], route: str) -> ReadableSpan:
    found = [
        s for s in spans if s.kind is SpanKind.SERVER and (s.attributes or {}).get("http.route") == route
    ]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


def _descends_from(span: ReadableSpan, ancestor: ReadableSpan, spans: tuple[ReadableSpan, ...]) -> bool:
    by_id = {s.context.span_id: s for s in spans if s.context is not None}
    current: ReadableSpan | None = span
    while current is not None and current.parent is not None:
        if current.parent.span_id == ancestor.context.span_id:  # type: ignore[union-attr]
            return True
        current = by_id.get(current.parent.span_id)
    return False


async def test_request_span_has_its_sql_and_redis_calls_as_children(
    backend: str, http: httpx.AsyncClient, make_client, exporter: InMemorySpanExporter
) -> None:  # type: ignore[no-untyped-def]
    client: ApiClient = await make_client()
    exporter.clear()

    response = await http.get("/arc/v1/products/MED-042", headers=client.headers)

    assert response.status_code == 200, response.text
    spans = exporter.get_finished_spans()
    request = _server_span(spans, "/arc/v1/products/{product_code}")
    assert request.name == "GET /arc/v1/products/{product_code}"
    assert (request.attributes or {})["http.response.status_code"] == 200
    sql = [s for s in spans if (s.attributes or {}).get("db.system") in ("sqlite", "postgresql")]
    assert sql, [s.name for s in spans]
    assert all(_descends_from(s, request, spans) for s in sql)
    assert any("catalogue_product" in str((s.attributes or {}).get("db.statement")) for s in sql)
    redis = [s for s in spans if (s.attributes or {}).get("db.system") == "redis"]
    if backend == "postgresql":
        # The rate limit's one script call, inside the request.
        assert [s.name for s in redis] == ["EVALSHA"]
        assert _descends_from(redis[0], request, spans)
    else:
        assert redis == []


async def test_sdk_call_is_a_client_span_that_carries_the_trace_to_the_server(
    app: FastAPI, make_client, exporter: InMemorySpanExporter
) -> None:  # type: ignore[no-untyped-def]
    client: ApiClient = await make_client()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as raw:
        tracing.instrument_http_client(raw, app.state.tracer_provider)
        sdk = AsyncClient(
            base_url="http://testserver", client_id=client.client_id, client_secret=client.client_secret,
            http_client=raw,
        )  # fmt: skip
        exporter.clear()
        page = await sdk.list_products(query="paracetamol")
    assert page.content

    spans = exporter.get_finished_spans()
    outgoing = [s for s in spans if s.kind is SpanKind.CLIENT and "http.method" in (s.attributes or {})]
    assert [(s.attributes or {})["http.method"] for s in outgoing] == ["POST", "GET"]
    search = _server_span(spans, "/arc/v1/products")
    assert search.parent is not None
    assert search.parent.span_id == outgoing[1].context.span_id  # type: ignore[union-attr]
    assert search.context.trace_id == outgoing[1].context.trace_id  # type: ignore[union-attr]


async def test_health_probe_is_not_traced(
    app: FastAPI, http: httpx.AsyncClient, exporter: InMemorySpanExporter
) -> None:
    await app.state.runtime.search_index.warm_up()  # the in-process transport runs no lifespan
    assert (await http.get("/healthz")).status_code == 200
    assert (await http.get("/readyz")).status_code == 200
    assert {s.name for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER} == {"GET /readyz"}


@pytest.mark.parametrize(
    ("mode", "environ", "on"),
    [
        ("auto", {}, False),
        ("auto", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
        ("auto", {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
        ("auto", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_SDK_DISABLED": "true"}, False),
        ("off", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, False),
        ("on", {}, True),
        ("on", {"OTEL_SDK_DISABLED": "TRUE"}, False),
    ],
)
def test_tracing_is_on_only_when_configured(mode: str, environ: dict[str, str], on: bool) -> None:
    assert tracing.wanted(mode, environ) is on


# The SDK's tracing, the exporter and the instrumentations (redis 8 loads the SDK's metrics by itself
# wherever the SDK is installed, so those are not the service's doing).
_OURS = ("opentelemetry.sdk.trace", "opentelemetry.exporter", "opentelemetry.instrumentation")
_UNCONFIGURED = f"""
import asyncio, sys, tempfile, time
from pathlib import Path
from fastapi.testclient import TestClient
from provider_products.app import create_app
from provider_products.config import Settings
from tests.support import load_sandbox_database

db = Path(tempfile.mkdtemp()) / "t.db"
asyncio.run(load_sandbox_database(f"sqlite:///{{db}}"))
app = create_app(Settings(database_url=f"sqlite:///{{db}}", jwt_secret="x" * 40))
loaded = sorted(m for m in sys.modules if m.startswith({_OURS!r}))
print("loaded:", loaded or "nothing")

# Something else in the process configures OpenTelemetry: the service still traces nothing.
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
with TestClient(app) as client:
    # Ready once the worker has loaded the stored snapshot, as an orchestrator would wait for it.
    deadline = time.monotonic() + 60
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "never ready"
        time.sleep(0.05)
print("spans:", len(exporter.get_finished_spans()))
"""


def test_tracing_off_loads_no_tracing_code_and_makes_no_spans(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROVIDER_PRODUCTS_", "OTEL_"))}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)  # for tests.support
    done = subprocess.run(
        [sys.executable, "-c", _UNCONFIGURED], env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["loaded: nothing", "spans: 0"]


class _Receiver(http.server.BaseHTTPRequestHandler):
    """An OTLP/HTTP collector that keeps what it is sent."""

    received: list[tuple[str, int]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).received.append((self.path, len(body)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def collector(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """A collector on a free loopback port, named by ``OTEL_EXPORTER_OTLP_ENDPOINT``."""
    _Receiver.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    yield _Receiver.received
    server.shutdown()
    server.server_close()


@pytest.fixture
async def otlp_app(db_url: str, collector: list[tuple[str, int]]) -> AsyncIterator[FastAPI]:
    """The application as configured by the environment alone: tracing ``auto`` with an endpoint."""
    app = create_app(Settings(database_url=db_url, jwt_secret=TEST_JWT_SECRET, redis_url=None))
    await app.state.runtime.search_index.warm_up()  # the in-process transport runs no lifespan
    yield app
    app.state.tracer_provider.shutdown()  # while the collector still listens
    await app.state.runtime.database.dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_endpoint_in_environment_exports_spans_over_otlp(
    otlp_app: FastAPI, collector: list[tuple[str, int]]
) -> None:
    assert otlp_app.state.tracer_provider is not None
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=otlp_app), base_url="http://t") as client:
        assert (await client.get("/readyz")).status_code == 200
    otlp_app.state.tracer_provider.force_flush()
    assert collector
    assert {path for path, _ in collector} == {"/v1/traces"}
    assert all(size > 0 for _, size in collector)


def test_endpoint_without_the_otel_extra_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setattr(tracing, "missing_modules", lambda: ["opentelemetry.sdk.trace"])
    with pytest.raises(ValueError, match=r"the otel extra is not installed: run pip install"):
        Settings(jwt_secret=TEST_JWT_SECRET)
    assert Settings(jwt_secret=TEST_JWT_SECRET, tracing="off").tracing == "off"
