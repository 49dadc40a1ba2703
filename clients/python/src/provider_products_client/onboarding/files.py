"""What ``onboard`` reads and writes on disk: the inventory, the resume (state) file and the report."""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from provider_products_client import tabular

# The contract's rule for product codes (the server's catalogue/schemas.py CODE_PATTERN; a test
# checks that the two agree): rows that break it are reported invalid without asking the server.
CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

Outcome = Literal[
    "registered",
    "already_registered",
    "not_in_catalogue",
    "invalid",
    "duplicate",
    "failed",
    "would_register",
]
DONE = {"registered", "already_registered", "not_in_catalogue", "invalid"}


class InventoryError(Exception):
    """The inventory file cannot be used at all (unreadable, no product code column, a bad cell)."""


@dataclass
class Row:
    """One inventory row: where it was, its code (normalised when well-formed) and its other columns."""

    line: int
    raw_code: str
    columns: dict[str, str]
    key: str | None = None
    outcome: Outcome | None = None
    error_code: str | None = None
    registered_at: str | None = None


@dataclass(frozen=True)
class Inventory:
    """An inventory as read: its columns in file order, the one holding codes, its rows, how it was read."""

    columns: list[str]
    code_column: str
    rows: list[Row]
    description: str = ""


def read_inventory(path: Path, *, sheet: str | None = None) -> Inventory:
    """Read a CSV, ``.xlsx`` or JSON Lines inventory with a product code column (Spanish or English)."""
    try:
        table = tabular.read_table(path, sheet=sheet, known=("product_code",))
    except tabular.TableError as exc:
        raise InventoryError(str(exc)) from None
    if table.errors:
        raise InventoryError(f"{path.name}, {table.errors[0]}")
    code_column = table.recognised.get("product_code")
    if code_column is None:
        looked = ", ".join(tabular.ALIASES["product_code"])
        header = f" (line {table.header_line}: {', '.join(c for c in table.columns if c)})"
        raise InventoryError(
            f"{path.name} has no product code column in its first {tabular.HEADER_SEARCH_ROWS} rows; "
            f"name one of: {looked}{header if table.header_line else ''}"
        )
    rows = []
    for row in table.rows:
        values = {k: tabular.cell_text(v) for k, v in row.values.items() if k}
        rows.append(Row(row.line, values.get(code_column, ""), values))
    columns = [c for c in table.columns if c]
    return Inventory(columns, code_column, rows, table.describe(path))


def classify(rows: list[Row]) -> list[Row]:
    """Validate every row and drop duplicates; return the first row of each well-formed code."""
    first: dict[str, Row] = {}
    for row in rows:
        code = row.raw_code.strip()
        if not CODE_PATTERN.fullmatch(code):
            row.outcome, row.error_code = "invalid", "071-105"
            continue
        row.key = code.upper()
        if row.key in first:
            row.outcome = "duplicate"
            continue
        first[row.key] = row
    return list(first.values())


class StateFile:
    """Append-only record of the acknowledged outcomes of one unfinished run, flushed as they arrive.

    It exists only while a run is unfinished: a run that settles every row removes it. What it
    says is never taken over what the server says now (see ``Onboarding``).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.acknowledged: dict[str, dict[str, Any]] = {}
        if path.exists():
            for line in path.read_text("utf-8").splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a kill: that code was not acknowledged
                if isinstance(record, dict) and record.get("outcome") in DONE:
                    self.acknowledged[str(record["code"])] = record
        self._file = path.open("a", encoding="utf-8")

    def record(self, row: Row) -> None:
        """Persist an acknowledged outcome (fsync'd, so a kill right after loses nothing)."""
        assert row.key is not None
        entry = {
            "code": row.key,
            "outcome": row.outcome,
            "error_code": row.error_code,
            "at": row.registered_at,
        }
        self._file.write(json.dumps(entry) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self.acknowledged[row.key] = entry

    def close(self, *, finished: bool = False) -> None:
        """Close the file; remove it when the run finished (nothing is left to resume)."""
        self._file.close()
        if finished:
            self.path.unlink(missing_ok=True)


def write_report(
    path: Path, inventory: Inventory, removed: Iterable[str] = (), *, removal: str = "removed"
) -> None:
    """Write every row with its outcome (``pending`` if the run stopped first), and removals with --sync."""
    fields = [*inventory.columns, "outcome", "error_code", "registered_at"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row in inventory.rows:
            outcome = {"outcome": row.outcome or "pending", "error_code": row.error_code or ""}
            writer.writerow({**row.columns, **outcome, "registered_at": row.registered_at or ""})
        for code in removed:
            writer.writerow({inventory.code_column: code, "outcome": removal})
