"""The in-process limiter: an exact sliding log per key, for a single server process.

``limits``' memory storage keeps a moving window as a list it prepends to, which costs O(limit)
per hit; a deque makes each hit amortised O(1), which matters for the high per-client limits of
production contracts.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from provider_products.ratelimit.base import Decision

_SWEEP_EVERY = 10_000


class MemoryRateLimiter:
    """Exact rolling-window limiter held in this process's memory."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._log: dict[str, deque[float]] = {}
        self._hits = 0

    async def hit(self, key: str, *, limit: int, window: int) -> Decision:
        """Admit and record the hit when fewer than ``limit`` hits lie in the last ``window`` seconds."""
        now = self._clock()
        self._hits += 1
        if self._hits % _SWEEP_EVERY == 0:
            self._sweep(now)
        log = self._log.get(key)
        if log is None:
            log = self._log[key] = deque()
        cutoff = now - window
        while log and log[0] <= cutoff:
            log.popleft()
        if len(log) >= limit:
            # The hit that must leave the window before one more fits (the limit may have shrunk).
            frees_at = log[len(log) - limit] + window
            return Decision(False, limit, window, 0, max(1, math.ceil(frees_at - now)))
        log.append(now)
        return Decision(True, limit, window, limit - len(log), max(0, math.ceil(log[0] + window - now)))

    def _sweep(self, now: float) -> None:
        # Forget keys idle for a day, the longest window a limit may have.
        idle = [k for k, log in self._log.items() if not log or log[-1] <= now - 86400]
        for key in idle:
            del self._log[key]

    async def ping(self) -> bool:
        """Memory is always reachable."""
        return True

    async def close(self) -> None:
        """Drop every log."""
        self._log.clear()
