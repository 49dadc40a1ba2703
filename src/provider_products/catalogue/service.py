"""Catalogue rules: lookups, search, and what may be registered."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from provider_products.catalogue import repository, text
from provider_products.catalogue.index import Snapshot
from provider_products.catalogue.schemas import (
    CatalogueProductRead,
    LookupItem,
    LookupRead,
    MedicationRead,
    ServiceProductRead,
    Synonym,
    code_key,
)
from provider_products.db.engine import Connection
from provider_products.errors import ProductNotInCatalogue, ValidationFailed
from provider_products.pagination import Page, PageParams, make_page

# What other domains get back when they look entries up by code (they never import the repository).
EntrySummary = repository.EntrySummary
# What other domains get back when they read whole entries (the portal's matcher reads them all).
CatalogueEntry = repository.CatalogueEntry

MAX_QUERY_LENGTH = 200
MAX_QUERY_WORDS = 10


@dataclass(frozen=True)
class SearchQuery:
    """A parsed ``query`` parameter: its folded words and the forms used for ranking."""

    words: list[str]
    code_key: str

    @classmethod
    def parse(cls, raw: str | None) -> SearchQuery | None:
        """Parse a query string; None when it is absent or blank."""
        if raw is None or not raw.strip():
            return None
        if len(raw) > MAX_QUERY_LENGTH:
            raise ValidationFailed(
                [{"field": "query", "message": f"query must be at most {MAX_QUERY_LENGTH} characters"}]
            )
        if any(unicodedata.category(ch) == "Cc" for ch in raw):
            raise ValidationFailed(
                [{"field": "query", "message": "query must not contain control characters"}]
            )
        words = text.words(raw)
        if len(words) > MAX_QUERY_WORDS:
            raise ValidationFailed(
                [{"field": "query", "message": f"query must have at most {MAX_QUERY_WORDS} words"}]
            )
        return cls(words=words, code_key=raw.strip().upper())


def to_read(entry: repository.CatalogueEntry, *, matched_synonym: str | None = None) -> CatalogueProductRead:
    """Render a catalogue entry as its wire shape (with the synonym a search matched, if any)."""
    synonyms = [Synonym.model_validate(s) for s in entry.synonyms]
    if entry.product_type == "MEDICATION":
        return MedicationRead(
            product_code=entry.product_code,
            product_type="MEDICATION",
            name=entry.name,
            status=entry.status,
            active_ingredient=entry.active_ingredient,
            concentration=entry.concentration,
            pharmaceutical_form=entry.pharmaceutical_form,
            presentation=entry.presentation,
            atc_code=entry.atc_code,
            synonyms=synonyms,
            matched_synonym=matched_synonym,
        )
    return ServiceProductRead(
        product_code=entry.product_code,
        product_type=entry.product_type,
        name=entry.name,
        status=entry.status,
        description=entry.description,
        coding_system=entry.coding_system,
        coding_code=entry.coding_code,
        synonyms=synonyms,
        matched_synonym=matched_synonym,
    )


async def list_products(
    conn: Connection,
    snapshot: Snapshot,
    *,
    product_type: str | None,
    query: str | None,
    params: PageParams,
) -> Page[CatalogueProductRead]:
    """Return one page of the catalogue, filtered by type and searched by ``query``."""
    parsed = SearchQuery.parse(query)
    if parsed is not None and not parsed.words:
        return make_page([], 0, params)
    if parsed is None:
        total = snapshot.count(product_type)
        rows = await repository.list_by_code(
            conn, product_type=product_type, limit=params.size, offset=params.offset
        )
        return make_page([to_read(r) for r in rows], total, params)
    hits = snapshot.search(
        parsed.words,
        product_type=product_type,
        code_key=parsed.code_key,
        offset=params.offset,
        limit=params.size,
    )
    rows = await repository.get_by_ids(conn, hits.ids)
    content = [to_read(r, matched_synonym=_matched_name(r, hits.synonym_of.get(r.id))) for r in rows]
    return make_page(content, hits.total, params)


def _matched_name(entry: repository.CatalogueEntry, index: int | None) -> str | None:
    """Return the name of the entry's synonym at ``index`` (the one a search matched), or None."""
    if index is None or index >= len(entry.synonyms):
        return None
    return str(entry.synonyms[index]["name"])


async def get_product(
    conn: Connection, *, code: str, product_type: str | None = None
) -> CatalogueProductRead:
    """Return one catalogue entry (of ``product_type`` when given), or raise 404 ``071-101``."""
    row = await repository.get_by_code(conn, code_key(code))
    if row is None or (product_type is not None and row.product_type != product_type):
        raise ProductNotInCatalogue(additional_information={"product_code": code.strip()})
    return to_read(row)


@dataclass(frozen=True)
class Registrable:
    """A catalogue entry that may be registered: its row id and its catalogue spelling."""

    id: int
    product_code: str


async def registrable(conn: Connection, *, code: str) -> Registrable:
    """Resolve a code for registration: it must be in the catalogue and ACTIVE, else 404 ``071-101``."""
    row = await repository.get_by_code(conn, code_key(code))
    if row is None or row.status != "ACTIVE":
        raise ProductNotInCatalogue(additional_information={"product_code": code.strip()})
    return Registrable(id=row.id, product_code=row.product_code)


async def lookup_id(conn: Connection, *, code: str) -> tuple[int, str] | None:
    """Return ``(row id, catalogue spelling)`` of a code in any status, or None."""
    row = await repository.get_by_code(conn, code_key(code))
    return None if row is None else (row.id, row.product_code)


async def entries_by_code(conn: Connection, *, code_keys: Sequence[str]) -> dict[str, EntrySummary]:
    """Map each of these code keys (upper-cased codes) found in the catalogue, in any status, to its entry."""
    return await repository.get_many_by_code(conn, code_keys)


async def lookup(conn: Connection, *, codes: Sequence[str]) -> LookupRead:
    """Say for each code, in order, whether the catalogue has it (any status); 071-105 if ill-formed."""
    keys: list[str | None] = []
    for raw in codes:
        try:
            keys.append(code_key(raw))
        except ValidationFailed:
            keys.append(None)
    found = await repository.get_many_by_code(conn, sorted({k for k in keys if k}))
    content: list[LookupItem] = []
    for raw, key in zip(codes, keys, strict=True):
        entry = found.get(key) if key else None
        if key is None:
            content.append(LookupItem(product_code=raw, found=False, error_code="071-105"))
        elif entry is None:
            content.append(LookupItem(product_code=raw.strip(), found=False))
        else:
            content.append(
                LookupItem(
                    product_code=entry.product_code,
                    found=True,
                    status=entry.status,
                    product_type=entry.product_type,
                    name=entry.name,
                )
            )
    return LookupRead(content=content)


async def count(conn: Connection) -> int:
    """Return how many entries the catalogue holds, in any status."""
    return await repository.count(conn)
