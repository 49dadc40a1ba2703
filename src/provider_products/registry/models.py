"""The provider-product table: one row per registration period, never deleted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, text
from sqlalchemy.orm import Mapped, mapped_column

from provider_products.db.base import Base, BigIntKey, UTCDateTime


class ProviderProduct(Base):
    """A period during which a provider had a catalogue product registered.

    ``removed_at`` is null while the registration is active; a removal closes the period. The
    partial unique index lets the database, not the application, guarantee at most one active
    registration of a product per provider, also when requests race. Keys lead with the provider
    so that the table can later be partitioned or distributed by provider.
    """

    __tablename__ = "provider_product"
    __table_args__ = (
        Index(
            "uq_provider_product_active",
            "provider_id",
            "product_id",
            unique=True,
            sqlite_where=text("removed_at IS NULL"),
            postgresql_where=text("removed_at IS NULL"),
        ),
        Index("ix_provider_product_history", "provider_id", "product_id", "registered_at"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("catalogue_product.id"), index=True)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
