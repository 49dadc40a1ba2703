"""The per-application objects every request uses: settings, database, limiter, token verifier."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from provider_products.auth.directory import ClientDirectory
from provider_products.auth.security import TokenVerifier
from provider_products.catalogue.sharing import SearchIndex
from provider_products.config import Settings, parse_rate
from provider_products.db.engine import Database
from provider_products.ratelimit.base import RateLimiter
from provider_products.ratelimit.memory import MemoryRateLimiter
from provider_products.ratelimit.redis import RedisRateLimiter


@dataclass
class Runtime:
    """Everything built once per application and shared by its requests."""

    settings: Settings
    database: Database
    limiter: RateLimiter
    verifier: TokenVerifier
    directory: ClientDirectory
    search_index: SearchIndex
    default_rate: tuple[int, int]
    token_rate: tuple[int, int]

    def rate_of(self, client_rate: str | None) -> tuple[int, int]:
        """Return ``(limit, window seconds)`` for a client: its own override or the service default."""
        return _parsed_rate(client_rate) if client_rate else self.default_rate

    @classmethod
    def build(cls, settings: Settings, limiter: RateLimiter | None = None) -> Runtime:
        """Build the runtime for ``settings``; no connection is opened yet."""
        database = Database(
            settings.database_url,
            sqlite_synchronous=settings.sqlite_synchronous,
            pool_size=settings.db_pool_size,
        )
        if limiter is None:
            limiter = (
                RedisRateLimiter.from_url(settings.redis_url, failure_mode=settings.rate_limit_failure_mode)
                if settings.redis_url
                else MemoryRateLimiter()
            )
        return cls(
            settings=settings,
            database=database,
            limiter=limiter,
            verifier=TokenVerifier(settings),
            directory=ClientDirectory(database, settings.client_cache_seconds),
            search_index=SearchIndex(database, refresh_seconds=settings.catalogue_refresh_seconds),
            default_rate=parse_rate(settings.rate_limit),
            token_rate=parse_rate(settings.token_rate_limit),
        )


@functools.lru_cache(maxsize=1024)
def _parsed_rate(text: str) -> tuple[int, int]:
    """``parse_rate`` once per distinct override, not on every request of its clients."""
    return parse_rate(text)


def runtime(connection: HTTPConnection) -> Runtime:
    """Return the runtime of the application serving a request."""
    value: Runtime = connection.app.state.runtime
    return value


def database(connection: HTTPConnection) -> Database:
    """Return the database of the application serving a request."""
    return runtime(connection).database
