"""``provider-products onboard``: register a provider's inventory file through the API, with progress."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from provider_products.cli.common import BaseUrl, ClientId, ClientSecret, api_client, err, fail, out

if TYPE_CHECKING:
    from provider_products.onboarding.onboard import Progress


def onboard(
    inventory: Annotated[Path, typer.Argument(help="CSV or JSON Lines with a product_code column")],
    base_url: BaseUrl = None,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Requests in flight at most")] = 8,
    state: Annotated[
        Path | None, typer.Option(help="Resume file [default: INVENTORY.onboard-state.jsonl]")
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Outcome report [default: INVENTORY.report.csv]")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check every code; register nothing")] = False,
    sync: Annotated[
        bool, typer.Option("--sync", help="Also remove registrations absent from the inventory")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before removing (with --sync)")] = False,
    batch: Annotated[bool, typer.Option(help="Use the batch extension when the server offers it")] = True,
) -> None:
    """Register every product of an inventory file, as fast as the rate limit allows; safe to re-run."""
    from provider_products.onboarding import onboard as onboarding

    try:
        columns, rows = onboarding.read_inventory(inventory)
    except onboarding.InventoryError as exc:
        fail(exc, 2)
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
    display = _ProgressDisplay()

    def confirm(count: int) -> bool:
        return typer.confirm(f"Remove {count} registered products absent from the inventory?")

    async def main() -> onboarding.Summary:
        try:
            return await onboarding.onboard(
                client, plan, columns, rows, confirm_removal=confirm, on_progress=display.update
            )
        finally:
            await client.aclose()

    try:
        with display:
            summary = asyncio.run(main())
    except KeyboardInterrupt:
        err.print("interrupted: what was acknowledged is saved; run the same command again to resume")
        raise typer.Exit(130) from None
    out.print(summary.text)
    out.print(f"report: {summary.report}")
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)


class _ProgressDisplay:
    """A progress bar on a terminal; a plain line every few seconds otherwise."""

    def __init__(self) -> None:
        self._tty = out.is_terminal
        self._bar: Any = None
        self._task: Any = None
        self._last = 0.0
        self._started = time.monotonic()

    def __enter__(self) -> _ProgressDisplay:
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

    def update(self, progress: Progress) -> None:
        """Show the counts so far."""
        counts = " ".join(f"{k}={v}" for k, v in sorted(progress.counts.items()))
        if self._bar is not None:
            if self._task is None:
                self._task = self._bar.add_task("onboarding", total=progress.total, counts=counts)
            self._bar.update(self._task, completed=progress.done, total=progress.total, counts=counts)
            return
        now = time.monotonic()
        if now - self._last >= 5 or progress.done == progress.total:
            from provider_products.onboarding.onboard import eta_seconds

            eta = eta_seconds(progress, self._started, now)
            eta_text = f", eta {int(eta)} s" if eta is not None else ""
            print(f"{progress.done}/{progress.total} {counts}{eta_text}", flush=True)
            self._last = now
