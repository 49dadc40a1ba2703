"""Tracing end to end: a real server and a real ``onboard`` run export their spans over OTLP/HTTP.

Both processes are configured by ``OTEL_EXPORTER_OTLP_ENDPOINT`` alone; a collector on the loopback
decodes what they send. The SDK's calls are client spans whose trace the server's spans continue.
"""

from __future__ import annotations

import asyncio
import http.server
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from provider_products.auth import service as auth_service
from provider_products.db.engine import Database
from tests.conftest import TEST_JWT_SECRET, TEST_REDIS_URL
from tests.servers import CLI, clean_env, start_server

pytestmark = pytest.mark.slow


class _Collector(http.server.BaseHTTPRequestHandler):
    """Keep every span posted to /v1/traces, with its service's name."""

    spans: list[tuple[str, Span]] = []
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        request = ExportTraceServiceRequest.FromString(body)
        with self.lock:
            for resource_spans in request.resource_spans:
                service = next(
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                )
                for scope_spans in resource_spans.scope_spans:
                    type(self).spans.extend((service, span) for span in scope_spans.spans)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def collector() -> Iterator[str]:
    """The collector's base URL."""
    _Collector.spans = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def _client(url: str) -> tuple[str, str]:
    database = Database(url)
    async with database.transaction(write=True) as conn:
        await auth_service.create_provider(conn, slug="traced", name="Traced")
        creds = await auth_service.create_client(
            conn, provider_slug="traced", scopes=["arc:read", "arc:write"]
        )
    await database.dispose()
    return creds.client_id, creds.client_secret


def test_server_and_onboard_export_one_trace_per_call(
    backend: str, db_url: str, collector: str, tmp_path: Path
) -> None:
    settings = {"database_url": db_url, "jwt_secret": TEST_JWT_SECRET, "log_requests": "false"}
    if backend == "postgresql":
        assert TEST_REDIS_URL is not None
        settings["redis_url"] = TEST_REDIS_URL
    otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector, "OTEL_BSP_SCHEDULE_DELAY": "200"}
    client_id, secret = asyncio.run(_client(db_url))
    server = start_server(tmp_path, {**clean_env(**settings), **otel}, "traced")
    try:
        inventory = tmp_path / "inventory.csv"
        inventory.write_text("product_code\nMED-042\nLAB-HEMO\nNOT-THERE\n", encoding="utf-8")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PROVIDER_PRODUCTS_", "OTEL_"))},
            **otel,
            "OTEL_SERVICE_NAME": "onboard-test",
            "PROVIDER_PRODUCTS_BASE_URL": server.base_url,
            "PROVIDER_PRODUCTS_CLIENT_ID": client_id,
            "PROVIDER_PRODUCTS_CLIENT_SECRET": secret,
        }
        done = subprocess.run(
            [str(CLI), "onboard", str(inventory)], env=env, cwd=tmp_path, capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 1, done.stderr  # NOT-THERE is not in the catalogue
    finally:
        server.stop()  # shutting down exports the spans still queued

    spans = list(_Collector.spans)
    outgoing = [s for service, s in spans if service == "onboard-test" and s.kind == Span.SPAN_KIND_CLIENT]
    served = [s for service, s in spans if service == "provider-products" and s.kind == Span.SPAN_KIND_SERVER]
    assert {s.name for s in served} >= {"POST /v1/oauth/token", "GET /arc/v1/providers/products"}
    assert outgoing
    # Every request the SDK made was served inside the same trace, as a child of its client span.
    client_spans = {s.span_id: s for s in outgoing}
    continued = [s for s in served if s.parent_span_id in client_spans]
    assert len(continued) == len(outgoing)
    assert all(s.trace_id == client_spans[s.parent_span_id].trace_id for s in continued)
    sql = [s for service, s in spans if service == "provider-products" and s.kind == Span.SPAN_KIND_CLIENT]
    assert sql
    if backend == "postgresql":
        assert any(s.name == "EVALSHA" for s in sql)
