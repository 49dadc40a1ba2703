"""Registration rules: register, read, list and remove a provider's products."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from provider_products.catalogue import service as catalogue_service
from provider_products.catalogue.schemas import clean_code, code_key
from provider_products.db.base import utcnow_seconds
from provider_products.db.engine import Connection
from provider_products.errors import ProductAlreadyRegistered, ProductNotRegistered
from provider_products.pagination import Page, PageParams, make_page
from provider_products.registry import repository
from provider_products.registry.schemas import (
    BatchItem,
    BatchRead,
    HistoryRead,
    PeriodRead,
    ProviderProductRead,
    RegistrationRead,
    ValidateRead,
    ValidationItem,
)


def _read(row: repository.Registration) -> ProviderProductRead:
    return ProviderProductRead(
        product_code=row.product_code,
        product_type=row.product_type,
        name=row.name,
        registered_at=row.registered_at,
    )


async def register(conn: Connection, *, provider_id: int, code: str) -> RegistrationRead:
    """Register an active catalogue product; 404 ``071-101`` if not registrable, 409 ``071-102`` if held."""
    product = await catalogue_service.registrable(conn, code=code)
    now = utcnow_seconds()
    # The statement leaves the transaction usable either way: callers may go on after a 409.
    if not await repository.insert_registration(conn, provider_id=provider_id, product_id=product.id, at=now):
        raise ProductAlreadyRegistered(additional_information={"product_code": product.product_code})
    return RegistrationRead(product_code=product.product_code, registered_at=now)


async def get(conn: Connection, *, provider_id: int, code: str) -> ProviderProductRead:
    """Return one active registration, or 404 ``071-103``."""
    row = await repository.get_active(conn, provider_id=provider_id, code_key=code_key(code))
    if row is None:
        raise ProductNotRegistered(additional_information={"product_code": code.strip()})
    return _read(row)


async def remove(conn: Connection, *, provider_id: int, code: str) -> None:
    """Close the active registration period of a code, or 404 ``071-103``; history is kept."""
    product = await catalogue_service.lookup_id(conn, code=code)
    closed = product is not None and await repository.close_registration(
        conn, provider_id=provider_id, product_id=product[0], at=utcnow_seconds()
    )
    if not closed:
        raise ProductNotRegistered(additional_information={"product_code": code.strip()})


async def list_registrations(
    conn: Connection, *, provider_id: int, product_type: str | None, query: str | None, params: PageParams
) -> Page[ProviderProductRead]:
    """Return one page of the provider's active registrations, filtered and searched."""
    parsed = catalogue_service.SearchQuery.parse(query)
    if parsed is not None and not parsed.words:
        return make_page([], 0, params)
    rows, total = await repository.list_active(
        conn,
        provider_id=provider_id,
        product_type=product_type,
        words=parsed.words if parsed else None,
        code_key=parsed.code_key if parsed else "",
        limit=params.size,
        offset=params.offset,
    )
    return make_page([_read(r) for r in rows], total, params)


async def register_batch(conn: Connection, *, provider_id: int, codes: list[str]) -> BatchRead:
    """Register many codes at once; each gets its own outcome, in the order given."""
    keys = [_key_or_none(c) for c in codes]
    found = await catalogue_service.entries_by_code(conn, code_keys=sorted({k for k in keys if k}))
    registrable = {k: r for k, r in found.items() if r.status == "ACTIVE"}
    now = utcnow_seconds()
    opened = await repository.insert_missing(
        conn, provider_id=provider_id, product_ids=[r.id for r in registrable.values()], at=now
    )
    results: list[BatchItem] = []
    reported: set[str] = set()
    for raw, key in zip(codes, keys, strict=True):
        if key is None:
            results.append(BatchItem(product_code=raw, outcome="invalid", error_code="071-105"))
        elif key not in registrable:
            results.append(
                BatchItem(product_code=raw.strip(), outcome="not_in_catalogue", error_code="071-101")
            )
        elif registrable[key].id in opened and key not in reported:
            code = registrable[key].product_code
            results.append(BatchItem(product_code=code, outcome="registered", registered_at=now))
        else:
            code = registrable[key].product_code
            results.append(BatchItem(product_code=code, outcome="already_registered", error_code="071-102"))
        if key:
            reported.add(key)
    counts = dict.fromkeys(("registered", "already_registered", "not_in_catalogue", "invalid"), 0)
    for item in results:
        counts[item.outcome] += 1
    return BatchRead(results=results, counts=counts)


async def history(conn: Connection, *, provider_id: int, code: str) -> HistoryRead:
    """Return the registration periods of a code, or 404 ``071-103`` if it was never registered."""
    product = await catalogue_service.lookup_id(conn, code=code)
    periods = (
        []
        if product is None
        else await repository.periods(conn, provider_id=provider_id, product_id=product[0])
    )
    if product is None or not periods:
        raise ProductNotRegistered(additional_information={"product_code": code.strip()})
    return HistoryRead(
        product_code=product[1],
        periods=[PeriodRead(registered_at=p.registered_at, removed_at=p.removed_at) for p in periods],
    )


async def validate(
    conn: Connection, *, provider_id: int, codes: list[str], at: datetime | None
) -> ValidateRead:
    """Say for each code whether the provider had it registered at ``at`` (default: now)."""
    moment = (at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)) if at else utcnow_seconds()
    keys = [_key_or_none(c) for c in codes]
    found = await catalogue_service.entries_by_code(conn, code_keys=sorted({k for k in keys if k}))
    covered = await repository.registered_at(
        conn, provider_id=provider_id, product_ids=[r.id for r in found.values()], at=moment
    )
    results = []
    for raw, key in zip(codes, keys, strict=True):
        entry = found.get(key or "")
        period = covered.get(entry.id) if entry is not None else None
        results.append(
            ValidationItem(
                product_code=entry.product_code if entry is not None else raw.strip(),
                registered=period is not None,
                registered_at=period.registered_at if period is not None else None,
                removed_at=period.removed_at if period is not None else None,
            )
        )
    return ValidateRead(at=moment, results=results)


async def lock_registered(conn: Connection, *, provider_id: int, product_ids: Sequence[int]) -> set[int]:
    """Return which of these catalogue products the provider has registered now, and hold them so.

    Until the transaction ends a concurrent removal of any of them waits, so whatever the caller
    files against them is never filed against a registration being closed at the same moment.
    """
    return await repository.lock_active(conn, provider_id=provider_id, product_ids=product_ids)


Change = repository.Change


async def summary(conn: Connection, *, provider_id: int) -> dict[str, int]:
    """Return how many products the provider has registered of each type (every type, zeros included)."""
    found = await repository.counts_by_type(conn, provider_id=provider_id)
    return {t: found.get(t, 0) for t in ("MEDICATION", "LAB", "IMAGING", "PROCEDURE")}


async def recent_changes(conn: Connection, *, provider_id: int, limit: int = 10) -> list[Change]:
    """Return the provider's latest registrations and removals, newest first."""
    return await repository.recent_changes(conn, provider_id=provider_id, limit=limit)


def _key_or_none(raw: str) -> str | None:
    try:
        return clean_code(raw).upper()
    except ValueError:
        return None
