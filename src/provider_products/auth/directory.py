"""The per-process cache of client records that the edge consults on every authenticated request."""

from __future__ import annotations

import time

from provider_products.auth import service as auth_service
from provider_products.db.engine import Database


class ClientDirectory:
    """Per-process cache of client records, so a request need not read its client from the database.

    Entries live ``ttl`` seconds: disabling a client or changing its limit takes effect in every
    process within that time (0 disables the cache). It is an edge component, asked by the
    authentication middleware before routing and outside any request's transaction, so, like the
    middleware and the routes, it opens its own (short, read-only) transaction on a miss; that is
    why it lives here and not in ``service.py``, which never opens one.
    """

    def __init__(self, database: Database, ttl: float) -> None:
        self._database = database
        self._ttl = ttl
        self._entries: dict[str, tuple[float, auth_service.ClientInfo | None]] = {}

    async def get(self, client_id: str) -> auth_service.ClientInfo | None:
        """Return the client's current record, or None when it no longer exists."""
        now = time.monotonic()
        cached = self._entries.get(client_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self._database.transaction() as conn:
            info = await auth_service.client_info(conn, client_id=client_id)
        if self._ttl > 0:
            if len(self._entries) > 100_000:
                self._entries.clear()
            self._entries[client_id] = (now + self._ttl, info)
        return info
