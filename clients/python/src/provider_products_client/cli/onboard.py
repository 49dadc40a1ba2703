"""``onboard``: register a provider's inventory file through the API, with progress.

Run as ``provider-products-client onboard`` or, with the server installed, ``provider-products onboard``.
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from provider_products_client.cli.common import (
    BaseUrl,
    ClientId,
    ClientSecret,
    Sheet,
    api_client,
    err,
    fail,
    out,
    sdk_error_line,
)

if TYPE_CHECKING:
    from provider_products_client.onboarding.onboard import Progress

HEARTBEAT_SECONDS = 5.0


def onboard(
    inventory: Annotated[
        Path,
        typer.Argument(help="CSV, .xlsx or JSON Lines with a product code column (product_code, código...)"),
    ],
    base_url: BaseUrl = None,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
    sheet: Sheet = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Requests in flight at most")] = 8,
    state: Annotated[
        Path | None, typer.Option(help="Resume file [default: INVENTORY.onboard-state.jsonl]")
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Outcome report [default: INVENTORY.report.csv]")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what a run would do; register nothing")
    ] = False,
    sync: Annotated[
        bool, typer.Option("--sync", help="Also remove registrations absent from the inventory")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before removing (with --sync)")] = False,
    batch: Annotated[bool, typer.Option(help="Use the batch extension when the server offers it")] = True,
) -> None:
    """Register every product of an inventory file, as fast as the rate limit allows; safe to re-run."""
    from provider_products_client.onboarding import onboard as onboarding
    from provider_products_client.onboarding.pacing import Pacer

    if sync and not dry_run and not yes and not sys.stdin.isatty():
        fail(
            "--sync without a terminal needs --yes (nobody can confirm the removals); nothing was removed", 2
        )
    try:
        loaded = onboarding.read_inventory(inventory, sheet=sheet)
    except onboarding.InventoryError as exc:
        fail(exc, 2)
    err.print(loaded.description, markup=False, highlight=False, soft_wrap=True)
    plan = onboarding.Plan(
        inventory=inventory,
        state=state,
        report=report,
        concurrency=concurrency,
        use_batch=batch,
        dry_run=dry_run,
        sync=sync,
        assume_yes=yes,
    )
    client = api_client(base_url, client_id, client_secret)
    where = base_url or os.environ.get("PROVIDER_PRODUCTS_BASE_URL", "")
    display = ProgressDisplay(tty=out.is_terminal)

    def confirm(count: int) -> bool:
        return typer.confirm(f"Remove {count} registered products absent from the inventory?")

    async def main() -> onboarding.Summary:
        ticker = asyncio.create_task(display.heartbeat())
        try:
            return await onboarding.onboard(
                client, plan, loaded, confirm_removal=confirm, on_progress=display.update, pacer=Pacer()
            )
        finally:
            ticker.cancel()
            await client.aclose()

    from provider_products_client import errors

    try:
        with display:
            summary = asyncio.run(main())
    except KeyboardInterrupt:
        err.print("interrupted: what was acknowledged is saved; run the same command again to resume")
        err.print(f"report (so far): {plan.report_path}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(130) from None
    except (errors.ApiError, errors.TransportError) as exc:
        err.print(f"report (so far): {plan.report_path}", markup=False, highlight=False, soft_wrap=True)
        fail(sdk_error_line(exc, where), 1)
    out.print(summary.text)
    out.print(f"report: {summary.report}", markup=False, highlight=False, soft_wrap=True)
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)


class ProgressDisplay:
    """A progress bar on a terminal; else a line at least every 5 s and on each rate-limit wait."""

    def __init__(self, *, tty: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self._tty = tty
        self._clock = clock
        self._bar: Any = None
        self._task: Any = None
        self._last: float | None = None
        self._announced: float | None = None
        self._started = clock()
        self._progress: Progress | None = None
        self._shown = -1

    def __enter__(self) -> ProgressDisplay:
        if self._tty:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("onboarding"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[counts]}"),
                TimeRemainingColumn(),
                console=out,
            )
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)

    async def heartbeat(self) -> None:
        """Re-show the progress every second (it prints only when a line is due)."""
        while True:
            await asyncio.sleep(1)
            if self._progress is not None:
                self.update(self._progress)

    def update(self, progress: Progress) -> None:
        """Show the counts so far (and the wait for the rate limit, if any)."""
        self._progress = progress
        counts = " ".join(f"{k}={v}" for k, v in sorted(progress.counts.items()))
        if self._bar is not None:
            if self._task is None:
                self._task = self._bar.add_task("onboarding", total=progress.total, counts=counts)
            self._bar.update(self._task, completed=progress.done, total=progress.total, counts=counts)
            return
        now = self._clock()
        waiting = progress.wait_until - now if progress.wait_until is not None else 0.0
        new_wait = waiting >= 1 and self._announced != progress.wait_until
        due = self._last is None or now - self._last >= HEARTBEAT_SECONDS
        finished = progress.done == progress.total and self._shown != progress.done
        if not (due or new_wait or finished):
            return
        from provider_products_client.onboarding.onboard import eta_seconds

        eta = eta_seconds(progress, self._started, now)
        eta_text = f", eta {int(eta)} s" if eta is not None else ""
        wait_text = f"; waiting {math.ceil(waiting)} s for the rate limit" if waiting >= 1 else ""
        print(f"{progress.done}/{progress.total} {counts}{eta_text}{wait_text}", flush=True)
        self._last, self._shown = now, progress.done
        if waiting >= 1:
            self._announced = progress.wait_until
