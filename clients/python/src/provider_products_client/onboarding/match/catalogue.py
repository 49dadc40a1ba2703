"""The catalogue side of matching: entries built from catalogue records, an export file or the API."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provider_products_client import tabular

if TYPE_CHECKING:
    from provider_products_client import AsyncClient


@dataclass(frozen=True)
class CatalogueEntry:
    """A catalogue product as the matcher sees it."""

    product_code: str
    product_type: str
    name: str
    active_ingredient: str | None = None
    concentration: str | None = None
    pharmaceutical_form: str | None = None
    # the pack as sold ("Frasco x 100 mL"): an injectable's volume gives its total per vial
    presentation: str | None = None
    # brand names, regional and older names: the catalogue's ``synonyms`` field, names only
    synonyms: tuple[str, ...] = ()


PRODUCT_TYPES = ("MEDICATION", "LAB", "IMAGING", "PROCEDURE")


def catalogue_entries(
    records: Iterable[Mapping[str, Any]],
    *,
    include_inactive: bool = False,
    product_types: Iterable[str] | None = None,
) -> list[CatalogueEntry]:
    """Build matcher entries from catalogue records (import rows or API answers); skip inactive ones."""
    wanted = {t.upper() for t in product_types} if product_types else None
    entries: list[CatalogueEntry] = []
    for record in records:
        if not include_inactive and str(record.get("status") or "ACTIVE").upper() != "ACTIVE":
            continue
        if wanted is not None and str(record.get("product_type")).upper() not in wanted:
            continue
        entries.append(
            CatalogueEntry(
                product_code=str(record["product_code"]),
                product_type=str(record["product_type"]),
                name=str(record["name"]),
                active_ingredient=optional_text(record.get("active_ingredient")),
                concentration=optional_text(record.get("concentration")),
                pharmaceutical_form=optional_text(record.get("pharmaceutical_form")),
                presentation=optional_text(record.get("presentation")),
                synonyms=synonym_names(record.get("synonyms")),
            )
        )
    return entries


def read_catalogue(path: Path, *, product_types: Iterable[str] | None = None) -> list[CatalogueEntry]:
    """Read a catalogue export (JSON Lines; ACTIVE entries kept); raise ``TableError`` naming a bad line."""
    table = tabular.read_table(path, "jsonl")
    if table.errors:
        raise table.errors[0]
    return catalogue_entries((row.values for row in table.rows), product_types=product_types)


async def fetch_catalogue(
    client: AsyncClient, *, product_types: Iterable[str] | None = None
) -> list[CatalogueEntry]:
    """Read the whole catalogue from the API, page by page (ACTIVE entries kept)."""
    records = [product.model_dump() async for product in client.iter_products(size=200)]
    return catalogue_entries(records, product_types=product_types)


def synonym_names(value: Any) -> tuple[str, ...]:
    """Return the names of a ``synonyms`` field: ``[{"name": ...}, ...]`` or plain strings."""
    if not isinstance(value, list):
        return ()
    names = (item.get("name") if isinstance(item, Mapping) else item for item in value)
    return tuple(dict.fromkeys(n.strip() for n in names if isinstance(n, str) and n.strip()))


def optional_text(value: Any) -> str | None:
    """Return a value as trimmed text, or ``None`` when it is missing or blank."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None
