"""Tables of downstream records (pre-authorizations, prescriptions, claims) and their product lines."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from provider_products.db.base import Base, BigIntKey, UTCDateTime


class DownstreamRecord(Base):
    """A record filed by a provider; what differs between kinds is kept in ``details``."""

    __tablename__ = "downstream_record"
    __table_args__ = (Index("ix_downstream_record_provider_kind", "provider_id", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"))
    status: Mapped[str] = mapped_column(String(24))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class DownstreamRecordLine(Base):
    """One product line of a record, keeping the product's code, type and name as they were when filed."""

    __tablename__ = "downstream_record_line"
    __table_args__ = (UniqueConstraint("record_id", "line_no", name="uq_downstream_record_line_record_id"),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("downstream_record.id"))
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("catalogue_product.id"), index=True)
    product_code: Mapped[str] = mapped_column(String(64))
    product_type: Mapped[str] = mapped_column(String(16))
    product_name: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(Integer)
    posology: Mapped[str | None] = mapped_column(Text, default=None)
    duration_days: Mapped[int | None] = mapped_column(Integer, default=None)
