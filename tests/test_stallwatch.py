"""The loop-stall detector reports a held loop with its duration and the line that held it."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from provider_products.stallwatch import StallWatch


def hold_the_loop(seconds: float) -> None:
    time.sleep(seconds)  # blocks the loop thread, as a synchronous call in a coroutine would


async def watched(work: object, threshold: float = 0.05) -> StallWatch:
    watch = StallWatch(threshold)
    task = asyncio.create_task(watch.run())
    await asyncio.sleep(0.05)
    await work  # type: ignore[misc]
    await asyncio.sleep(0.1)  # the loop beats again: the watcher reports
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return watch


async def stall() -> None:
    hold_the_loop(0.25)


async def no_stall() -> None:
    for _ in range(20):
        await asyncio.sleep(0.01)


async def test_a_held_loop_is_reported_with_its_duration_and_stack(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="provider_products.stalls"):
        watch = await watched(stall())
    assert len(watch.stalls) == 1
    seconds, stack = watch.stalls[0]
    assert 0.2 <= seconds < 1.0
    assert "hold_the_loop" in stack.split(" <- ")[0]
    assert any(
        "event loop held for" in r.getMessage() and "hold_the_loop" in r.getMessage() for r in caplog.records
    )


async def test_a_loop_that_yields_is_not_reported() -> None:
    watch = await watched(no_stall(), threshold=0.2)
    assert watch.stalls == []
