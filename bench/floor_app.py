"""The floor the edge benchmark compares GET one registration with: the same work, the least framework.

``GET /arc/v1/providers/products/{code}`` does per request what the service must: verify the bearer
token (the service's own ``TokenVerifier``: PyJWT, remembered per token), count the hit in Redis
with the service's own sliding-log script (PostgreSQL + Redis only; SQLite's limiter is in
process), look the registration up with the service's SQL through the bare driver (the standard
``sqlite3`` module, or ``asyncpg``), and answer the same JSON. It has no middleware, no SQLAlchemy,
no request id, access log or error envelope. So "% of the floor" says how much of a request's cost
the service's layers add to what its components (FastAPI, the drivers, Redis) cost; a target above
the floor's own ratio cannot be met with these components.

``bench/edge.py`` serves it with the same uvicorn options and worker count as the service; it reads
the service's settings (``PROVIDER_PRODUCTS_*``) for the database, Redis and token key.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
from fastapi import FastAPI, HTTPException, Request
from redis.asyncio import Redis

from provider_products.auth.security import TokenClaims, TokenInvalid, TokenVerifier
from provider_products.catalogue.schemas import code_key
from provider_products.config import Settings
from provider_products.ratelimit.redis import _SLIDING_LOG
from provider_products.registry.schemas import stamp

SQL = (
    "SELECT c.product_code, c.product_type, c.name, r.registered_at FROM provider_product r "
    "JOIN catalogue_product c ON c.id = r.product_id AND r.removed_at IS NULL "
    "WHERE r.provider_id = {p} AND r.code_key = {k}"
)
PROVIDER_SQL = "SELECT id FROM provider WHERE slug = {s}"
settings = Settings()
verifier = TokenVerifier(settings)
state: dict[str, Any] = {}
providers: dict[str, int] = {}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    url = settings.database_url
    if url.startswith("sqlite"):
        state["sqlite"] = sqlite3.connect(url.split("///", 1)[1])
    else:
        # As many connections as requests in flight per worker (32 wrk connections, two workers).
        state["pg"] = await asyncpg.create_pool(url.replace("+asyncpg", ""), min_size=4, max_size=16)
        redis = Redis.from_url(settings.redis_url or "redis://127.0.0.1:6379/0")
        state["script"] = redis.register_script(_SLIDING_LOG)
    yield
    if "pg" in state:
        await state["pg"].close()


app = FastAPI(lifespan=lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    """Up (the bench waits for it)."""
    return {"status": "ok"}


def _claims(request: Request) -> TokenClaims:
    try:
        return verifier.verify(request.headers.get("authorization", "").removeprefix("Bearer "))
    except TokenInvalid:
        raise HTTPException(401) from None


async def _fetch(sql: str, *args: Any) -> Any:
    if "sqlite" in state:
        return state["sqlite"].execute(sql.format(p="?", k="?", s="?"), args).fetchone()
    return await state["pg"].fetchrow(sql.format(p="$1", k="$2", s="$1"), *args)


@app.get("/arc/v1/providers/products/{product_code}")
async def get_one(product_code: str, request: Request) -> dict[str, Any]:
    """One registration of the token's provider, as the service answers it."""
    claims = _claims(request)
    if "script" in state:
        member = uuid.uuid4().hex
        await state["script"](keys=["floor:" + claims.client_id], args=[10**9, 60_000, member, ""])
    slug = claims.provider_slug
    if slug not in providers:
        providers[slug] = (await _fetch(PROVIDER_SQL, slug))[0]
    row = await _fetch(SQL, providers[slug], code_key(product_code))
    if row is None:
        raise HTTPException(404)
    registered_at = datetime.fromisoformat(row[3]) if isinstance(row[3], str) else row[3]  # sqlite3: text
    return {
        "product_code": row[0],
        "registered_at": stamp(registered_at),
        "product_type": row[1],
        "name": row[2],
    }
