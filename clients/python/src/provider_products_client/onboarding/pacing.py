"""Pacing: keep a client's sends within the rate limit the server advertises, so that it never says 429."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

from provider_products_client.models import RateLimitState

# Sends are spaced as if the server's window were this much longer, so that uneven network
# delays can never squeeze more requests than the limit into one of its windows.
WINDOW_MARGIN_SECONDS = 1.0


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
        # Told how many seconds a send waits for the window (and 0 when it goes), for progress displays.
        self.on_wait: Callable[[float], None] = lambda _: None

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
                delay = self._sent[len(self._sent) - self.limit] + self.window - now
                self.on_wait(delay)
                await self._sleep(delay)
                self.on_wait(0)
            self._sent.append(self._clock())
