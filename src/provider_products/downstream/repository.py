"""Queries on downstream records and their lines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, insert, select, update

from provider_products.db.engine import Connection
from provider_products.downstream.models import DownstreamRecord, DownstreamRecordLine

record = cast(Table, DownstreamRecord.__table__)
line = cast(Table, DownstreamRecordLine.__table__)


class FiledRecord(NamedTuple):
    """A stored downstream record; what differs between kinds is in ``details`` (a JSON object)."""

    id: int
    public_id: str
    kind: str
    provider_id: int
    status: str
    details: dict[str, Any]
    created_at: datetime
    completed_at: datetime | None


class RecordLine(NamedTuple):
    """One product line of a record, with the product's code, type and name as they were when filed."""

    line_no: int
    product_id: int
    product_code: str
    product_type: str
    product_name: str
    quantity: int
    posology: str | None
    duration_days: int | None


_RECORD = select(*(record.c[name] for name in FiledRecord._fields))
_LINES = select(*(line.c[name] for name in RecordLine._fields))


async def insert_record(
    conn: Connection,
    *,
    public_id: str,
    kind: str,
    provider_id: int,
    status: str,
    details: dict[str, Any],
    created_at: datetime,
    lines: Sequence[RecordLine],
) -> None:
    """Store a record and its lines."""
    values = {
        "public_id": public_id,
        "kind": kind,
        "provider_id": provider_id,
        "status": status,
        "details": details,
        "created_at": created_at,
    }
    record_id = (await conn.execute(insert(record).values(values).returning(record.c.id))).scalar_one()
    await conn.execute(insert(line), [{**item._asdict(), "record_id": record_id} for item in lines])


async def get_record(conn: Connection, *, provider_id: int, kind: str, public_id: str) -> FiledRecord | None:
    """Return one of the provider's records of a kind, or None."""
    query = _RECORD.where(
        record.c.public_id == public_id, record.c.provider_id == provider_id, record.c.kind == kind
    )
    row = (await conn.execute(query)).first()
    return None if row is None else FiledRecord._make(row)


async def get_lines(conn: Connection, record_id: int) -> list[RecordLine]:
    """Return a record's lines in filing order."""
    query = _LINES.where(line.c.record_id == record_id).order_by(line.c.line_no)
    return [RecordLine._make(row) for row in (await conn.execute(query)).all()]


async def complete(conn: Connection, *, record_id: int, at: datetime) -> None:
    """Mark a pre-authorization COMPLETED."""
    await conn.execute(
        update(record).where(record.c.id == record_id).values(status="COMPLETED", completed_at=at)
    )
