"""Bulk onboarding: take a provider's inventory file to a registered catalogue, paced and resumable.

Talks to the service only through the SDK (``provider_products.client``), so it works against any
server that speaks the contract, and uses the batch extension where the server offers it.
"""

from __future__ import annotations

import asyncio
import csv
import json
import math
import os
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

from provider_products import tabular
from provider_products.client import AsyncClient, errors
from provider_products.onboarding.pacing import Pacer

# The contract's rule for product codes (the server's catalogue/schemas.py CODE_PATTERN; a test
# checks that the two agree): rows that break it are reported invalid without asking the server.
CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
BATCH_SIZE = 500

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
        table = tabular.read_table(path)
    except tabular.TableError as exc:
        raise InventoryError(str(exc)) from None
    if table.errors:
        raise InventoryError(str(table.errors[0]))
    columns = [c for c in table.columns if c]
    if "product_code" not in columns:
        raise InventoryError(f"{path} has no product_code column")
    rows = []
    for row in table.rows:
        values = {k: tabular.cell_text(v) for k, v in row.values.items() if k}
        rows.append(Row(row.line, values.get("product_code", ""), values))
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
        pending = self._resume(unique)
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
        await self._send(to_send, progress)
        return progress

    def _resume(self, unique: list[Row]) -> list[Row]:
        """Give rows the outcomes a previous run acknowledged; return the rows still to do."""
        pending = []
        for row in unique:
            acknowledged = self.state.acknowledged.get(row.key or "") if self.state else None
            if acknowledged is not None:
                row.outcome, row.error_code = acknowledged["outcome"], acknowledged.get("error_code")
                row.registered_at = acknowledged.get("at")
            else:
                pending.append(row)
        return pending

    async def _send(self, to_send: list[Row], progress: Progress) -> None:
        """Check (dry run) or register the rows: in batches when the server offers them, else one by one."""
        if self.dry_run:
            await self._each(to_send, lambda row: self._check(row, progress))
        elif self.use_batch and to_send and await self._batch_offered(to_send, progress):
            chunks = [to_send[i : i + BATCH_SIZE] for i in range(BATCH_SIZE, len(to_send), BATCH_SIZE)]
            await self._each(chunks, lambda chunk: self._register_batch(chunk, progress))
        else:
            await self._each(to_send, lambda row: self._register_one(row, progress))

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
            self._fail_all(rows, exc.error_code or str(exc.status_code), progress)
            return
        except errors.TransportError:
            self._fail_all(rows, "transport", progress)
            return
        for row, item in zip(rows, result.results, strict=True):
            self._settle(row, item.outcome, item.error_code, _seconds_or_none(item.registered_at), progress)

    def _fail_all(self, rows: list[Row], error_code: str, progress: Progress) -> None:
        for row in rows:
            self._settle(row, "failed", error_code, None, progress)

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


@dataclass(frozen=True)
class Plan:
    """What one ``onboard`` run is asked to do."""

    inventory: Path
    state: Path | None = None
    report: Path | None = None
    concurrency: int = 8
    use_batch: bool = True
    dry_run: bool = False
    sync: bool = False
    assume_yes: bool = False  # with sync: remove without asking

    @property
    def state_path(self) -> Path:
        """Return the resume file: ``INVENTORY.onboard-state.jsonl`` unless another was given."""
        return self.state or self.inventory.with_name(self.inventory.name + ".onboard-state.jsonl")

    @property
    def report_path(self) -> Path:
        """Return the outcome report: ``INVENTORY.report.csv`` unless another was given."""
        return self.report or self.inventory.with_name(self.inventory.name + ".report.csv")


@dataclass(frozen=True)
class Summary:
    """What a finished run did: one line to show, where the report is, and the exit status."""

    text: str
    report: Path
    exit_code: int


async def onboard(
    client: AsyncClient,
    plan: Plan,
    columns: list[str],
    rows: list[Row],
    *,
    confirm_removal: Callable[[int], bool],
    on_progress: Callable[[Progress], None] = lambda _: None,
) -> Summary:
    """Register the inventory, remove what it lacks (with ``sync``), and write the report.

    The state file is open only while the run is (a dry run keeps none); ``confirm_removal`` is
    asked, with the number of registrations to remove, unless the plan says not to ask.
    """
    state = None if plan.dry_run else StateFile(plan.state_path)
    run = Onboarding(
        client=client,
        rows=rows,
        state=state,
        concurrency=plan.concurrency,
        use_batch=plan.use_batch,
        dry_run=plan.dry_run,
        on_progress=on_progress,
    )
    try:
        progress = await run.run()
        removed = await _remove_absent(run, plan, confirm_removal) if plan.sync and not plan.dry_run else []
    finally:
        if state is not None:
            state.close()
    write_report(plan.report_path, columns, rows, removed)
    return _summary(plan, run, progress, removed)


async def _remove_absent(run: Onboarding, plan: Plan, confirm: Callable[[int], bool]) -> list[str]:
    """Remove the registrations whose codes the inventory lacks, once confirmed; return those removed."""
    wanted = {r.key for r in run.rows if r.key}
    absent = sorted(set(await run.registered_codes()) - wanted)
    if absent and (plan.assume_yes or confirm(len(absent))):
        return await run.remove_absent(absent)
    return []


def _summary(plan: Plan, run: Onboarding, progress: Progress, removed: list[str]) -> Summary:
    """Count the outcomes; the run fails (exit status 1) when any row did not make it."""
    rows = run.rows
    counts = dict(sorted(progress.counts.items()))
    duplicates = sum(1 for r in rows if r.outcome == "duplicate")
    text = (
        f"{len(rows)} rows: "
        + ", ".join(f"{v} {k}" for k, v in counts.items())
        + (f", {duplicates} duplicate" if duplicates else "")
        + (f", {len(removed)} removed" if plan.sync else "")
        + f"; {run.requests} requests, {run.too_many_requests} answered 429"
    )
    failed = any(r.outcome in FAILED for r in rows)  # invalid rows included
    return Summary(text, plan.report_path, 1 if failed else 0)


def _seconds(value: Any) -> str:
    return str(value.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _seconds_or_none(value: Any) -> str | None:
    return _seconds(value) if value else None


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
