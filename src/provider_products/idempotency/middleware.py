"""``Idempotency-Key`` on POST: the same key and request within 24 hours replays the first answer.

Keys are per OAuth client. The first request with a key claims it: a pending row, committed
before the request runs, held by that execution under a lease of ``LEASE_SECONDS`` that it renews
while it runs. A concurrent duplicate waits for it and replays its answer, or, once the first
request has run longer than ``WAIT_FOR_FIRST_SECONDS``, is refused with 409 ``071-106``
(``reason: in_progress``, ``Retry-After``). When the executing process dies its lease runs out
within ``LEASE_SECONDS`` and a retry with the key takes it over and runs the request, so a key is
never held by a request nobody executes. A key reused with a different request is 422
``071-106`` (``reason: payload_mismatch``), as the IETF httpapi idempotency-key draft asks.
Answers of 500 and above are not kept, so a failed request may be retried with the same key.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from provider_products.auth.caller import caller_of
from provider_products.db.base import utcnow
from provider_products.errors import IdempotencyConflict, IdempotencyKeyMismatch, ValidationFailed
from provider_products.http.asgi import header
from provider_products.idempotency import repository
from provider_products.runtime import Runtime

REPLAY_WINDOW = timedelta(hours=24)
WAIT_FOR_FIRST_SECONDS = 10.0
LEASE_SECONDS = 5.0
"""How long a pending key stays held without a renewal: the bound on a dead execution's hold."""
RENEW_EVERY_SECONDS = LEASE_SECONDS / 3
_KEY = re.compile(r"[\x21-\x7e]{1,255}")
_EXPIRE_EVERY = 500


def _lease_until() -> timedelta:
    """The length of a lease, read at call time so that tests may shorten it."""
    return timedelta(seconds=LEASE_SECONDS)


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
        owner = uuid.uuid4().hex
        row = await self._claim(caller.client_id, key, digest, owner)
        if row.owner != owner:
            await _replay(row, send)
            return
        async with self._holding(row.id, owner):
            await self._run(scope, receive, send, body, row.id, owner)

    async def _claim(self, client_id: str, key: str, digest: str, owner: str) -> repository.IdempotencyRecord:
        """Hold the key for ``owner``, or return its completed first answer; wait while it runs elsewhere."""
        deadline = asyncio.get_running_loop().time() + WAIT_FOR_FIRST_SECONDS
        await self._expire_now_and_then()
        while True:
            try:
                row = await self._claim_once(client_id, key, digest, owner)
            except IntegrityError:
                continue  # another process claimed it between our read and our insert
            if row.owner == owner or row.status_code is not None:
                return row
            if asyncio.get_running_loop().time() > deadline:
                raise IdempotencyConflict(
                    additional_information={"reason": "in_progress"},
                    headers={"Retry-After": "1"},
                )
            await asyncio.sleep(0.05)

    async def _claim_once(
        self, client_id: str, key: str, digest: str, owner: str
    ) -> repository.IdempotencyRecord:
        """One attempt: insert, take over an expired lease, or return the row as found."""
        now = utcnow()
        async with self.runtime.database.transaction(write=True) as conn:
            row = await repository.get(conn, client_id=client_id, key=key)
            if row is not None and row.created_at < now - REPLAY_WINDOW:
                await repository.release(conn, row_id=row.id)
                row = None
            if row is None:
                await repository.claim(
                    conn,
                    client_id=client_id,
                    key=key,
                    request_hash=digest,
                    at=now,
                    owner=owner,
                    lease_until=now + _lease_until(),
                )
            elif row.request_hash != digest:
                raise IdempotencyKeyMismatch(additional_information={"reason": "payload_mismatch"})
            elif row.status_code is None and (row.lease_expires_at is None or row.lease_expires_at < now):
                # Its execution died (no renewal within the lease): run the request again here.
                await repository.take_over(
                    conn,
                    row_id=row.id,
                    previous_owner=row.owner,
                    owner=owner,
                    lease_until=now + _lease_until(),
                )
            else:
                return row
            mine = await repository.get(conn, client_id=client_id, key=key)
        assert mine is not None
        return mine

    @contextlib.asynccontextmanager
    async def _holding(self, row_id: int, owner: str) -> AsyncIterator[None]:
        """Renew the key's lease every ``RENEW_EVERY_SECONDS`` while the request runs."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(RENEW_EVERY_SECONDS)
                with contextlib.suppress(Exception):  # a missed renewal only shortens the hold
                    async with self.runtime.database.transaction(write=True) as conn:
                        if not await repository.renew(
                            conn, row_id=row_id, owner=owner, lease_until=utcnow() + _lease_until()
                        ):
                            return

        task = asyncio.create_task(renew())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(
        self, scope: Scope, receive: Receive, send: Send, body: bytes, row_id: int, owner: str
    ) -> None:
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
            await self._release(row_id, owner)
            raise
        async with self.runtime.database.transaction(write=True) as conn:
            if 0 < status < 500:
                await repository.complete(
                    conn,
                    row_id=row_id,
                    owner=owner,
                    status_code=status,
                    headers=headers,
                    body=b"".join(chunks),
                )
            else:
                await repository.release(conn, row_id=row_id, owner=owner)

    async def _release(self, row_id: int, owner: str) -> None:
        async with self.runtime.database.transaction(write=True) as conn:
            await repository.release(conn, row_id=row_id, owner=owner)

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
