"""The rate limiter interface, its decisions, and the headers that advertise them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Decision:
    """The outcome of one hit against a rolling window.

    ``reset_after`` is the number of whole seconds until the oldest counted request leaves the
    window and a slot frees (0 when the window is empty); when refused it is the Retry-After.
    ``counted`` is false when the store was unreachable and the request was let through
    uncounted; no rate-limit headers are sent then, since they would be invented.
    """

    allowed: bool
    limit: int
    window: int
    remaining: int
    reset_after: int
    counted: bool = True

    def headers(self, policy: str = "default") -> dict[str, str]:
        """Render the IETF ``RateLimit``/``RateLimit-Policy`` and the ``X-RateLimit-*`` headers."""
        if not self.counted:
            return {}
        return {
            "RateLimit-Policy": f'"{policy}";q={self.limit};w={self.window}',
            "RateLimit": f'"{policy}";r={self.remaining};t={self.reset_after}',
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_after),
        }


class RateLimiter(Protocol):
    """Admit at most ``limit`` hits per key in any rolling ``window`` seconds; refused hits don't count."""

    async def hit(self, key: str, *, limit: int, window: int) -> Decision:
        """Count one request for ``key`` if the window has room, and say what happened."""
        ...

    async def ping(self) -> bool:
        """Say whether the limiter's store is reachable."""
        ...

    async def close(self) -> None:
        """Release the store."""
        ...
