"""Bulk onboarding: take a provider's inventory file to a registered catalogue, paced and resumable.

Talks to the service only through the SDK (``provider_products_client``), so it works against any
server that speaks the contract, and uses the batch extensions (lookup, registration) where the
server offers them.

The server is the truth. Every run reads the provider's registrations and the catalogue afresh
and acts on what they say now. The state file of an unfinished run is only a memory of requests
already acknowledged: a ``registered`` outcome is kept only when the fresh list still has the code,
and a ``not_in_catalogue`` one only spares a request when the server cannot look codes up in
batch. A run that settles every row removes the file, so the next run starts from the server alone.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from provider_products_client import AsyncClient, errors
from provider_products_client.models import LookupItem
from provider_products_client.onboarding.files import (
    CODE_PATTERN,
    Inventory,
    InventoryError,
    Outcome,
    Row,
    StateFile,
    classify,
    read_inventory,
    write_report,
)
from provider_products_client.onboarding.pacing import Pacer

__all__ = [
    "CODE_PATTERN",
    "Inventory",
    "InventoryError",
    "Plan",
    "Row",
    "Summary",
    "onboard",
    "read_inventory",
]

BATCH_SIZE = 500
FAILED = {"not_in_catalogue", "invalid", "failed"}


@dataclass
class Progress:
    """Counts for the progress display; ``wait_until`` (monotonic) while waiting for the rate limit."""

    total: int
    done: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    wait_until: float | None = None


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
    progress: Progress = field(default_factory=lambda: Progress(0))

    def __post_init__(self) -> None:
        self.pacer.on_wait = self._waiting

    def _waiting(self, seconds: float) -> None:
        self.progress.wait_until = time.monotonic() + seconds if seconds > 0 else None
        self.on_progress(self.progress)

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
        """Read the provider's current registrations (code key -> registered_at)."""
        found: dict[str, str] = {}
        page, pages = 0, 1
        while page < pages:
            current = await self._call(partial(self.client.list_provider_products, page=page, size=200))
            pages = current.page.total_pages
            for item in current.content:
                found[item.product_code.upper()] = item.registered_at.strftime("%Y-%m-%dT%H:%M:%SZ")
            page += 1
        return found

    async def run(self, existing: dict[str, str] | None = None) -> Progress:
        """Register every code of the inventory that the provider does not have now (dry run: say so)."""
        unique = classify(self.rows)
        progress = self.progress = Progress(total=len(self.rows))
        settled = [r for r in self.rows if r.outcome]
        progress.done = len(settled)
        progress.counts.update(r.outcome for r in settled if r.outcome)
        self.on_progress(progress)
        existing = await self.registered_codes() if existing is None else existing
        pending = []
        for row in unique:
            if row.key in existing:
                mine = self._acknowledged(row, "registered")  # this unfinished run registered it
                outcome: Outcome = "registered" if mine else "already_registered"
                self._settle(row, outcome, None, existing[row.key or ""], progress)
            else:
                pending.append(row)
        catalogue = await self._lookup(pending, progress)
        if catalogue is None:
            await self._without_lookup([r for r in pending if r.outcome is None], progress)
        else:
            await self._send(self._registrable(pending, catalogue, progress), progress)
        return progress

    def _registrable(
        self, pending: list[Row], catalogue: dict[str, LookupItem], progress: Progress
    ) -> list[Row]:
        """Settle the codes the catalogue cannot register (dry run: also those it can); return the rest."""
        to_send = []
        for row in pending:
            item = catalogue.get(row.key or "")
            if row.outcome is not None:
                continue  # its lookup failed
            if item is None or not item.found or item.status != "ACTIVE":
                self._settle(row, "not_in_catalogue", "071-101", None, progress)
            elif self.dry_run:
                self._settle(row, "would_register", None, None, progress)
            else:
                to_send.append(row)
        return to_send

    def _acknowledged(self, row: Row, outcome: str) -> dict[str, Any] | None:
        record = self.state.acknowledged.get(row.key or "") if self.state else None
        return record if record is not None and record.get("outcome") == outcome else None

    async def _lookup(self, rows: list[Row], progress: Progress) -> dict[str, LookupItem] | None:
        """Look the codes up in batches of 500; None when the server has no batch lookup."""
        found: dict[str, LookupItem] = {}
        chunks = [rows[i : i + BATCH_SIZE] for i in range(0, len(rows), BATCH_SIZE)]

        async def look(chunk: list[Row]) -> None:
            keys = [r.key or "" for r in chunk]
            try:
                result = await self._call(lambda: self.client.lookup_products(keys))
            except (errors.RouteNotFound, errors.MethodNotAllowed):
                raise
            except errors.ApiError as exc:
                if exc.status_code in (404, 405):
                    raise
                self._fail_all(chunk, exc.error_code or str(exc.status_code), progress)
                return
            except errors.TransportError:
                self._fail_all(chunk, "transport", progress)
                return
            found.update((key, item) for key, item in zip(keys, result.content, strict=True))

        if not chunks:
            return found
        try:
            await look(chunks[0])
        except errors.ApiError:  # 404/405: an Osigu server without the extension
            return None
        await self._each(chunks[1:], look)
        return found

    async def _without_lookup(self, pending: list[Row], progress: Progress) -> None:
        """Check (dry run) or register codes on a server without batch lookup."""
        if self.dry_run:
            await self._each(pending, lambda row: self._check(row, progress))
            return
        to_send = []
        for row in pending:
            # Only here does an acknowledged 404 of this unfinished run spare a request.
            if self._acknowledged(row, "not_in_catalogue"):
                self._settle(row, "not_in_catalogue", "071-101", None, progress)
            else:
                to_send.append(row)
        await self._send(to_send, progress)

    async def _send(self, to_send: list[Row], progress: Progress) -> None:
        """Register the rows: in batches when the server offers them, else one by one."""
        if self.use_batch and to_send and await self._batch_offered(to_send, progress):
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
        if self.state is not None and outcome in ("registered", "already_registered", "not_in_catalogue"):
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
        except errors.ApiError as exc:
            if exc.status_code in (404, 405):
                return False
            raise
        return True

    async def _register_batch(self, rows: list[Row], progress: Progress, *, probe: bool = False) -> None:
        keys = [r.key or "" for r in rows]
        try:
            result = await self._call(lambda: self.client.register_products(keys))
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
        """Dry run on a server without batch lookup: one catalogue read per code."""
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
    counts: dict[str, int] = field(default_factory=dict)


async def onboard(
    client: AsyncClient,
    plan: Plan,
    inventory: Inventory,
    *,
    confirm_removal: Callable[[int], bool],
    on_progress: Callable[[Progress], None] = lambda _: None,
    pacer: Pacer | None = None,
) -> Summary:
    """Register the inventory, remove what it lacks (with ``sync``), and write the report.

    The report is written however the run ends (rows not reached say ``pending``). The state file
    is open only while the run is, and removed when every row was settled (a dry run keeps none);
    ``confirm_removal`` is asked, with the number of registrations to remove, unless the plan says
    not to ask. A dry run with ``sync`` lists what would be removed.
    """
    state = None if plan.dry_run else StateFile(plan.state_path)
    run = Onboarding(
        client=client,
        rows=inventory.rows,
        state=state,
        concurrency=plan.concurrency,
        use_batch=plan.use_batch,
        dry_run=plan.dry_run,
        on_progress=on_progress,
        pacer=pacer or Pacer(),
    )
    removed: list[str] = []
    finished = False
    try:
        existing = await run.registered_codes()
        progress = await run.run(existing)
        if plan.sync:
            removed = await _remove_absent(run, plan, existing, confirm_removal)
        finished = not any(r.outcome in (None, "failed") for r in inventory.rows)
    finally:
        if state is not None:
            state.close(finished=finished)
        write_report(
            plan.report_path, inventory, removed, removal="would_remove" if plan.dry_run else "removed"
        )
    return _summary(plan, run, progress, removed)


async def _remove_absent(
    run: Onboarding, plan: Plan, existing: dict[str, str], confirm: Callable[[int], bool]
) -> list[str]:
    """Remove (dry run: list) the registrations the inventory lacks, once confirmed; return them."""
    wanted = {r.key for r in run.rows if r.key}
    absent = sorted(set(existing) - wanted)
    if plan.dry_run or not absent:
        return absent
    if plan.assume_yes or confirm(len(absent)):
        return await run.remove_absent(absent)
    return []


def _summary(plan: Plan, run: Onboarding, progress: Progress, removed: list[str]) -> Summary:
    """Count every row's outcome (they add up to the rows read); exit 1 when any row did not make it."""
    rows = run.rows
    counts: Counter[str] = Counter(r.outcome or "pending" for r in rows)
    removal = "would_remove" if plan.dry_run else "removed"
    text = (
        f"{len(rows)} rows: "
        + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        + (f"; {len(removed)} {removal}" if plan.sync else "")
        + f"; {run.requests} requests, {run.too_many_requests} answered 429"
    )
    failed = any(r.outcome in FAILED for r in rows)  # invalid rows included
    return Summary(text, plan.report_path, 1 if failed else 0, dict(counts))


def _seconds(value: Any) -> str:
    return str(value.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _seconds_or_none(value: Any) -> str | None:
    return _seconds(value) if value else None


def eta_seconds(progress: Progress, started: float, now: float) -> float | None:
    """Estimate the seconds left from the pace so far."""
    if progress.done == 0 or now <= started:
        return None
    rate = progress.done / (now - started)
    return math.ceil((progress.total - progress.done) / rate) if rate > 0 else None
