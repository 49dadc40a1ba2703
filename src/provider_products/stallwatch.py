"""An operator's stall detector: logs where the event loop was when it stopped answering.

A task on the loop stamps a heartbeat every few milliseconds; a daemon thread checks the stamp and,
when it is older than the threshold, takes the loop thread's stack (``sys._current_frames``). When
the loop beats again, one warning line says how long it was held and where, and how much of that
time went to garbage collection of the oldest generation (a ``gc.callbacks`` hook), which holds
every thread and shows no stack of its own. Off unless ``PROVIDER_PRODUCTS_LOOP_STALL_REPORT_MS`` is
set; it costs one timer wake-up per interval.

Written here because what exists does not say where: asyncio's debug mode (uvloop's too) names
the slow callback, not the line, and slows every call while on; aiodebug patches
``asyncio.Handle._run``, which uvloop's handles never call.

A thread cannot take the GIL while the loop thread holds it inside one C call (a large copy, a
sort), so the stack of such a stall is the one of the Python line right after that call: still the
line to look at.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import threading
import time
import traceback
from typing import Any

logger = logging.getLogger("provider_products.stalls")

STACK_LIMIT = 12  # innermost frames shown


class StallWatch:
    """Report each stall of the running event loop longer than ``threshold`` seconds."""

    def __init__(self, threshold: float, *, interval: float = 0.005) -> None:
        self.threshold = threshold
        self.interval = interval
        self.stalls: list[tuple[float, str]] = []  # (seconds, stack): the latest few, for tests
        self._beat = time.monotonic()
        self._loop_thread = 0
        self._stop = threading.Event()
        self._gc_started = 0.0
        self._gc_seconds = 0.0  # oldest-generation collections during the current stall

    async def run(self) -> None:
        """Beat until cancelled, with the watching thread beside the loop."""
        self._loop_thread = threading.get_ident()
        self._beat = time.monotonic()
        gc.callbacks.append(self._on_gc)
        watcher = threading.Thread(target=self._watch, name="loop-stall-watch", daemon=True)
        watcher.start()
        try:
            while True:
                self._beat = time.monotonic()
                await asyncio.sleep(self.interval)
        finally:
            self._stop.set()
            gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._gc_started = time.monotonic()
        elif self._gc_started:
            self._gc_seconds += time.monotonic() - self._gc_started
            self._gc_started = 0.0

    def _watch(self) -> None:
        stalled_beat = 0.0
        stack = ""
        while not self._stop.wait(self.interval):
            beat = self._beat
            now = time.monotonic()
            if stalled_beat and beat != stalled_beat:
                self._report(beat - stalled_beat, stack)
                stalled_beat, stack = 0.0, ""
            elif not stalled_beat and now - beat > self.threshold:
                stalled_beat = beat
                frame = sys._current_frames().get(self._loop_thread)
                summary = traceback.extract_stack(frame, limit=STACK_LIMIT) if frame is not None else []
                stack = " <- ".join(f"{f.filename}:{f.lineno} {f.name}" for f in reversed(summary))
            elif not stalled_beat:
                self._gc_seconds = 0.0

    def _report(self, seconds: float, stack: str) -> None:
        seconds -= self.interval  # the beat is due one interval after the last
        gc_seconds, self._gc_seconds = self._gc_seconds, 0.0
        self.stalls = [*self.stalls[-99:], (seconds, stack)]
        logger.warning(
            "event loop held for %.0f ms (%.0f ms of it in gc of the oldest generation) at: %s",
            seconds * 1000,
            gc_seconds * 1000,
            stack or "(no stack)",
        )
