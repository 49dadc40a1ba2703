"""Catalogue import from CSV or JSON Lines: validate every row first, then upsert all or nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from provider_products.catalogue import repository, text
from provider_products.catalogue.schemas import CatalogueEntryIn
from provider_products.db.base import utcnow
from provider_products.db.engine import Connection, Database
from provider_products_client import tabular
from provider_products_client.tabular import Table


@dataclass(frozen=True)
class RowError:
    """A rejected row: its line number in the file and why."""

    line: int
    message: str


class ImportRejected(Exception):
    """The file had bad rows; nothing from it was written."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} bad row(s); nothing was imported")
        self.errors = errors


@dataclass
class ImportResult:
    """What an import changed."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    total_rows: int = 0
    codes: set[str] = field(default_factory=set)
    # The catalogue's revision after the import (unchanged when the import changed nothing).
    revision: int = 0


def sandbox_catalogue() -> str:
    """Return the bundled sandbox catalogue (JSON Lines)."""
    return (resources.files("provider_products.catalogue") / "data" / "sandbox.jsonl").read_text("utf-8")


def read_file(path: Path) -> Table:
    """Read a catalogue file (CSV or JSON Lines); raise ``TableError`` when it cannot be read at all."""
    return tabular.read_table(path)


def _records(table: Table) -> list[tuple[int, dict[str, Any] | str]]:
    """Return ``(line number, record or parse error)`` for every data row, in file order."""
    found: list[tuple[int, dict[str, Any] | str]] = [(e.line or 0, e.message) for e in table.errors]
    for row in table.rows:
        found.append((row.line, "more values than header columns" if row.surplus else row.values))
    return sorted(found, key=lambda item: item[0])


def parse(content: str, fmt: str) -> list[CatalogueEntryIn]:
    """Validate every row of a file's text; raise ``ImportRejected`` listing each bad row by line number."""
    return parse_table(tabular.parse_text(content, fmt))


def parse_table(table: Table) -> list[CatalogueEntryIn]:
    """Validate every row; raise ``ImportRejected`` listing each bad row by line number."""
    entries: list[CatalogueEntryIn] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for line, record in _records(table):
        if isinstance(record, str):
            errors.append(RowError(line, record))
            continue
        try:
            entry = CatalogueEntryIn.model_validate(record)
        except ValidationError as exc:
            detail = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in exc.errors()
            )
            errors.append(RowError(line, detail))
            continue
        key = entry.product_code.upper()
        if key in seen:
            errors.append(
                RowError(line, f"duplicate product_code {entry.product_code} (first on line {seen[key]})")
            )
            continue
        seen[key] = line
        entries.append(entry)
    if errors:
        raise ImportRejected(errors)
    return entries


def _values(entry: CatalogueEntryIn) -> repository.EntryValues:
    """Return the columns to store for an entry: a medication keeps only the medication fields."""
    med = entry if entry.product_type == "MEDICATION" else None
    svc = None if med else entry
    return repository.EntryValues(
        product_code=entry.product_code,
        code_key=entry.product_code.upper(),
        product_type=entry.product_type,
        name=entry.name,
        status=entry.status,
        name_key=text.name_key(entry.name),
        search_text=text.search_text(entry.product_code, entry.name, med.active_ingredient if med else None),
        active_ingredient=med.active_ingredient if med else None,
        concentration=med.concentration if med else None,
        pharmaceutical_form=med.pharmaceutical_form if med else None,
        presentation=med.presentation if med else None,
        atc_code=med.atc_code if med else None,
        description=svc.description if svc else None,
        coding_system=svc.coding_system if svc else None,
        coding_code=svc.coding_code if svc else None,
        synonyms=[synonym.model_dump() for synonym in entry.synonyms],
    )


async def upsert(
    conn: Connection, entries: list[CatalogueEntryIn], *, deactivate_missing: bool = False
) -> ImportResult:
    """Insert new codes, overwrite known ones, and optionally retire codes absent from ``entries``.

    When anything changes, the catalogue's revision goes up by one and every entry written is
    stamped with it (the change feed's order). The revision is locked first, so that concurrent
    imports take turns and compare against each other's committed work.
    """
    now = utcnow()
    current = await repository.lock_revision(conn)
    stored = await repository.snapshot(conn)
    result = ImportResult(total_rows=len(entries), revision=current)
    inserts: list[repository.EntryValues] = []
    updates: list[tuple[int, repository.EntryValues]] = []
    for entry in entries:
        values = _values(entry)
        result.codes.add(values.code_key)
        before = stored.get(values.code_key)
        if before is None:
            inserts.append(values)
        elif before.values == values:
            result.unchanged += 1
        else:
            updates.append((before.id, values))
    retire = (
        [r.id for k, r in stored.items() if k not in result.codes and r.values.status == "ACTIVE"]
        if deactivate_missing
        else []
    )
    result.inserted, result.updated, result.deactivated = len(inserts), len(updates), len(retire)
    if not (inserts or updates or retire):
        return result
    result.revision = current + 1
    await repository.insert_many(conn, inserts, now=now, revision=result.revision)
    await repository.update_many(conn, updates, now=now, revision=result.revision)
    await repository.deactivate(conn, retire, now=now, revision=result.revision)
    await repository.set_revision(conn, result.revision, now=now)
    return result


async def import_content(
    database: Database, content: str, fmt: str, *, deactivate_missing: bool = False
) -> ImportResult:
    """Validate a whole file, then load it in one write transaction: the ``catalogue import`` command's work.

    The transaction is opened here, for the command, after parsing, so that no write lock is held
    while a large file is validated; an entry point that holds its own transaction calls ``parse``
    and then ``upsert``.
    """
    entries = parse(content, fmt)
    async with database.transaction(write=True) as conn:
        return await upsert(conn, entries, deactivate_missing=deactivate_missing)
