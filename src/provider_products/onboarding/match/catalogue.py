"""The catalogue side of matching: entries built from catalogue records, an export file or the API."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provider_products import tabular

if TYPE_CHECKING:
    from provider_products.client import AsyncClient


@dataclass(frozen=True)
class CatalogueEntry:
    """A catalogue product as the matcher sees it."""

    product_code: str
    product_type: str
    name: str
    active_ingredient: str | None = None
    concentration: str | None = None
    pharmaceutical_form: str | None = None


def catalogue_entries(
    records: Iterable[Mapping[str, Any]], *, include_inactive: bool = False
) -> list[CatalogueEntry]:
    """Build matcher entries from catalogue records (import rows or API answers); skip inactive ones."""
    entries: list[CatalogueEntry] = []
    for record in records:
        if not include_inactive and str(record.get("status") or "ACTIVE").upper() != "ACTIVE":
            continue
        entries.append(
            CatalogueEntry(
                product_code=str(record["product_code"]),
                product_type=str(record["product_type"]),
                name=str(record["name"]),
                active_ingredient=optional_text(record.get("active_ingredient")),
                concentration=optional_text(record.get("concentration")),
                pharmaceutical_form=optional_text(record.get("pharmaceutical_form")),
            )
        )
    return entries


def read_catalogue(path: Path) -> list[CatalogueEntry]:
    """Read a catalogue export (JSON Lines, every entry kept); raise ``TableError`` naming a bad line."""
    table = tabular.read_table(path, "jsonl")
    if table.errors:
        raise table.errors[0]
    return catalogue_entries((row.values for row in table.rows), include_inactive=True)


async def fetch_catalogue(client: AsyncClient) -> list[CatalogueEntry]:
    """Read the whole catalogue from the API, page by page."""
    records = [product.model_dump() async for product in client.iter_products(size=200)]
    return catalogue_entries(records, include_inactive=True)


def optional_text(value: Any) -> str | None:
    """Return a value as trimmed text, or ``None`` when it is missing or blank."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None
