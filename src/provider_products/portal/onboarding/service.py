"""Onboarding job rules: create a job from an upload, record decisions, register in batches, report.

A job belongs to one provider: every function takes the caller's ``provider_id`` and a job of
another provider is simply not found (404 ``071-404``). Registration goes through
``registry.service.register_batch``, so the API's rules hold (withdrawn codes are refused, a code
already registered is ``already_registered``), one batch per transaction, each batch's outcomes
saved with it: a run cut short resumes at the first unsettled row, and a re-run registers only
what is not done.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, cast

from provider_products.db.base import utcnow
from provider_products.db.engine import Connection
from provider_products.errors import RecordNotFound, ValidationFailed
from provider_products.portal.onboarding import repository
from provider_products.portal.onboarding.inventory import Proposal, Upload
from provider_products.portal.onboarding.schemas import (
    DECISIONS,
    NOT_IN_CATALOGUE,
    OUTCOMES,
    BatchStep,
    CandidateRead,
    Decision,
    JobRead,
    Progress,
    RowRead,
    RowsPage,
)
from provider_products.registry import service as registry_service

BATCH_SIZE = 100
LEASE_SECONDS = 15.0
MAX_PAGE_SIZE = 200
_LISTED_JOBS = 50
# Refusals a re-run tries again (the catalogue may have the code, or have it ACTIVE, by now).
_RETRIED = ("not_in_catalogue",)


def new_job_id() -> str:
    """Return a fresh public job id (random: ids say nothing of how many jobs exist)."""
    return "job_" + secrets.token_hex(12)


async def create_job(
    conn: Connection,
    *,
    provider_id: int,
    upload: Upload,
    proposals: Sequence[Proposal],
    catalogue_revision: int,
    created_by: str | None = None,
) -> JobRead:
    """Save an upload and the matcher's proposals as a job; rows with a confident proposal start accepted."""
    if len(upload.rows) != len(proposals):
        raise ValueError(f"{len(upload.rows)} rows but {len(proposals)} proposals")
    now = utcnow()
    public_id = new_job_id()
    job_id = await repository.insert_job(
        conn,
        {
            "public_id": public_id,
            "provider_id": provider_id,
            "file_name": upload.file_name[:255],
            "source": upload.source[:500],
            "row_count": len(upload.rows),
            "catalogue_revision": catalogue_revision,
            "status": "review",
            "created_by": created_by,
            "created_at": now,
            "updated_at": now,
        },
    )
    await repository.insert_rows(
        conn,
        [
            {
                "job_id": job_id,
                "position": position,
                "line": item.line,
                "name": item.name,
                "inventory_code": item.inventory_code,
                "details": item.details,
                "proposed_code": proposal.proposed_code,
                "score": proposal.score,
                "reason": proposal.reason,
                "candidates": [
                    {
                        "product_code": c.product_code,
                        "name": c.name,
                        "score": c.score,
                        "reason": c.reason,
                        "blocked": c.blocked,
                    }
                    for c in proposal.candidates
                ],
                "decision": "accepted" if proposal.proposed_code else "undecided",
                "chosen_code": None,
            }
            for position, (item, proposal) in enumerate(zip(upload.rows, proposals, strict=True))
        ],
    )
    return await get_job(conn, provider_id=provider_id, job_id=public_id)


async def _job(conn: Connection, provider_id: int, job_id: str) -> repository.JobRecord:
    record = await repository.get_job(conn, provider_id=provider_id, public_id=job_id)
    if record is None:
        raise RecordNotFound("No such onboarding job", additional_information={"job_id": job_id})
    return record


def _progress(record: repository.JobRecord, tallies: Sequence[repository.Tally]) -> Progress:
    decisions: dict[str, int] = dict.fromkeys(DECISIONS, 0)
    outcomes = dict.fromkeys(OUTCOMES, 0)
    to_register = settled = 0
    for tally in tallies:
        decisions[tally.decision] = decisions.get(tally.decision, 0) + tally.rows
        if tally.decision in repository.REGISTERING:
            to_register += tally.rows
            if tally.outcome is not None:
                settled += tally.rows
                outcomes[tally.outcome] = outcomes.get(tally.outcome, 0) + tally.rows
    alive = record.lease_expires_at is not None and record.lease_expires_at >= utcnow()
    interrupted = record.status == "registering" and not alive and settled < to_register
    return Progress(to_register, settled, outcomes, decisions, alive, interrupted)


def _read(record: repository.JobRecord, tallies: Sequence[repository.Tally]) -> JobRead:
    return JobRead(
        job_id=record.public_id,
        file_name=record.file_name,
        source=record.source,
        row_count=record.row_count,
        status=record.status,
        catalogue_revision=record.catalogue_revision,
        created_by=record.created_by,
        created_at=record.created_at,
        updated_at=record.updated_at,
        registration_started_at=record.registration_started_at,
        registration_finished_at=record.registration_finished_at,
        progress=_progress(record, tallies),
    )


async def get_job(conn: Connection, *, provider_id: int, job_id: str) -> JobRead:
    """Return one of the provider's jobs with its progress, or raise 404 ``071-404``."""
    record = await _job(conn, provider_id, job_id)
    tallies = await repository.tallies(conn, [record.id])
    return _read(record, tallies[record.id])


async def list_jobs(conn: Connection, *, provider_id: int) -> list[JobRead]:
    """Return the provider's latest jobs (up to 50), newest first, each with its progress."""
    records = await repository.list_jobs(conn, provider_id=provider_id, limit=_LISTED_JOBS)
    tallies = await repository.tallies(conn, [r.id for r in records])
    return [_read(r, tallies[r.id]) for r in records]


def _row(record: repository.RowRecord) -> RowRead:
    candidates = [CandidateRead(**c) for c in record.candidates]
    code = record.proposed_code if record.decision == "accepted" else None
    if record.decision == "chosen":
        code = record.chosen_code
    name = next((c.name for c in candidates if code and c.product_code == code), None)
    choice = code or (NOT_IN_CATALOGUE if record.decision == "not_in_catalogue" else "")
    return RowRead(
        position=record.position,
        line=record.line,
        name=record.name,
        inventory_code=record.inventory_code,
        details={str(k): str(v) for k, v in (record.details or {}).items()},
        proposed_code=record.proposed_code,
        score=record.score,
        reason=record.reason,
        candidates=candidates,
        decision=cast(Decision, record.decision),
        chosen_code=record.chosen_code,
        outcome=record.outcome,
        error_code=record.error_code,
        registered_at=record.registered_at,
        product_code=code,
        product_name=name,
        choice=choice,
    )


async def list_rows(conn: Connection, *, provider_id: int, job_id: str, page: int, size: int) -> RowsPage:
    """Return one page (0-based) of a job's rows in file order; ``size`` 1 to 200."""
    if page < 0 or not 1 <= size <= MAX_PAGE_SIZE:
        raise ValidationFailed([{"field": "page", "message": f"page >= 0 and size 1 to {MAX_PAGE_SIZE}"}])
    record = await _job(conn, provider_id, job_id)
    rows = await repository.list_rows(conn, job_id=record.id, offset=page * size, limit=size)
    return RowsPage([_row(r) for r in rows], page, size, record.row_count)


async def all_rows(conn: Connection, *, provider_id: int, job_id: str) -> list[RowRead]:
    """Return every row of a job, in file order (for the report)."""
    record = await _job(conn, provider_id, job_id)
    rows = await repository.list_rows(conn, job_id=record.id, offset=0, limit=max(1, record.row_count))
    return [_row(r) for r in rows]


def _decision(row: repository.RowRecord, choice: str) -> tuple[str, str | None]:
    """Turn a form's choice for a row into ``(decision, chosen_code)``; raise when it is not one offered."""
    choice = choice.strip()
    if not choice:
        return "undecided", None
    if choice == NOT_IN_CATALOGUE:
        return "not_in_catalogue", None
    wanted = choice.upper()
    if row.proposed_code and row.proposed_code.upper() == wanted:
        return "accepted", None
    for candidate in row.candidates:
        if str(candidate["product_code"]).upper() == wanted:
            return "chosen", str(candidate["product_code"])
    raise ValidationFailed(
        [{"field": f"row_{row.position}", "message": f"{choice!r} is not one of the row's candidates"}]
    )


async def decide(
    conn: Connection, *, provider_id: int, job_id: str, choices: Mapping[int, str]
) -> list[RowRead]:
    """Record the reviewer's choice per row (by position): a candidate's code, ``NOT_IN_CATALOGUE`` or "".

    A row whose decision changes forgets its earlier outcome, so the next registration run
    registers its new code; a code registered before stays registered (removals are made on the
    provider's product list). Unchanged rows keep their outcome. Returns the rows given.
    """
    record = await _job(conn, provider_id, job_id)
    positions = sorted(choices)
    rows = await repository.get_rows(conn, job_id=record.id, positions=positions)
    if len(rows) != len(positions):
        missing = sorted(set(positions) - {r.position for r in rows})
        raise ValidationFailed([{"field": "rows", "message": f"no such rows: {missing[:10]}"}])
    changes: list[tuple[int, str, str | None]] = []
    for row in rows:
        decision, chosen = _decision(row, choices[row.position])
        if (decision, chosen) != (row.decision, row.chosen_code):
            changes.append((row.position, decision, chosen))
    if changes:
        await repository.set_decisions(conn, job_id=record.id, decisions=changes)
        await repository.touch(conn, job_id=record.id, now=utcnow())
    return [_row(r) for r in await repository.get_rows(conn, job_id=record.id, positions=positions)]


async def start_registration(
    conn: Connection, *, provider_id: int, job_id: str, token: str, rerun: bool = False
) -> bool:
    """Take the job's registration lease for ``token``; False when a live run already holds it.

    With ``rerun`` the rows the catalogue refused are tried again; registered rows never are.
    """
    record = await _job(conn, provider_id, job_id)
    now = utcnow()
    claimed = await repository.claim_lease(
        conn, job_id=record.id, token=token, now=now, expires_at=now + timedelta(seconds=LEASE_SECONDS)
    )
    if claimed and rerun:
        await repository.clear_outcomes(conn, job_id=record.id, outcomes=_RETRIED)
    return claimed


_ERROR_OUTCOMES = {"invalid": "not_in_catalogue"}


async def register_next_batch(
    conn: Connection, *, provider_id: int, job_id: str, token: str, size: int = BATCH_SIZE
) -> BatchStep:
    """Register the next ``size`` accepted rows with the API's rules and save their outcomes.

    Renews the lease held by ``token`` first: a run whose lease was taken over (it stalled past
    the lease) stops without writing. When no row is left the lease is released and the job is
    ``registered``.
    """
    record = await _job(conn, provider_id, job_id)
    now = utcnow()
    if not await repository.renew_lease(
        conn, job_id=record.id, token=token, now=now, expires_at=now + timedelta(seconds=LEASE_SECONDS)
    ):
        return BatchStep(0, lost=True)
    rows = await repository.pending_rows(conn, job_id=record.id, limit=size)
    if not rows:
        await repository.finish_lease(conn, job_id=record.id, token=token, now=now, status="registered")
        return BatchStep(0, finished=True)
    codes = [str(r.proposed_code if r.decision == "accepted" else r.chosen_code) for r in rows]
    batch = await registry_service.register_batch(conn, provider_id=provider_id, codes=codes)
    outcomes: list[tuple[int, str, str | None, str | None, Any]] = []
    counts: dict[str, int] = {}
    for row, result in zip(rows, batch.results, strict=True):
        outcome = _ERROR_OUTCOMES.get(result.outcome, result.outcome)
        counts[outcome] = counts.get(outcome, 0) + 1
        outcomes.append((row.position, outcome, result.error_code, result.product_code, result.registered_at))
    await repository.set_outcomes(conn, job_id=record.id, outcomes=outcomes)
    return BatchStep(len(rows), counts=counts)


async def release_registration(conn: Connection, *, provider_id: int, job_id: str, token: str) -> None:
    """Give the lease back after a run failed, so the job can be resumed at once (it stays registering)."""
    record = await _job(conn, provider_id, job_id)
    await repository.finish_lease(conn, job_id=record.id, token=token, now=utcnow(), status="registering")
