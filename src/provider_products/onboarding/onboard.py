"""Bulk onboarding: take a provider's inventory file to a registered catalogue, paced and resumable.

Talks to the service only through the SDK (``provider_products.client``), so it works against any
server that speaks the contract, and uses the batch extension where the server offers it.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import math
import os
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

from provider_products.catalogue.schemas import CODE_PATTERN
from provider_products.client import AsyncClient, errors
from provider_products.client.models import RateLimitState

BATCH_SIZE = 500
# Sends are spaced as if the server's window were this much longer, so that uneven network
# delays can never squeeze more requests than the limit into one of its windows.
WINDOW_MARGIN_SECONDS = 1.0

Outcome = Literal[
    "registered",
    "already_registered",
    "not_in_catalogue",
    "invalid",
    "duplicate",
    "failed",
    "would_register",
    "removed",
]
DONE = {"registered", "already_registered", "not_in_catalogue", "invalid"}
FAILED = {"not_in_catalogue", "invalid", "failed"}


class InventoryError(Exception):
    """The inventory file cannot be used at all (unreadable, no product_code column)."""


@dataclass
class Row:
    """One inventory row: where it was, its code (normalised when well-formed) and its other columns."""

    line: int
    raw_code: str
    columns: dict[str, str]
    key: str | None = None
    outcome: Outcome | None = None
    error_code: str | None = None
    registered_at: str | None = None


def read_inventory(path: Path) -> tuple[list[str], list[Row]]:
    """Read a CSV or JSON Lines inventory; return its column names and its rows."""
    try:
        content = path.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(f"cannot read {path}: {exc}") from None
    rows: list[Row] = []
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        columns: list[str] = []
        for number, line in enumerate(content.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InventoryError(f"line {number}: invalid JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise InventoryError(f"line {number}: each line must be a JSON object")
            values = {str(k): "" if v is None else str(v) for k, v in record.items()}
            columns.extend(k for k in values if k not in columns)
            rows.append(Row(number, values.get("product_code", ""), values))
    else:
        reader = csv.DictReader(io.StringIO(content))
        columns = [c for c in (reader.fieldnames or []) if c]
        for record in reader:
            values = {k: v or "" for k, v in record.items() if k}
            rows.append(Row(reader.line_num, values.get("product_code", ""), values))
    if "product_code" not in columns:
        raise InventoryError(f"{path} has no product_code column")
    return columns, rows


def classify(rows: list[Row]) -> list[Row]:
    """Validate every row and drop duplicates; return the first row of each well-formed code."""
    first: dict[str, Row] = {}
    for row in rows:
        code = row.raw_code.strip()
        if not CODE_PATTERN.fullmatch(code):
            row.outcome, row.error_code = "invalid", "071-105"
            continue
        row.key = code.upper()
        if row.key in first:
            row.outcome = "duplicate"
            continue
        first[row.key] = row
    return list(first.values())


class StateFile:
    """Append-only record of acknowledged outcomes, flushed to disk before anything else happens."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.acknowledged: dict[str, dict[str, Any]] = {}
        if path.exists():
            for line in path.read_text("utf-8").splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a kill: that code was not acknowledged
                if isinstance(record, dict) and record.get("outcome") in DONE:
                    self.acknowledged[str(record["code"])] = record
        self._file = path.open("a", encoding="utf-8")

    def record(self, row: Row) -> None:
        """Persist an acknowledged outcome (fsync'd, so a kill right after loses nothing)."""
        assert row.key is not None
        entry = {
            "code": row.key,
            "outcome": row.outcome,
            "error_code": row.error_code,
            "at": row.registered_at,
        }
        self._file.write(json.dumps(entry) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self.acknowledged[row.key] = entry

    def close(self) -> None:
        """Close the file."""
        self._file.close()


class Pacer:
    """Keep our own sends within the server's advertised rolling window, so that it never says 429.

    It learns the limit and window from the first response's headers, assumes that slots the
    server reports as used by someone else were used just now (the safe guess), and then admits a
    send only while fewer than ``limit`` of ours lie in the last ``window`` (plus a margin).
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self.limit: int | None = None
        self.window: float | None = None
        self._lock = asyncio.Lock()

    def observe(self, state: RateLimitState | None) -> None:
        """Learn the limit from response headers (the first time they are seen)."""
        if state is None or self.limit is not None or not state.window:
            return
        self.limit, self.window = state.limit, float(state.window) + WINDOW_MARGIN_SECONDS
        now = self._clock()
        others = max(0, state.limit - state.remaining - len(self._sent))
        if others:
            oldest = now - self.window + state.reset_after
            self._sent.extendleft([now] * (others - 1))
            self._sent.appendleft(oldest)

    async def acquire(self) -> None:
        """Wait until one more send fits in the window, and count it."""
        async with self._lock:
            while True:
                now = self._clock()
                if self.limit is None or self.window is None:
                    break
                while self._sent and self._sent[0] <= now - self.window:
                    self._sent.popleft()
                if len(self._sent) < self.limit:
                    break
                await self._sleep(self._sent[len(self._sent) - self.limit] + self.window - now)
            self._sent.append(self._clock())


@dataclass
class Progress:
    """Counts for the progress display."""

    total: int
    done: int = 0
    counts: Counter[str] = field(default_factory=Counter)


@dataclass
class Onboarding:
    """One run of ``onboard``."""

    client: AsyncClient
    rows: list[Row]
    state: StateFile | None
    concurrency: int = 8
    use_batch: bool = True
    dry_run: bool = False
    on_progress: Callable[[Progress], None] = lambda _: None
    pacer: Pacer = field(default_factory=Pacer)
    requests: int = 0
    too_many_requests: int = 0

    async def _call(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        await self.pacer.acquire()
        self.requests += 1
        try:
            return await fn()
        except errors.RateLimited:
            self.too_many_requests += 1
            raise
        finally:
            self.pacer.observe(self.client.last_rate_limit)

    async def registered_codes(self) -> dict[str, str]:
        """Read the provider's current registrations once (code key -> registered_at)."""
        found: dict[str, str] = {}
        page, pages = 0, 1
        while page < pages:
            current = await self._call(partial(self.client.list_provider_products, page=page, size=200))
            pages = current.page.total_pages
            for item in current.content:
                found[item.product_code.upper()] = item.registered_at.strftime("%Y-%m-%dT%H:%M:%SZ")
            page += 1
        return found

    async def run(self) -> Progress:
        """Register every code of the inventory that the provider does not have yet."""
        unique = classify(self.rows)
        pending = []
        for row in unique:
            acknowledged = self.state.acknowledged.get(row.key or "") if self.state else None
            if acknowledged is not None:
                row.outcome, row.error_code = acknowledged["outcome"], acknowledged.get("error_code")
                row.registered_at = acknowledged.get("at")
            else:
                pending.append(row)
        progress = Progress(total=len(unique))
        progress.done = len(unique) - len(pending)
        progress.counts.update(r.outcome for r in unique if r.outcome)
        self.on_progress(progress)
        existing = await self.registered_codes()
        to_send = []
        for row in pending:
            if row.key in existing:
                self._settle(row, "already_registered", None, existing[row.key], progress)
            else:
                to_send.append(row)
        if self.dry_run:
            await self._each(to_send, lambda row: self._check(row, progress))
        elif self.use_batch and to_send and await self._batch_offered(to_send, progress):
            chunks = [to_send[i : i + BATCH_SIZE] for i in range(BATCH_SIZE, len(to_send), BATCH_SIZE)]
            await self._each(chunks, lambda chunk: self._register_batch(chunk, progress))
        else:
            await self._each(to_send, lambda row: self._register_one(row, progress))
        return progress

    async def _each(self, items: list[Any], work: Callable[[Any], Awaitable[None]]) -> None:
        """Run ``work`` on every item with bounded concurrency (the pacer spaces the sends)."""
        queue: asyncio.Queue[Any] = asyncio.Queue()
        for item in items:
            queue.put_nowait(item)

        async def worker() -> None:
            while not queue.empty():
                item = queue.get_nowait()
                await work(item)

        await asyncio.gather(*(worker() for _ in range(max(1, self.concurrency))))

    def _settle(
        self,
        row: Row,
        outcome: Outcome,
        error_code: str | None,
        registered_at: str | None,
        progress: Progress,
    ) -> None:
        row.outcome, row.error_code, row.registered_at = outcome, error_code, registered_at
        if self.state is not None and outcome in DONE:
            self.state.record(row)
        progress.done += 1
        progress.counts[outcome] += 1
        self.on_progress(progress)

    async def _register_one(self, row: Row, progress: Progress) -> None:
        assert row.key is not None
        key = row.key
        try:
            registration = await self._call(lambda: self.client.register_product(key))
        except errors.ProductAlreadyRegistered:
            self._settle(row, "already_registered", "071-102", None, progress)
        except errors.ProductNotInCatalogue:
            self._settle(row, "not_in_catalogue", "071-101", None, progress)
        except errors.ValidationFailed:
            self._settle(row, "invalid", "071-105", None, progress)
        except (errors.ApiError, errors.TransportError) as exc:
            self._settle(row, "failed", getattr(exc, "error_code", None) or "transport", None, progress)
        else:
            self._settle(row, "registered", None, _seconds(registration.registered_at), progress)

    async def _batch_offered(self, rows: list[Row], progress: Progress) -> bool:
        """Send the first batch; say whether the server has the batch extension."""
        try:
            await self._register_batch(rows[:BATCH_SIZE], progress, probe=True)
        except (errors.RouteNotFound, errors.MethodNotAllowed):
            return False
        except errors.ApiError as exc:
            if exc.status_code in (404, 405):
                return False
            raise
        return True

    async def _register_batch(self, rows: list[Row], progress: Progress, *, probe: bool = False) -> None:
        keys = [r.key or "" for r in rows]
        try:
            result = await self._call(lambda: self.client.register_products(keys))
        except (errors.RouteNotFound, errors.MethodNotAllowed):
            raise
        except errors.ApiError as exc:
            if probe and exc.status_code in (404, 405):
                raise
            for row in rows:
                self._settle(row, "failed", exc.error_code or str(exc.status_code), None, progress)
            return
        except errors.TransportError:
            for row in rows:
                self._settle(row, "failed", "transport", None, progress)
            return
        for row, item in zip(rows, result.results, strict=True):
            at = _seconds(item.registered_at) if item.registered_at else None
            self._settle(row, item.outcome, item.error_code, at, progress)

    async def _check(self, row: Row, progress: Progress) -> None:
        """Dry run: say what registering would do, without registering."""
        assert row.key is not None
        key = row.key
        try:
            product = await self._call(lambda: self.client.get_product(key))
        except errors.ProductNotInCatalogue:
            self._settle(row, "not_in_catalogue", "071-101", None, progress)
        except (errors.ApiError, errors.TransportError) as exc:
            self._settle(row, "failed", getattr(exc, "error_code", None) or "transport", None, progress)
        else:
            withdrawn = product.status != "ACTIVE"
            outcome: Outcome = "not_in_catalogue" if withdrawn else "would_register"
            self._settle(row, outcome, "071-101" if withdrawn else None, None, progress)

    async def remove_absent(self, registered: Iterable[str]) -> list[str]:
        """Remove registrations whose codes are not in the inventory; return the codes removed."""
        removed: list[str] = []

        async def remove(code: str) -> None:
            try:
                await self._call(lambda: self.client.delete_provider_product(code))
            except errors.ProductNotRegistered:
                return
            removed.append(code)

        await self._each(list(registered), remove)
        return sorted(removed)


def _seconds(value: Any) -> str:
    return str(value.strftime("%Y-%m-%dT%H:%M:%SZ"))


def write_report(path: Path, columns: list[str], rows: list[Row], removed: Iterable[str] = ()) -> None:
    """Write every row with its outcome and error code (and removals, with --sync)."""
    fields = [*columns, "outcome", "error_code", "registered_at"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            outcome = {"outcome": row.outcome or "", "error_code": row.error_code or ""}
            writer.writerow({**row.columns, **outcome, "registered_at": row.registered_at or ""})
        for code in removed:
            writer.writerow({"product_code": code, "outcome": "removed"})


def eta_seconds(progress: Progress, started: float, now: float) -> float | None:
    """Estimate the seconds left from the pace so far."""
    if progress.done == 0 or now <= started:
        return None
    rate = progress.done / (now - started)
    return math.ceil((progress.total - progress.done) / rate) if rate > 0 else None
