"""Tables for portal users (people of a provider) and their server-side sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from provider_products.db.base import Base, BigIntKey, UTCDateTime, utcnow


class PortalUser(Base):
    """A person who signs in to the portal; belongs to one provider. Only the password's hash is kept.

    ``email`` is stored lower-cased and is unique across providers: it is what a login names.
    """

    __tablename__ = "portal_user"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class PortalSession(Base):
    """A signed-in browser: the SHA-256 of its cookie token (never the token), its CSRF token, its expiry.

    Deleting the row ends the session at once for every worker (logout, a disabled user).
    """

    __tablename__ = "portal_session"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("portal_user.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
