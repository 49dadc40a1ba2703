"""``Idempotency-Key`` on POST: the same key and request within 24 hours replays the first answer.

Keys are per OAuth client. The first request with a key claims it (a pending row, committed
before the request runs, so a concurrent duplicate waits for it and then replays its answer);
a key reused with a different request is 409 ``071-106``. Answers of 500 and above are not kept,
so a failed request may be retried with the same key.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from provider_products.auth.caller import caller_of
from provider_products.db.base import utcnow
from provider_products.errors import IdempotencyConflict, ValidationFailed
from provider_products.http.asgi import header
from provider_products.idempotency import repository
from provider_products.runtime import Runtime

REPLAY_WINDOW = timedelta(hours=24)
WAIT_FOR_FIRST_SECONDS = 10.0
_KEY = re.compile(r"[\x21-\x7e]{1,255}")
_EXPIRE_EVERY = 500


class IdempotencyMiddleware:
    """Replay, refuse or run POST requests that carry an ``Idempotency-Key``."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self._claims = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        caller = caller_of(scope)
        key = (
            header(scope, b"idempotency-key")
            if scope["type"] == "http" and scope["method"] == "POST"
            else None
        )
        if key is None or caller is None:
            await self.app(scope, receive, send)
            return
        if not _KEY.fullmatch(key):
            raise ValidationFailed(
                [
                    {
                        "field": "Idempotency-Key",
                        "message": "1 to 255 printable ASCII characters without spaces",
                    }
                ]
            )
        body = await _read_body(receive)
        digest = hashlib.sha256(
            b"\n".join(
                [scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b""), body]
            )
        ).hexdigest()
        claimed, row = await self._claim(caller.client_id, key, digest)
        if not claimed:
            await _replay(row, send)
            return
        await self._run(scope, receive, send, body, row.id)

    async def _claim(
        self, client_id: str, key: str, digest: str
    ) -> tuple[bool, repository.IdempotencyRecord]:
        """Claim the key, or return its completed first answer; wait while the first request runs."""
        database = self.runtime.database
        deadline = asyncio.get_running_loop().time() + WAIT_FOR_FIRST_SECONDS
        await self._expire_now_and_then()
        while True:
            now = utcnow()
            try:
                async with database.transaction(write=True) as conn:
                    row = await repository.get(conn, client_id=client_id, key=key)
                    if row is not None and row.created_at < now - REPLAY_WINDOW:
                        await repository.release(conn, row_id=row.id)
                        row = None
                    if row is None:
                        await repository.claim(
                            conn, client_id=client_id, key=key, request_hash=digest, at=now
                        )
                        mine = await repository.get(conn, client_id=client_id, key=key)
                        assert mine is not None
                        return True, mine
            except IntegrityError:
                continue  # another process claimed it between our read and our insert
            if row.request_hash != digest:
                raise IdempotencyConflict(
                    "This Idempotency-Key was used with a different request",
                    additional_information={"reason": "different_request"},
                )
            if row.status_code is not None:
                return False, row
            if asyncio.get_running_loop().time() > deadline:
                raise IdempotencyConflict(
                    "A request with this Idempotency-Key is still in progress",
                    additional_information={"reason": "in_progress"},
                    headers={"Retry-After": "1"},
                )
            await asyncio.sleep(0.05)

    async def _run(self, scope: Scope, receive: Receive, send: Send, body: bytes, row_id: int) -> None:
        replayed = False

        async def replay_body() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        status = 0
        headers: list[list[str]] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers.extend(
                    [k.decode("latin-1"), v.decode("latin-1")] for k, v in message.get("headers", [])
                )
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_body, capture)
        except BaseException:
            await self._release(row_id)
            raise
        async with self.runtime.database.transaction(write=True) as conn:
            if 0 < status < 500:
                await repository.complete(
                    conn, row_id=row_id, status_code=status, headers=headers, body=b"".join(chunks)
                )
            else:
                await repository.release(conn, row_id=row_id)

    async def _release(self, row_id: int) -> None:
        async with self.runtime.database.transaction(write=True) as conn:
            await repository.release(conn, row_id=row_id)

    async def _expire_now_and_then(self) -> None:
        self._claims += 1
        if self._claims % _EXPIRE_EVERY == 1:
            async with self.runtime.database.transaction(write=True) as conn:
                await repository.expire(conn, before=utcnow() - REPLAY_WINDOW)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _replay(row: repository.IdempotencyRecord, send: Send) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in row.response_headers or []]
    headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": row.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": row.response_body or b""})
