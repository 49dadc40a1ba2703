"""The portal's one door to the command line's inventory reader and matcher: uploads in, proposals out.

``provider-products match`` reads an inventory with ``onboarding.match.read_inventory`` (built on
``tabular``) and ranks the catalogue with ``onboarding.match.Matcher``; the portal uses exactly
those, imported here and nowhere else in the portal, so a file the command line accepts the portal
accepts too and the two propose the same codes. The server feeds the matcher the catalogue from its
database (ACTIVE entries with their synonyms) instead of over HTTP, and keeps one matcher per
process and catalogue revision. Reading and matching are CPU work: callers run them in a worker
thread (``anyio.to_thread``), in chunks, so the event loop keeps serving between chunks.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio.to_thread

from provider_products.catalogue import changes as catalogue_changes
from provider_products.catalogue import service as catalogue_service
from provider_products.db.engine import Database
from provider_products_client import tabular
from provider_products_client.onboarding import match as matching

MAX_UPLOAD_BYTES = 10 * 2**20
MAX_ROWS = 20_000
# Candidates kept per row for the reviewer to choose from.
TOP = 5
# Rows matched per trip to the worker thread: between chunks the event loop runs freely.
MATCH_CHUNK = 100
ACCEPTED_SUFFIXES = (".csv", ".xlsx")
# The inventory's own article number, kept beside the row (folded like tabular's column names).
# The catalogue-code spellings come last: in a file that has names to match, a "Código" column is
# the pharmacy's own code far more often than the catalogue's.
OWN_CODE_COLUMNS = (
    "sku",
    "codigo_interno",
    "cod_interno",
    "internal_code",
    "own_code",
    "codigo_articulo",
    "cod_articulo",
    "articulo",
    "referencia",
    "ref",
    "codigo",
    "code",
    "cod",
    "product_code",
)


class UploadRefused(ValueError):
    """The uploaded file cannot be used; the message says why, for the person who uploaded it."""


@dataclass(frozen=True)
class UploadedRow:
    """One inventory row as the portal stores it: its line, name, own code and the other columns."""

    line: int
    name: str
    inventory_code: str | None
    details: dict[str, str]


@dataclass(frozen=True)
class Upload:
    """An inventory read from an upload: its rows (and the matcher's items for them) and how it was read."""

    file_name: str
    source: str
    rows: list[UploadedRow]
    items: list[matching.InventoryItem] = field(repr=False)


@dataclass(frozen=True)
class CandidateView:
    """One candidate for a row, as stored and shown."""

    product_code: str
    name: str
    score: float
    reason: str
    blocked: str | None


@dataclass(frozen=True)
class Proposal:
    """The matcher's answer for one row: the code it proposes (or None), why, and its top candidates."""

    proposed_code: str | None
    score: float | None
    reason: str
    candidates: list[CandidateView]


def safe_file_name(name: str) -> str:
    """Return the last part of an uploaded file's name, without characters a file system or page mind."""
    base = re.split(r"[\\/]", name or "")[-1].strip()
    cleaned = re.sub(r"[^\w.\- ()]", "_", base)[:120].strip(" .")
    return cleaned or "inventario"


def read_upload(file_name: str, data: bytes) -> Upload:
    """Read an uploaded CSV or ``.xlsx`` inventory with the command line's reader; raise ``UploadRefused``.

    Blocking: call it in a worker thread.
    """
    name = safe_file_name(file_name)
    suffix = Path(name).suffix.lower()
    if suffix not in ACCEPTED_SUFFIXES:
        raise UploadRefused(f"{name}: only CSV (.csv) or Excel (.xlsx) files are read")
    if not data:
        raise UploadRefused(f"{name}: the file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRefused(f"{name}: the file is larger than {MAX_UPLOAD_BYTES // 2**20} MB")
    if suffix == ".xlsx" and not data.startswith(b"PK\x03\x04"):
        raise UploadRefused(f"{name}: this is not an Excel .xlsx workbook")
    if suffix == ".csv" and b"\x00" in data[:65536] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UploadRefused(f"{name}: this is not a text (CSV) file")
    with tempfile.TemporaryDirectory(prefix="pp-upload-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            table = tabular.read_table(path, known=matching.KNOWN_COLUMNS)
            items = matching.read_inventory(path)
        except ValueError as exc:  # TableError is one
            raise UploadRefused(str(exc)) from None
        except Exception as exc:  # a workbook openpyxl chokes on in a way it does not name
            raise UploadRefused(f"{name}: the file cannot be read ({type(exc).__name__})") from None
    if not items:
        raise UploadRefused(f"{name}: there are no rows below the header")
    if len(items) > MAX_ROWS:
        raise UploadRefused(f"{name}: {len(items)} rows; at most {MAX_ROWS:,} rows are read at once")
    return Upload(name, table.describe(path), [_row(item) for item in items], items)


def _row(item: matching.InventoryItem) -> UploadedRow:
    folded = {tabular.fold(column): column for column in item.extra}
    code_column = next((folded[c] for c in OWN_CODE_COLUMNS if c in folded and item.extra[folded[c]]), None)
    details = {
        key: value
        for key, value in (
            ("active_ingredient", item.active_ingredient),
            ("strength", item.strength),
            ("form", item.form),
        )
        if value
    }
    details.update({k: v for k, v in item.extra.items() if k and k != code_column and v})
    code = item.extra[code_column].strip()[:200] if code_column else None
    return UploadedRow(item.line, item.name, code or None, details)


def build_matcher(entries: Sequence[catalogue_service.CatalogueEntry]) -> matching.Matcher:
    """Build the matcher over catalogue entries read from the database (blocking: CPU work)."""
    # The lines of ``catalogue export``: what ``match --catalogue`` reads, so both match alike.
    return matching.Matcher(matching.catalogue_entries(catalogue_changes.export_record(e) for e in entries))


def propose(matcher: matching.Matcher, items: Sequence[matching.InventoryItem]) -> list[Proposal]:
    """Rank the catalogue against each row, as ``provider-products match`` does (blocking: CPU work)."""
    return [_proposal(matcher.candidates(item, top=TOP)) for item in items]


def _proposal(candidates: list[matching.Candidate]) -> Proposal:
    views = [CandidateView(c.product_code, c.name, c.score, c.reason, c.blocked) for c in candidates]
    if not candidates:
        return Proposal(None, None, "no candidate", views)
    best = candidates[0]
    chosen = matching.accepted(candidates)
    # the proposals file's reason column: what matched when sure, else what stopped a confident fill
    if chosen is not None:
        return Proposal(chosen.product_code, chosen.score, chosen.reason, views)
    return Proposal(None, best.score, best.blocked or "score too low", views)


async def propose_off_loop(
    matcher: matching.Matcher, items: Sequence[matching.InventoryItem]
) -> list[Proposal]:
    """Match the rows in a worker thread, ``MATCH_CHUNK`` rows per trip, so the loop is never held long."""
    out: list[Proposal] = []
    for start in range(0, len(items), MATCH_CHUNK):
        out.extend(await anyio.to_thread.run_sync(propose, matcher, items[start : start + MATCH_CHUNK]))
    return out


class MatcherCache:
    """The process's matcher over the current catalogue, rebuilt (off the loop) when its revision changes.

    A per-process component outside any request, like the search index: it opens its own short
    read transactions.
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        self._lock = asyncio.Lock()
        self._revision: int | None = None
        self._matcher: matching.Matcher | None = None

    async def current(self) -> tuple[int, matching.Matcher]:
        """Return the catalogue revision and a matcher over that revision's ACTIVE entries."""
        async with self._database.transaction() as conn:
            revision = await catalogue_changes.revision(conn)
        async with self._lock:
            if self._matcher is None or self._revision != revision:
                async with self._database.transaction() as conn:
                    revision = await catalogue_changes.revision(conn)
                    # In keyset pages, as the export reads them: no statement reads everything.
                    pages = catalogue_changes.export_pages(conn, active_only=True)
                    entries = [entry async for page in pages for entry in page]
                self._matcher = await anyio.to_thread.run_sync(build_matcher, entries)
                self._revision = revision
            assert self._revision is not None
            return self._revision, self._matcher


@dataclass(frozen=True)
class Matched:
    """An upload read and matched: its rows, their proposals and the catalogue revision matched against."""

    upload: Upload
    proposals: list[Proposal]
    catalogue_revision: int


async def read_and_match(matchers: MatcherCache, file_name: str, data: bytes) -> Matched:
    """Read an upload and match its rows, all off the event loop; raise ``UploadRefused`` for a bad file."""
    upload = await anyio.to_thread.run_sync(read_upload, file_name, data)
    revision, matcher = await matchers.current()
    proposals = await propose_off_loop(matcher, upload.items)
    return Matched(upload, proposals, revision)
