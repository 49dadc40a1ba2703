"""The global catalogue tables: the entries, their revision counter and the shared search snapshots."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from provider_products.db.base import Base, BigIntKey, UTCDateTime, utcnow

PRODUCT_TYPES = ("MEDICATION", "LAB", "IMAGING", "PROCEDURE")
STATUSES = ("ACTIVE", "INACTIVE")


class CatalogueProduct(Base):
    """One catalogue entry. ``code_key`` (upper case) makes codes unique case-insensitively;
    ``name_key`` and ``search_text`` hold the accent-folded forms that ordering and search use."""

    __tablename__ = "catalogue_product"
    __table_args__ = (
        CheckConstraint(f"product_type IN {PRODUCT_TYPES!r}", name="product_type"),
        CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        Index("ix_catalogue_product_type_code_key", "product_type", "code_key"),
        Index("ix_catalogue_product_name_key", "name_key", "code_key"),
        # The change feed: entries changed after a revision, newest change first.
        Index("ix_catalogue_product_revision", "revision", "code_key"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    product_code: Mapped[str] = mapped_column(String(64))
    code_key: Mapped[str] = mapped_column(String(64), unique=True)
    product_type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(8), default="ACTIVE")
    active_ingredient: Mapped[str | None] = mapped_column(String(300), default=None)
    concentration: Mapped[str | None] = mapped_column(String(100), default=None)
    pharmaceutical_form: Mapped[str | None] = mapped_column(String(100), default=None)
    presentation: Mapped[str | None] = mapped_column(String(200), default=None)
    atc_code: Mapped[str | None] = mapped_column(String(16), default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    coding_system: Mapped[str | None] = mapped_column(String(16), default=None)
    coding_code: Mapped[str | None] = mapped_column(String(32), default=None)
    # Other names, as ``[{"name", "kind", "countries"}]`` in the entry's order; searched like the name.
    synonyms: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    name_key: Mapped[str] = mapped_column(String(300))
    search_text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The catalogue revision whose import last inserted, changed or withdrew the entry.
    revision: Mapped[int] = mapped_column(BigIntKey, default=0, server_default=text("0"))


class CatalogueRevision(Base):
    """A single row counting catalogue changes, so every process knows when to rebuild its index."""

    __tablename__ = "catalogue_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(BigIntKey, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


SNAPSHOT_STATUSES = ("building", "ready")


class CatalogueIndexSnapshot(Base):
    """The search snapshot of one catalogue revision: being built under a lease, or ready to load.

    The row (one per revision and snapshot format) is the build lock: inserting it (the primary key
    admits one) claims the build; the builder renews ``lease_expires_at`` while it works, so a
    crashed builder's claim lapses and another process takes it over with a new ``token``. Chunks
    are stored under the token of the build that wrote them, so a lapsed builder's late writes
    never mix with its successor's.
    """

    __tablename__ = "catalogue_index_snapshot"
    __table_args__ = (CheckConstraint(f"status IN {SNAPSHOT_STATUSES!r}", name="status"),)

    revision: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=False)
    # The layout of the serialised snapshot (``index.FORMAT_VERSION``): each release builds and
    # loads its own format's snapshot and never reads another's.
    format_version: Mapped[int] = mapped_column(
        Integer, primary_key=True, autoincrement=False, server_default=text("3")
    )
    token: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(8))
    lease_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int] = mapped_column(BigIntKey, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CatalogueIndexChunk(Base):
    """One piece of a serialised search snapshot (pieces keep each statement and transaction short)."""

    __tablename__ = "catalogue_index_chunk"

    token: Mapped[str] = mapped_column(String(32), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)
