"""The provider-product table (one row per registration period, never deleted) and its counters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from provider_products.db.base import Base, BigIntKey, UTCDateTime

_ACTIVE = "removed_at IS NULL"


class ProviderProduct(Base):
    """A period during which a provider had a catalogue product registered.

    ``removed_at`` is null while the registration is active; a removal closes the period. The
    partial unique index lets the database, not the application, guarantee at most one active
    registration of a product per provider, also when requests race. Keys lead with the provider
    so that the table can later be partitioned or distributed by provider.

    ``code_key`` and ``product_type`` copy the catalogue entry's (the code key never changes; a
    trigger on the catalogue follows a type change) so that the partial listing indexes serve a
    provider's page in order without reading the rest of its registrations.
    """

    __tablename__ = "provider_product"
    __table_args__ = (
        Index(
            "uq_provider_product_active",
            "provider_id",
            "product_id",
            unique=True,
            sqlite_where=text(_ACTIVE),
            postgresql_where=text(_ACTIVE),
        ),
        Index("ix_provider_product_history", "provider_id", "product_id", "registered_at"),
        Index(
            "ix_provider_product_listing",
            "provider_id",
            "code_key",
            "id",
            sqlite_where=text(_ACTIVE),
            postgresql_where=text(_ACTIVE),
        ),
        Index(
            "ix_provider_product_type_listing",
            "provider_id",
            "product_type",
            "code_key",
            "id",
            sqlite_where=text(_ACTIVE),
            postgresql_where=text(_ACTIVE),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("catalogue_product.id"), index=True)
    code_key: Mapped[str] = mapped_column(String(64))
    product_type: Mapped[str] = mapped_column(String(16))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class ProviderProductCount(Base):
    """How many active registrations a provider has of each product type.

    Database triggers on ``provider_product`` (migration 0007) keep it in the same transaction as
    every insert, removal, deletion or type change, whatever code path writes, so a list's total
    is read from at most four rows instead of counted.
    """

    __tablename__ = "provider_product_count"

    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"), primary_key=True)
    product_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    active_count: Mapped[int] = mapped_column(BigIntKey, default=0)
