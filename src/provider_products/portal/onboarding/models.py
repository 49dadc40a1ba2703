"""Tables of the portal's onboarding jobs: one uploaded inventory per job, one row per inventory line."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from provider_products.db.base import Base, BigIntKey, UTCDateTime

JOB_STATUSES = ("review", "registering", "registered")
DECISIONS = ("accepted", "chosen", "not_in_catalogue", "undecided")


class OnboardingJob(Base):
    """An inventory a provider uploaded in the portal, with the state of its review and registration.

    ``public_id`` names the job in URLs (never the row id, so ids cannot be guessed in order).
    ``status`` is ``review`` until a registration is first started, ``registering`` while one runs
    (or was cut short: ``lease_expires_at`` in the past), then ``registered``. A registration run
    holds the lease (``lease_token``) and renews it after every batch, so a run cut short by a
    crash is taken over by the next one once its lease lapses, and two runs never overlap.
    """

    __tablename__ = "onboarding_job"
    __table_args__ = (
        CheckConstraint(f"status IN {JOB_STATUSES!r}", name="status"),
        Index("ix_onboarding_job_provider", "provider_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"))
    file_name: Mapped[str] = mapped_column(String(255))
    # how the file was read, for the person: "CSV, windows-1252, ';', header on line 4"
    source: Mapped[str] = mapped_column(String(500))
    row_count: Mapped[int] = mapped_column(Integer)
    catalogue_revision: Mapped[int] = mapped_column(BigIntKey)
    status: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str | None] = mapped_column(String(320), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_token: Mapped[str | None] = mapped_column(String(40), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    registration_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    registration_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class OnboardingRow(Base):
    """One inventory line of a job: what the file said, what the matcher proposed, what was decided and done.

    ``candidates`` is the matcher's top list, best first: ``[{"product_code", "name", "score",
    "reason", "blocked"}]``. ``decision`` is ``accepted`` (register the proposed code), ``chosen`` (register
    ``chosen_code``, one of the candidates), ``not_in_catalogue`` or ``undecided``.
    ``outcome`` is null until a registration settles the row: ``registered``, ``already_registered``
    or ``not_in_catalogue`` (refused: absent or withdrawn), with ``error_code`` as the API gives it.
    """

    __tablename__ = "onboarding_row"
    __table_args__ = (
        CheckConstraint(f"decision IN {DECISIONS!r}", name="decision"),
        Index("ix_onboarding_row_pending", "job_id", "outcome", "position"),
    )

    job_id: Mapped[int] = mapped_column(ForeignKey("onboarding_job.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    line: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(Text)
    inventory_code: Mapped[str | None] = mapped_column(String(200), default=None)
    # the other columns the reader gave (active_ingredient, strength, form, quantity...), as text
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    proposed_code: Mapped[str | None] = mapped_column(String(64), default=None)
    score: Mapped[float | None] = mapped_column(Float, default=None)
    reason: Mapped[str] = mapped_column(Text)
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    decision: Mapped[str] = mapped_column(String(20))
    chosen_code: Mapped[str | None] = mapped_column(String(64), default=None)
    outcome: Mapped[str | None] = mapped_column(String(24), default=None)
    error_code: Mapped[str | None] = mapped_column(String(16), default=None)
    registered_code: Mapped[str | None] = mapped_column(String(64), default=None)
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
