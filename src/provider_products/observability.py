"""Operators' view: Prometheus metrics and one structured log line per request.

With several worker processes, ``serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a shared directory
so that ``/metrics`` adds up every worker's counts, whichever worker answers the scrape.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter(
    "provider_products_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
LATENCY = Histogram(
    "provider_products_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
RATE_LIMITED = Counter(
    "provider_products_rate_limit_refusals_total", "Requests refused with 429", ["endpoint"]
)
REGISTRY_CHANGES = Counter(
    "provider_products_registry_changes_total", "Registrations opened and closed", ["change"]
)
POOL_IN_USE = Gauge(
    "provider_products_db_connections_in_use",
    "Database connections checked out of the pool",
    multiprocess_mode="livesum",
)
POOL_SIZE = Gauge(
    "provider_products_db_pool_size", "Database connections the pool keeps", multiprocess_mode="livesum"
)


def metrics_payload() -> tuple[bytes, str]:
    """Render every metric, summed over worker processes when there are several."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request's context when the record carries it."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "context", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Readable lines for development: time, level, message, then key=value context."""

    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(f"{k}={v}" for k, v in getattr(record, "context", {}).items())
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        line = f"{stamp} {record.levelname:<7} {record.getMessage()}"
        line = f"{line} {context}" if context else line
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(fmt: str) -> None:
    """Send the service's logs to stderr as JSON (``json``) or readable text (``text``), once."""
    logger = logging.getLogger("provider_products")
    if any(getattr(h, "_provider_products", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler._provider_products = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
