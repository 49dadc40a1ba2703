"""The table of idempotency keys: the first answer to each (client, key), kept for replay."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from provider_products.db.base import Base, BigIntKey, UTCDateTime


class IdempotencyKey(Base):
    """One ``Idempotency-Key`` of one client; pending (no status yet) while its request runs.

    A pending key is held by its ``owner`` (one execution) until ``lease_expires_at``, which the
    execution renews while it runs; a key whose lease ran out (its process died) may be taken over.
    """

    __tablename__ = "idempotency_key"
    __table_args__ = (
        UniqueConstraint("client_id", "key", name="uq_idempotency_key_client_id"),
        Index("ix_idempotency_key_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    response_headers: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    owner: Mapped[str | None] = mapped_column(String(32), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
