"""Onboarding job queries: jobs and their rows, decisions, the registration lease and per-row outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, and_, bindparam, func, insert, or_, select, update

from provider_products.db.engine import Connection
from provider_products.portal.onboarding.models import OnboardingJob, OnboardingRow

job = cast(Table, OnboardingJob.__table__)
row = cast(Table, OnboardingRow.__table__)

# Decisions that register a code.
REGISTERING = ("accepted", "chosen")
_INSERT_BATCH = 1000


class JobRecord(NamedTuple):
    """An onboarding job's columns."""

    id: int
    public_id: str
    provider_id: int
    file_name: str
    source: str
    row_count: int
    catalogue_revision: int
    status: str
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    lease_token: str | None
    lease_expires_at: datetime | None
    registration_started_at: datetime | None
    registration_finished_at: datetime | None


class RowRecord(NamedTuple):
    """An onboarding row's columns."""

    job_id: int
    position: int
    line: int
    name: str
    inventory_code: str | None
    details: dict[str, Any]
    proposed_code: str | None
    score: float | None
    reason: str
    candidates: list[dict[str, Any]]
    decision: str
    chosen_code: str | None
    outcome: str | None
    error_code: str | None
    registered_code: str | None
    registered_at: datetime | None


class Tally(NamedTuple):
    """How many rows of a job have each decision and outcome (``None``: not settled)."""

    decision: str
    outcome: str | None
    rows: int


_JOB = select(*(job.c[name] for name in JobRecord._fields))
_ROW = select(*(row.c[name] for name in RowRecord._fields))


async def insert_job(conn: Connection, values: dict[str, Any]) -> int:
    """Insert a job and return its row id."""
    result = await conn.execute(insert(job).values(values).returning(job.c.id))
    return int(result.scalar_one())


async def insert_rows(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert a job's rows (each names its ``job_id`` and ``position``)."""
    for start in range(0, len(rows), _INSERT_BATCH):
        await conn.execute(insert(row), list(rows[start : start + _INSERT_BATCH]))


async def get_job(conn: Connection, *, provider_id: int, public_id: str) -> JobRecord | None:
    """Return the provider's job with this public id, or None (another provider's job is None too)."""
    query = _JOB.where(job.c.public_id == public_id, job.c.provider_id == provider_id)
    found = (await conn.execute(query)).first()
    return None if found is None else JobRecord._make(found)


async def list_jobs(conn: Connection, *, provider_id: int, limit: int) -> list[JobRecord]:
    """Return the provider's latest jobs, newest first."""
    query = (
        _JOB.where(job.c.provider_id == provider_id)
        .order_by(job.c.created_at.desc(), job.c.id.desc())
        .limit(limit)
    )
    return [JobRecord._make(r) for r in (await conn.execute(query)).all()]


async def tallies(conn: Connection, job_ids: Sequence[int]) -> dict[int, list[Tally]]:
    """Count the rows of each job by decision and outcome."""
    if not job_ids:
        return {}
    query = (
        select(row.c.job_id, row.c.decision, row.c.outcome, func.count())
        .where(row.c.job_id.in_(list(job_ids)))
        .group_by(row.c.job_id, row.c.decision, row.c.outcome)
    )
    out: dict[int, list[Tally]] = {i: [] for i in job_ids}
    found: list[tuple[Any, ...]] = [tuple(r) for r in (await conn.execute(query)).all()]
    for job_id, decision, outcome, count in found:
        out[int(job_id)].append(Tally(str(decision), outcome, int(count)))
    return out


async def list_rows(conn: Connection, *, job_id: int, offset: int, limit: int) -> list[RowRecord]:
    """Return one page of a job's rows, in file order."""
    query = _ROW.where(row.c.job_id == job_id).order_by(row.c.position).offset(offset).limit(limit)
    return [RowRecord._make(r) for r in (await conn.execute(query)).all()]


async def get_rows(conn: Connection, *, job_id: int, positions: Sequence[int]) -> list[RowRecord]:
    """Return these rows of a job, in file order."""
    if not positions:
        return []
    query = _ROW.where(row.c.job_id == job_id, row.c.position.in_(list(positions))).order_by(row.c.position)
    return [RowRecord._make(r) for r in (await conn.execute(query)).all()]


async def set_decisions(
    conn: Connection, *, job_id: int, decisions: Sequence[tuple[int, str, str | None]]
) -> None:
    """Record ``(position, decision, chosen_code)`` for rows of a job; each forgets its earlier outcome."""
    if not decisions:
        return
    statement = (
        update(row)
        .where(row.c.job_id == bindparam("b_job_id"), row.c.position == bindparam("b_position"))
        .values(
            decision=bindparam("b_decision"),
            chosen_code=bindparam("b_chosen_code"),
            outcome=None,
            error_code=None,
            registered_code=None,
            registered_at=None,
        )
    )
    await conn.execute(
        statement,
        [{"b_job_id": job_id, "b_position": p, "b_decision": d, "b_chosen_code": c} for p, d, c in decisions],
    )


async def pending_rows(conn: Connection, *, job_id: int, limit: int) -> list[RowRecord]:
    """Return the next rows to register (a registering decision, no outcome), locked for this transaction.

    On PostgreSQL rows another transaction holds are skipped; SQLite serialises writers anyway.
    """
    query = (
        _ROW.where(row.c.job_id == job_id, row.c.decision.in_(REGISTERING), row.c.outcome.is_(None))
        .order_by(row.c.position)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [RowRecord._make(r) for r in (await conn.execute(query)).all()]


async def set_outcomes(
    conn: Connection,
    *,
    job_id: int,
    outcomes: Sequence[tuple[int, str, str | None, str | None, datetime | None]],
) -> None:
    """Record ``(position, outcome, error_code, registered_code, registered_at)`` for rows of a job."""
    if not outcomes:
        return
    statement = (
        update(row)
        .where(row.c.job_id == bindparam("b_job_id"), row.c.position == bindparam("b_position"))
        .values(
            outcome=bindparam("b_outcome"),
            error_code=bindparam("b_error_code"),
            registered_code=bindparam("b_code"),
            registered_at=bindparam("b_at"),
        )
    )
    await conn.execute(
        statement,
        [
            {"b_job_id": job_id, "b_position": p, "b_outcome": o, "b_error_code": e, "b_code": c, "b_at": a}
            for p, o, e, c, a in outcomes
        ],
    )


async def clear_outcomes(conn: Connection, *, job_id: int, outcomes: Sequence[str]) -> None:
    """Forget the outcomes given (a re-run tries those rows again)."""
    await conn.execute(
        update(row)
        .where(row.c.job_id == job_id, row.c.outcome.in_(list(outcomes)))
        .values(outcome=None, error_code=None, registered_code=None, registered_at=None)
    )


async def claim_lease(
    conn: Connection, *, job_id: int, token: str, now: datetime, expires_at: datetime
) -> bool:
    """Take the job's registration lease when nobody holds a live one; say whether it was taken."""
    result = await conn.execute(
        update(job)
        .where(
            job.c.id == job_id,
            or_(job.c.lease_expires_at.is_(None), job.c.lease_expires_at < now),
        )
        .values(
            lease_token=token,
            lease_expires_at=expires_at,
            status="registering",
            registration_started_at=now,
            registration_finished_at=None,
            updated_at=now,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def renew_lease(
    conn: Connection, *, job_id: int, token: str, now: datetime, expires_at: datetime
) -> bool:
    """Extend the lease this token holds; False when the token no longer holds it (taken over)."""
    result = await conn.execute(
        update(job)
        .where(job.c.id == job_id, job.c.lease_token == token)
        .values(lease_expires_at=expires_at, updated_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def finish_lease(conn: Connection, *, job_id: int, token: str, now: datetime, status: str) -> bool:
    """Release the lease this token holds, setting the job's status; False when it was taken over."""
    result = await conn.execute(
        update(job)
        .where(job.c.id == job_id, job.c.lease_token == token)
        .values(
            lease_token=None,
            lease_expires_at=None,
            status=status,
            registration_finished_at=now if status == "registered" else None,
            updated_at=now,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def touch(conn: Connection, *, job_id: int, now: datetime, status: str | None = None) -> None:
    """Mark the job changed (and set its status when given)."""
    values: dict[str, Any] = {"updated_at": now}
    if status is not None:
        values["status"] = status
    await conn.execute(update(job).where(and_(job.c.id == job_id)).values(values))
