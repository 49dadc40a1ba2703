"""Queries on downstream records and their lines."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, insert, select, update

from provider_products.db.engine import Connection
from provider_products.downstream.models import DownstreamRecord, DownstreamRecordLine

record = cast(Table, DownstreamRecord.__table__)
line = cast(Table, DownstreamRecordLine.__table__)


async def insert_record(conn: Connection, values: dict[str, Any], lines: list[dict[str, Any]]) -> None:
    """Store a record and its lines."""
    record_id = (await conn.execute(insert(record).values(**values).returning(record.c.id))).scalar_one()
    await conn.execute(insert(line), [{**item, "record_id": record_id} for item in lines])


async def get_record(conn: Connection, *, provider_id: int, kind: str, public_id: str) -> Row[Any] | None:
    """Return one of the provider's records of a kind, or None."""
    query = select(record).where(
        record.c.public_id == public_id, record.c.provider_id == provider_id, record.c.kind == kind
    )
    return (await conn.execute(query)).first()


async def get_lines(conn: Connection, record_id: int) -> list[Row[Any]]:
    """Return a record's lines in filing order."""
    query = select(line).where(line.c.record_id == record_id).order_by(line.c.line_no)
    return list((await conn.execute(query)).all())


async def complete(conn: Connection, *, record_id: int, at: datetime) -> None:
    """Mark a pre-authorization COMPLETED."""
    await conn.execute(
        update(record).where(record.c.id == record_id).values(status="COMPLETED", completed_at=at)
    )
