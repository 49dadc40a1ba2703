"""The onboarding report as CSV: one line per inventory row, safe to open in Excel.

The columns follow ``provider-products onboard``'s report where they mean the same (``outcome``
with the same names, ``pending`` for rows a run has not reached, ``error_code``, ``registered_at``),
preceded by what the review decided. UTF-8 with a byte-order mark, so Excel reads the accents; a
cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return) gets a leading
apostrophe so Excel shows it as text instead of running it as a formula (CSV injection).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from provider_products.portal.onboarding.schemas import RowRead

COLUMNS = (
    "line",
    "name",
    "inventory_code",
    "decision",
    "product_code",
    "product_name",
    "outcome",
    "error_code",
    "reason",
    "registered_at",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_REGISTERING = ("accepted", "chosen")


def safe_cell(value: str) -> str:
    """Return a cell Excel shows as the text it is, never as a formula."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def outcome(row: RowRead) -> str:
    """The row's outcome: the registration's answer, ``pending`` before it, ``skipped`` if not registered."""
    if row.decision not in _REGISTERING:
        return "skipped"
    return row.outcome or "pending"


def reason(row: RowRead) -> str:
    """Say why the row ended as it did, in the report's words."""
    if row.decision == "not_in_catalogue":
        return "marked not in the catalogue by the reviewer"
    if row.decision == "undecided":
        return f"no decision (matcher: {row.reason})"
    if row.outcome == "not_in_catalogue":
        return "refused: the code is not in the catalogue or was withdrawn"
    if row.decision == "chosen":
        chosen = next((c for c in row.candidates if c.product_code == row.product_code), None)
        return "chosen by the reviewer" + (f" (score {chosen.score:.1f})" if chosen is not None else "")
    return row.reason


def report_csv(rows: Iterable[RowRead]) -> bytes:
    """Render the report of a job's rows as CSV bytes (UTF-8 with BOM)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        cells = (
            str(row.line),
            row.name,
            row.inventory_code or "",
            row.decision,
            row.product_code or "",
            row.product_name or "",
            outcome(row),
            row.error_code or "",
            reason(row),
            row.registered_at.strftime("%Y-%m-%dT%H:%M:%SZ") if row.registered_at else "",
        )
        writer.writerow([safe_cell(c) for c in cells])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
