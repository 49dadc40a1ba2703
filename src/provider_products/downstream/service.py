"""Downstream rules: records may only reference products the provider has registered when filing."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from provider_products.catalogue import service as catalogue_service
from provider_products.catalogue.schemas import code_key
from provider_products.db.base import utcnow_seconds
from provider_products.db.engine import Connection
from provider_products.downstream import repository
from provider_products.downstream.schemas import (
    AuthorizationRequestCreate,
    AuthorizationRequestRead,
    ClaimCreate,
    ClaimCreated,
    ClaimRead,
    DiagnosisIn,
    LineRead,
    PrescriptionCreate,
    PrescriptionRead,
)
from provider_products.errors import ProductsNotRegistered, RecordNotFound, ValidationFailed
from provider_products.registry import service as registry_service

AUTHORIZATION, PRESCRIPTION, CLAIM = "authorization_request", "prescription", "outpatient_claim"
PREFIXES = {AUTHORIZATION: "areq_", PRESCRIPTION: "rx_", CLAIM: "clm_"}


@dataclass(frozen=True)
class LineIn:
    """A requested product line, whatever the kind of record."""

    field: str
    product_code: str
    product_type: str | None
    quantity: int
    posology: str | None = None
    duration_days: int | None = None


async def _resolve(
    conn: Connection, *, provider_id: int, lines: Sequence[LineIn], medications_only: bool = False
) -> list[repository.RecordLine]:
    """Check every line against the provider's registrations and the catalogue; return the lines to store.

    Unregistered codes (absent from the catalogue included) are all reported together as
    422 ``071-104``; a declared type that contradicts the catalogue is 422 ``071-105``.
    """
    # The codes were checked by the schemas; the key is the one the registry and catalogue compare by.
    keys = [code_key(line.product_code) for line in lines]
    found = await catalogue_service.entries_by_code(conn, code_keys=sorted(set(keys)))
    registered = await registry_service.lock_registered(
        conn, provider_id=provider_id, product_ids=[entry.id for entry in found.values()]
    )
    _check_registered(lines, keys, [found.get(key) for key in keys], registered)
    _check_types(lines, [found[key] for key in keys], medications_only=medications_only)
    return [
        repository.RecordLine(
            line_no=n,
            product_id=found[key].id,
            product_code=found[key].product_code,
            product_type=found[key].product_type,
            product_name=found[key].name,
            quantity=line.quantity,
            posology=line.posology,
            duration_days=line.duration_days,
        )
        for n, (line, key) in enumerate(zip(lines, keys, strict=True), start=1)
    ]


def _check_registered(
    lines: Sequence[LineIn],
    keys: Sequence[str],
    entries: Sequence[catalogue_service.EntrySummary | None],
    registered: set[int],
) -> None:
    """Raise 422 ``071-104`` naming every code the provider has not registered (unknown ones included).

    Each code is named once, compared as the registry compares codes (case-insensitively): in the
    catalogue's spelling when it has the code, else in the first spelling the record used.
    """
    offending: dict[str, str] = {}
    for line, key, entry in zip(lines, keys, entries, strict=True):
        if entry is None or entry.id not in registered:
            offending.setdefault(key, entry.product_code if entry is not None else line.product_code)
    if offending:
        raise ProductsNotRegistered(list(offending.values()))


def _check_types(
    lines: Sequence[LineIn], entries: Sequence[catalogue_service.EntrySummary], *, medications_only: bool
) -> None:
    """Raise 422 ``071-105`` for every line whose product is not of the type it must or claims to be."""
    errors = []
    for line, entry in zip(lines, entries, strict=True):
        actual = entry.product_type
        if medications_only and actual != "MEDICATION":
            errors.append(
                {"field": line.field, "message": f"{entry.product_code} is a {actual}, not a MEDICATION"}
            )
        elif line.product_type is not None and line.product_type != actual:
            errors.append(
                {
                    "field": line.field,
                    "message": f"{entry.product_code} is a {actual} product, not {line.product_type}",
                }
            )
    if errors:
        raise ValidationFailed(errors)


async def _file(
    conn: Connection,
    *,
    kind: str,
    provider_id: int,
    status: str,
    details: dict[str, Any],
    lines: list[repository.RecordLine],
) -> tuple[str, datetime]:
    public_id = PREFIXES[kind] + secrets.token_hex(8)
    now = utcnow_seconds()
    await repository.insert_record(
        conn,
        public_id=public_id,
        kind=kind,
        provider_id=provider_id,
        status=status,
        details=details,
        created_at=now,
        lines=lines,
    )
    return public_id, now


def _line_read(row: repository.RecordLine) -> LineRead:
    return LineRead(
        product_code=row.product_code,
        product_type=row.product_type,
        name=row.product_name,
        quantity=row.quantity,
        posology=row.posology,
        duration_days=row.duration_days,
    )


async def _load(
    conn: Connection, *, provider_id: int, kind: str, public_id: str
) -> tuple[repository.FiledRecord, list[LineRead]]:
    row = await repository.get_record(conn, provider_id=provider_id, kind=kind, public_id=public_id)
    if row is None:
        raise RecordNotFound(additional_information={"id": public_id})
    return row, [_line_read(line) for line in await repository.get_lines(conn, row.id)]


async def create_authorization_request(
    conn: Connection, *, provider_id: int, body: AuthorizationRequestCreate
) -> AuthorizationRequestRead:
    """File a pre-authorization request (status PENDING_INDICATION)."""
    lines = await _resolve(
        conn,
        provider_id=provider_id,
        lines=[
            LineIn(f"products.{n}.product_type", p.product_code, p.product_type, p.quantity, p.posology)
            for n, p in enumerate(body.products)
        ],
    )
    details = {
        "beneficiary_id": body.beneficiary_id,
        "sponsor_slug": body.sponsor_slug,
        "diagnosis_code": body.diagnosis_code,
    }
    public_id, _ = await _file(
        conn,
        kind=AUTHORIZATION,
        provider_id=provider_id,
        status="PENDING_INDICATION",
        details=details,
        lines=lines,
    )
    return await get_authorization_request(conn, provider_id=provider_id, public_id=public_id)


async def get_authorization_request(
    conn: Connection, *, provider_id: int, public_id: str
) -> AuthorizationRequestRead:
    """Read one of the provider's pre-authorization requests."""
    row, lines = await _load(conn, provider_id=provider_id, kind=AUTHORIZATION, public_id=public_id)
    return AuthorizationRequestRead(
        authorization_id=row.public_id,
        status=row.status,
        created_at=row.created_at,
        completed_at=row.completed_at,
        products=lines,
        **row.details,
    )


async def complete_authorization_request(
    conn: Connection, *, provider_id: int, public_id: str
) -> AuthorizationRequestRead:
    """Mark a pre-authorization request COMPLETED (no sponsor adjudication happens here)."""
    row, _ = await _load(conn, provider_id=provider_id, kind=AUTHORIZATION, public_id=public_id)
    if row.status != "COMPLETED":
        await repository.complete(conn, record_id=row.id, at=utcnow_seconds())
    return await get_authorization_request(conn, provider_id=provider_id, public_id=public_id)


async def create_prescription(
    conn: Connection, *, provider_id: int, body: PrescriptionCreate
) -> PrescriptionRead:
    """File an electronic prescription; only MEDICATION products may be prescribed."""
    lines = await _resolve(
        conn,
        provider_id=provider_id,
        lines=[
            LineIn(
                f"medications.{n}.product_code", m.product_code, None, m.quantity, m.posology, m.duration_days
            )
            for n, m in enumerate(body.medications)
        ],
        medications_only=True,
    )
    details = {"patient_id": body.patient_id, "diagnoses": [d.model_dump() for d in body.diagnoses]}
    public_id, _ = await _file(
        conn, kind=PRESCRIPTION, provider_id=provider_id, status="ISSUED", details=details, lines=lines
    )
    return await get_prescription(conn, provider_id=provider_id, public_id=public_id)


async def get_prescription(conn: Connection, *, provider_id: int, public_id: str) -> PrescriptionRead:
    """Read one of the provider's prescriptions."""
    row, lines = await _load(conn, provider_id=provider_id, kind=PRESCRIPTION, public_id=public_id)
    return PrescriptionRead(
        prescription_id=row.public_id,
        patient_id=row.details["patient_id"],
        diagnoses=[DiagnosisIn(**d) for d in row.details["diagnoses"]],
        medications=lines,
        created_at=row.created_at,
    )


async def create_claim(conn: Connection, *, provider_id: int, body: ClaimCreate) -> ClaimCreated:
    """File an outpatient care claim (status OPEN); its authorization, if named, must be the provider's."""
    if body.authorization_id is not None and (
        await repository.get_record(
            conn, provider_id=provider_id, kind=AUTHORIZATION, public_id=body.authorization_id
        )
        is None
    ):
        raise ValidationFailed([{"field": "authorization_id", "message": "no such authorization request"}])
    lines = await _resolve(
        conn,
        provider_id=provider_id,
        lines=[
            LineIn(f"line_items.{n}.product_type", item.product_code, item.product_type, item.quantity)
            for n, item in enumerate(body.line_items)
        ],
    )
    details = {
        "beneficiary_id": body.beneficiary_id,
        "sponsor_slug": body.sponsor_slug,
        "authorization_id": body.authorization_id,
        "diagnosis_code": body.diagnosis_code,
    }
    public_id, created_at = await _file(
        conn, kind=CLAIM, provider_id=provider_id, status="OPEN", details=details, lines=lines
    )
    return ClaimCreated(claim_id=public_id, status="OPEN", created_at=created_at)


async def get_claim(conn: Connection, *, provider_id: int, public_id: str) -> ClaimRead:
    """Read one of the provider's claims."""
    row, lines = await _load(conn, provider_id=provider_id, kind=CLAIM, public_id=public_id)
    return ClaimRead(
        claim_id=row.public_id, status=row.status, created_at=row.created_at, line_items=lines, **row.details
    )
