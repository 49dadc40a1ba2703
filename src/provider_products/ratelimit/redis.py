"""The shared limiter: an exact sliding log per key in Redis, one atomic script per hit.

Every server process asks the same Redis, and the script reads Redis's own clock, so no rolling
window admits more than the limit across all processes, whatever their clocks say.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable
from typing import Any, Literal

from redis.asyncio import Redis
from redis.exceptions import RedisError

from provider_products.errors import StoreUnavailable
from provider_products.ratelimit.base import Decision

logger = logging.getLogger("provider_products.ratelimit")

# KEYS[1]: the key's log (a sorted set of admitted hits scored by time in ms).
# ARGV: limit, window in ms, member (unique per hit), now in ms or "" to use Redis's clock.
# Returns {admitted (0/1), hits in window after this one, time of the hit that frees the next slot, now}.
_SLIDING_LOG = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local now = tonumber(ARGV[4])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count >= limit then
  local blocking = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
  return {0, count, tonumber(blocking[2]), now}
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {1, count + 1, tonumber(oldest[2]), now}
"""


class RedisRateLimiter:
    """Exact rolling-window limiter shared by every process through Redis.

    While Redis is unreachable, ``failure_mode`` decides: ``"open"`` admits the request (and
    sends no rate-limit headers, since nothing was counted); ``"closed"`` refuses it with 503
    ``071-503``. Either way the service stays up and answers at once.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "pp:rl:",
        failure_mode: Literal["open", "closed"] = "open",
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._failure_mode = failure_mode
        self._clock = clock
        self._script = redis.register_script(_SLIDING_LOG)
        self._member_prefix = uuid.uuid4().hex[:12]
        self._sequence = 0

    @property
    def redis(self) -> Redis:
        """The Redis client the limiter talks through (tracing instruments it)."""
        return self._redis

    @classmethod
    def from_url(
        cls, url: str, *, failure_mode: Literal["open", "closed"] = "open", prefix: str = "pp:rl:"
    ) -> RedisRateLimiter:
        """Connect lazily to the Redis at ``url`` with short timeouts, so an outage cannot hang requests."""
        # A Redis that is down refuses the connection at once; one that answers late is more
        # often a loaded machine than a broken store, and admitting past the limit (fail open)
        # would break the limit's exactness: give an answer two seconds before giving up on it.
        redis = Redis.from_url(
            url,
            socket_timeout=2.0,
            socket_connect_timeout=0.5,
            health_check_interval=10,
            retry_on_timeout=False,
        )
        return cls(redis, prefix=prefix, failure_mode=failure_mode)

    async def hit(self, key: str, *, limit: int, window: int) -> Decision:
        """Admit and record the hit when fewer than ``limit`` hits lie in the last ``window`` seconds."""
        self._sequence += 1
        member = f"{self._member_prefix}:{self._sequence}"
        now = "" if self._clock is None else str(int(self._clock() * 1000))
        try:
            reply: Any = await self._script(
                keys=[self._prefix + key], args=[limit, window * 1000, member, now]
            )
        except (RedisError, OSError) as exc:
            logger.warning("rate-limit store unavailable: %s", exc)
            if self._failure_mode == "closed":
                raise StoreUnavailable("The rate-limit store is unavailable") from None
            return Decision(True, limit, window, limit, 0, counted=False)
        admitted, count, frees_from, now_ms = (int(v) for v in reply)
        seconds = (frees_from + window * 1000 - now_ms) / 1000
        if not admitted:
            return Decision(False, limit, window, 0, max(1, math.ceil(seconds)))
        return Decision(True, limit, window, limit - count, max(0, math.ceil(seconds)))

    async def ping(self) -> bool:
        """Say whether Redis answers."""
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()
