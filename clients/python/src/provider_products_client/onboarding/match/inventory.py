"""The inventory side of matching: rows with product names, read from a provider's file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from provider_products_client import tabular
from provider_products_client.onboarding.match.catalogue import optional_text

KNOWN_COLUMNS = ("name", "active_ingredient", "strength", "form")
_SHOWN_ERRORS = 10


@dataclass(frozen=True)
class InventoryItem:
    """One inventory row: its line in the file, the columns the matcher reads and all the others."""

    line: int
    name: str
    active_ingredient: str | None = None
    strength: str | None = None
    form: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    # The file's column order (read_inventory fills it) so proposals keep the inventory's layout.
    columns: tuple[str, ...] = ()


def read_inventory(path: Path, *, sheet: str | None = None) -> list[InventoryItem]:
    """Read an inventory (CSV, .xlsx or JSON Lines, Spanish or English headers); rows need a ``name``."""
    table = tabular.read_table(path, sheet=sheet, known=KNOWN_COLUMNS).renamed()
    _require_name_column(table, path)
    items: list[InventoryItem] = []
    errors = [(e.line or 0, str(e)) for e in table.errors]
    for row in table.rows:
        try:
            items.append(_row_item(table, row))
        except ValueError as exc:
            errors.append((row.line, str(exc)))
    if errors:
        messages = [message for _, message in sorted(errors, key=lambda e: e[0])]
        more = len(messages) - _SHOWN_ERRORS
        shown = "; ".join(messages[:_SHOWN_ERRORS]) + (f"; and {more} more" if more > 0 else "")
        raise ValueError(f"{path.name}: {shown}")
    return items


def _require_name_column(table: tabular.Table, path: Path) -> None:
    if table.header_line is not None and "name" not in {c.lower() for c in table.columns}:
        columns = ", ".join(table.columns)
        raise ValueError(f"line {table.header_line}: {path.name} has no 'name' column (columns: {columns})")


def _row_item(table: tabular.Table, row: tabular.TableRow) -> InventoryItem:
    if row.surplus:
        raise ValueError(f"line {row.line}: more values than header columns")
    record = {column: tabular.cell_text(value) for column, value in row.values.items()}
    # a file with a header gives every row its columns; a JSON Lines row has its own
    columns = table.columns if table.header_line is not None else tuple(record)
    return _item(row.line, record, columns)


def _item(line: int, record: Mapping[str, str], columns: Sequence[str]) -> InventoryItem:
    """Build an item from a row whose column names are already trimmed."""
    lowered = {c.strip().lower(): c for c in columns}
    known = {k: lowered[k] for k in KNOWN_COLUMNS if k in lowered}
    values = {k: optional_text(record.get(column)) for k, column in known.items()}
    name = values.get("name") or ""
    if not name:
        raise ValueError(f"line {line}: the row has no name")
    return InventoryItem(
        line=line,
        name=name,
        active_ingredient=values.get("active_ingredient"),
        strength=values.get("strength"),
        form=values.get("form"),
        extra={c: record.get(c) or "" for c in columns if c not in known.values()},
        columns=tuple(columns),
    )
