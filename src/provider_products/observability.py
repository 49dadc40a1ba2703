"""Operators' view: Prometheus metrics, and log lines that each carry the id of their request.

With several worker processes, ``serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a shared directory
so that ``/metrics`` adds up every worker's counts, whichever worker answers the scrape. The
per-request log line and metrics are written by ``http.access_log``.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

import orjson
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from provider_products.http.context import current_request_id

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


class RequestIdFilter(logging.Filter):
    """Stamp every record with the id of the request being served when it was logged (or None)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


def _context(record: logging.LogRecord) -> dict[str, Any]:
    """The record's ``context``, with the stamped request id when the context does not name one."""
    context: dict[str, Any] = getattr(record, "context", {})
    request_id = getattr(record, "request_id", None)
    if request_id is not None and "request_id" not in context:
        return {"request_id": request_id, **context}
    return context


class _Stamp:
    """A record time rendered with ``strftime``, rendered again only when the second changes."""

    def __init__(self, fmt: str, convert: Any) -> None:
        self._fmt, self._convert = fmt, convert
        self._second, self._text = -1, ""

    def __call__(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._second, self._text = second, time.strftime(self._fmt, self._convert(second))
        return self._text


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request's context when the record carries it."""

    def __init__(self) -> None:
        super().__init__()
        self._stamp = _Stamp("%Y-%m-%dT%H:%M:%SZ", time.gmtime)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self._stamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_context(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # orjson writes UTF-8 as it is (like ``ensure_ascii=False``); anything else becomes its str().
        return orjson.dumps(entry, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


class TextFormatter(logging.Formatter):
    """Readable lines for development: time, level, message, then key=value context."""

    def __init__(self) -> None:
        super().__init__()
        self._stamp = _Stamp("%H:%M:%S", time.localtime)

    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(f"{k}={v}" for k, v in _context(record).items())
        line = f"{self._stamp(record.created)} {record.levelname:<7} {record.getMessage()}"
        line = f"{line} {context}" if context else line
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _WithRequestId(logging.Formatter):
    """Another formatter's line followed by `` request_id=...`` when the record was logged in a request."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        line = self.inner.format(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} request_id={request_id}" if request_id else line


UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def _stamp_uvicorn_lines() -> None:
    """Make uvicorn's own lines (access, errors) end with the request id, keeping their format."""
    for name in UVICORN_LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler.formatter, _WithRequestId):
                continue
            handler.addFilter(RequestIdFilter())
            handler.setFormatter(_WithRequestId(handler.formatter or logging.Formatter()))


def configure_logging(fmt: str) -> None:
    """Send the service's logs to stderr as JSON (``json``) or readable text (``text``), once.

    Every line logged while a request is served carries its id: the service's own lines as a
    field, uvicorn's (configured by uvicorn before it builds the app) as a ``request_id=`` suffix.
    """
    _stamp_uvicorn_lines()
    # No formatter here or in uvicorn prints a record's thread or process: don't look them up for
    # every record (Python's logging HOWTO, "Optimization"); a third of building a record.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logger = logging.getLogger("provider_products")
    if any(getattr(h, "_provider_products", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    handler._provider_products = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
