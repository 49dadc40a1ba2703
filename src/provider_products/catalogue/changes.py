"""The catalogue's change feed and export: entries changed since a revision, and every entry in pages.

Every import that changes the catalogue raises its revision by one and stamps each entry it
inserts, changes or withdraws with that revision (``catalogue.importer``). The feed lists the
entries stamped after a revision, the most recent change first; the export reads every entry in
code order, one bounded keyset page at a time, so neither holds the catalogue in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from pydantic import Field
from sqlalchemy import func, select

from provider_products.catalogue import repository
from provider_products.catalogue.schemas import CatalogueProductRead
from provider_products.catalogue.service import to_read
from provider_products.db.engine import Connection
from provider_products.errors import ValidationFailed
from provider_products.pagination import Page, PageParams, make_page

_table = repository.catalogue
_ENTRY = select(*(_table.c[name] for name in repository.CatalogueEntry._fields))
_MEDICATION_FIELDS = ("active_ingredient", "concentration", "pharmaceutical_form", "presentation", "atc_code")
_SERVICE_FIELDS = ("description", "coding_system", "coding_code")
EXPORT_PAGE_ROWS = 1000


class CatalogueChangesRead(Page[CatalogueProductRead]):
    """Entries changed after ``since_revision``, most recent change first, and the current revision."""

    revision: int = Field(
        examples=[42],
        description="The catalogue's revision when this page was read: keep the first page's, and "
        "ask for the changes since it next time",
    )
    since_revision: int = Field(examples=[40], description="The revision the changes are counted from")


async def changes_since(conn: Connection, *, since_revision: int, params: PageParams) -> CatalogueChangesRead:
    """Return one page of the entries changed after ``since_revision``, most recent change first.

    Entries are never deleted and an entry's revision only grows, so while someone walks the pages
    an import can only move entries to the front or add them there: a walk may meet an entry twice,
    never miss one; and what it misses at the front has a revision above the first page's.
    """
    current = await repository.revision(conn)
    if since_revision > current:
        raise ValidationFailed(
            [
                {
                    "field": "since_revision",
                    "message": f"since_revision {since_revision} is ahead of the catalogue's revision "
                    f"{current}; read the changes since 0 again",
                }
            ]
        )
    if since_revision == current:
        empty: Page[CatalogueProductRead] = make_page([], 0, params)
        return CatalogueChangesRead(
            content=[], page=empty.page, revision=current, since_revision=since_revision
        )
    changed = _table.c.revision > since_revision
    rows = await conn.execute(
        _ENTRY.where(changed)
        .order_by(_table.c.revision.desc(), _table.c.code_key.desc())
        .limit(params.size)
        .offset(params.offset)
    )
    content = [to_read(repository.CatalogueEntry._make(row)) for row in rows.all()]
    # Counted after the rows: the count can only have grown since, so a walker never stops early.
    total = await _count_changed(conn, since_revision)
    page = make_page(content, total, params)
    return CatalogueChangesRead(
        content=page.content, page=page.page, revision=current, since_revision=since_revision
    )


async def _count_changed(conn: Connection, since_revision: int) -> int:
    """Count the entries changed after ``since_revision``."""
    count = select(func.count()).select_from(_table)
    if since_revision == 0:
        # Since 0 is nearly every entry: a whole-table count (SQLite counts pages, not index
        # entries) less the few never stamped is several times cheaper than the range count.
        everything = int((await conn.execute(count)).scalar_one())
        unstamped = await conn.execute(count.where(_table.c.revision <= 0))
        return everything - int(unstamped.scalar_one())
    return int((await conn.execute(count.where(_table.c.revision > since_revision))).scalar_one())


async def export_pages(
    conn: Connection,
    *,
    product_types: Sequence[str] | None = None,
    active_only: bool = False,
    page_rows: int = EXPORT_PAGE_ROWS,
) -> AsyncIterator[list[repository.CatalogueEntry]]:
    """Yield every entry (of ``product_types``, ACTIVE ones only if asked) in code order, in keyset pages."""
    query = _ENTRY.order_by(_table.c.code_key).limit(page_rows)
    if product_types:
        query = query.where(_table.c.product_type.in_(list(product_types)))
    if active_only:
        query = query.where(_table.c.status == "ACTIVE")
    after: str | None = None
    while True:
        page = query if after is None else query.where(_table.c.code_key > after)
        rows = [repository.CatalogueEntry._make(row) for row in (await conn.execute(page)).all()]
        if not rows:
            return
        yield rows
        # The stored key of a code is its upper-cased spelling (``importer``).
        after = rows[-1].product_code.upper()


def export_record(entry: repository.CatalogueEntry) -> dict[str, Any]:
    """Return an entry as one line of a catalogue file: what ``catalogue import`` and ``match`` read."""
    record: dict[str, Any] = {
        "product_code": entry.product_code,
        "product_type": entry.product_type,
        "name": entry.name,
        "status": entry.status,
    }
    for name in _MEDICATION_FIELDS if entry.product_type == "MEDICATION" else _SERVICE_FIELDS:
        record[name] = getattr(entry, name)
    record["synonyms"] = entry.synonyms
    return record


async def revision(conn: Connection) -> int:
    """Return the catalogue's revision (0 before any import)."""
    return await repository.revision(conn)
