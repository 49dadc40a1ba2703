"""What operators see: metrics, one log line per request, readiness, graceful shutdown."""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from provider_products.app import create_app
from provider_products.observability import JsonFormatter, RequestIdFilter
from provider_products.ratelimit.redis import RedisRateLimiter
from provider_products.registry import service as registry_service
from tests.conftest import ApiClient
from tests.servers import clean_env, start_server

PRODUCTS = "/arc/v1/providers/products"


def _metric(text: str, name: str, **labels: str) -> float:
    """Sum the samples of a metric whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_metrics_count_requests_refusals_and_registrations(
    http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client(rate_limit="3/minute")
    before = (await http.get("/metrics")).text
    await http.post(PRODUCTS, json={"product_code": "MED-042"}, headers=client.headers)
    await http.delete(f"{PRODUCTS}/MED-042", headers=client.headers)
    await http.get(f"{PRODUCTS}/MED-042", headers=client.headers)
    await http.get(PRODUCTS, headers=client.headers)  # the fourth: refused
    after = (await http.get("/metrics")).text
    route = "/arc/v1/providers/products/{product_code}"

    def grew(name: str, **labels: str) -> float:
        return _metric(after, name, **labels) - _metric(before, name, **labels)

    assert (
        grew(
            "provider_products_requests_total",
            method="POST",
            route="/arc/v1/providers/products",
            status="201",
        )
        == 1
    )
    assert grew("provider_products_requests_total", method="GET", route=route, status="404") == 1
    assert grew("provider_products_requests_total", status="429") == 1
    assert grew("provider_products_rate_limit_refusals_total", endpoint="api") == 1
    assert grew("provider_products_registry_changes_total", change="registered") == 1
    assert grew("provider_products_registry_changes_total", change="removed") == 1
    assert grew("provider_products_request_duration_seconds_count", method="DELETE", route=route) == 1
    assert "provider_products_db_pool_size" in after
    assert "provider_products_db_connections_in_use" in after


async def test_every_request_logs_one_line_with_its_caller(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client()
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect()
    logging.getLogger("provider_products.request").addHandler(handler)
    try:
        await http.get(PRODUCTS, headers={**client.headers, "X-Request-Id": "trace-1"})
        await http.get("/healthz", headers={"X-Request-Id": "trace-2"})
    finally:
        logging.getLogger("provider_products.request").removeHandler(handler)
    lines = [r.context for r in records if r.getMessage() == "request"]  # type: ignore[attr-defined]
    first = next(c for c in lines if c["request_id"] == "trace-1")
    assert first["client_id"] == client.client_id
    assert first["provider"] == "farmacia-a"
    assert first["status"] == 200
    assert first["duration_ms"] >= 0
    second = next(c for c in lines if c["request_id"] == "trace-2")
    assert second["client_id"] is None


async def test_every_line_logged_while_serving_a_request_carries_its_id(
    http: httpx.AsyncClient, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client: ApiClient = await make_client()
    lookup = registry_service.get

    async def logged_lookup(*args: Any, **kwargs: Any) -> Any:
        logging.getLogger("provider_products.registry").warning("looking it up")
        return await lookup(*args, **kwargs)

    monkeypatch.setattr(registry_service, "get", logged_lookup)
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    logging.getLogger("provider_products").addHandler(handler)
    try:
        await http.get(f"{PRODUCTS}/MED-042", headers={**client.headers, "X-Request-Id": "trace-3"})
        logging.getLogger("provider_products.registry").warning("between requests")
    finally:
        logging.getLogger("provider_products").removeHandler(handler)
    entries = {entry["message"]: entry for entry in map(json.loads, lines)}
    assert entries["looking it up"]["request_id"] == "trace-3"
    assert "request_id" not in entries["between requests"]


@pytest.mark.slow
def test_uvicorn_access_lines_carry_the_request_id(tmp_path: Path) -> None:
    env = clean_env(database_url=f"sqlite:///{tmp_path / 'x.db'}")
    server = start_server(tmp_path, env, "server", "--access-log")
    try:
        httpx.get(f"{server.base_url}/healthz", headers={"X-Request-Id": "trace-uvicorn"}, timeout=10)
        deadline = time.monotonic() + 10
        while "trace-uvicorn" not in server.stdout and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.stop()
    lines = [line for line in server.stdout.splitlines() if '"GET /healthz HTTP/1.1" 200' in line]
    assert any(line.endswith(" request_id=trace-uvicorn") for line in lines), server.stdout


def test_json_log_lines_parse_and_carry_context() -> None:
    record = logging.LogRecord("provider_products.request", logging.INFO, __file__, 1, "request", None, None)
    record.context = {"request_id": "r1", "client_id": "cli_x", "status": 201}
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "request"
    assert line["level"] == "info"
    assert (line["request_id"], line["client_id"], line["status"]) == ("r1", "cli_x", 201)


async def test_readiness_fails_while_redis_is_unreachable(settings: Any) -> None:
    app: FastAPI = create_app(settings, limiter=RedisRateLimiter.from_url("redis://127.0.0.1:1/0"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        response = await http.get("/readyz")
    await app.state.runtime.database.dispose()
    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "ok",
        "rate_limit_store": "unavailable",
        "search_index": "loading",
    }


@pytest.mark.slow
def test_sigterm_finishes_requests_in_flight_and_exits(tmp_path: Path) -> None:
    server = start_server(tmp_path, clean_env(database_url=f"sqlite:///{tmp_path / 'x.db'}"), "server")
    statuses: list[int] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=10) as http:
            while not stop.is_set():
                try:
                    statuses.append(http.get(f"{server.base_url}/healthz").status_code)
                except httpx.TransportError:
                    return  # the server stopped accepting: expected after SIGTERM

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    server.process.send_signal(signal.SIGTERM)
    exit_code = server.process.wait(20)
    stop.set()
    for thread in threads:
        thread.join(10)
    assert exit_code in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in server.stderr
    assert statuses
    assert set(statuses) == {200}
