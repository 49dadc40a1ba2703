"""Tables for providers and their OAuth clients."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from provider_products.db.base import Base, BigIntKey, UTCDateTime, utcnow


class Provider(Base):
    """A pharmacy, clinic or lab that registers products; identified on the wire by its slug."""

    __tablename__ = "provider"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OAuthClient(Base):
    """A client-credentials client; belongs to exactly one provider. Only the secret's hash is kept."""

    __tablename__ = "oauth_client"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(255))
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"), index=True)
    scopes: Mapped[str] = mapped_column(String(255))
    rate_limit: Mapped[str | None] = mapped_column(String(32), default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
