"""The proposals file a person reviews: every inventory row, its best candidates and, when sure, its code."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path

from provider_products_client.onboarding.match.inventory import KNOWN_COLUMNS, InventoryItem
from provider_products_client.onboarding.match.ranking import Candidate

# A best candidate at or above this score is written as the row's product_code; below it the row
# is left for a person to decide. Chosen from bench/match_accuracy.py: right answers score almost
# always above it, products absent from the catalogue almost always below.
ACCEPT_SCORE = 50.0
# Two best candidates closer than this are a coin toss ("Rx torax" fits 1, 2 and 3 projections alike):
# the row is left for a person even when the score is high.
AMBIGUOUS_MARGIN = 1.0

OUTPUT_COLUMNS = ("product_code", "score", "candidate_code", "candidate_name", "reason")
_GENERATED = frozenset(OUTPUT_COLUMNS)


def proposal_columns(items: Sequence[InventoryItem], *, top: int) -> list[str]:
    """Return the header of the proposals file: the inventory's columns, then the proposal columns."""
    columns = [_renamed(c) for c in _original_columns(items)]
    columns.extend(OUTPUT_COLUMNS)
    for rank in range(2, top + 1):
        columns.extend((f"alternative_{rank}_code", f"alternative_{rank}_name", f"alternative_{rank}_score"))
    return columns


def _original_columns(items: Sequence[InventoryItem]) -> list[str]:
    """The inventory's columns in file order (items built by hand: the known fields they set first)."""
    original: list[str] = []
    for item in items:
        columns = item.columns or (*KNOWN_COLUMNS, *item.extra)
        original.extend(c for c in columns if c not in original and _value(item, c) is not None)
    return original


def _renamed(column: str) -> str:
    """An inventory column that clashes with a generated one keeps its data under another name."""
    clash = column in _GENERATED or re.fullmatch(r"alternative_\d+_(code|name|score)", column) is not None
    return f"inventory_{column}" if clash else column


def _value(item: InventoryItem, column: str) -> str | None:
    lowered = column.strip().lower()
    if lowered in KNOWN_COLUMNS and column not in item.extra:
        value: str | None = getattr(item, lowered)
        if item.columns or value is not None:
            return value or ""
        return None
    return item.extra.get(column)


def accepted(
    candidates: Sequence[Candidate], *, accept_score: float = ACCEPT_SCORE, margin: float = AMBIGUOUS_MARGIN
) -> Candidate | None:
    """Return the candidate to write as the row's product_code, or ``None`` when a person must choose."""
    if not candidates or candidates[0].blocked is not None or candidates[0].score < accept_score:
        return None
    # a close second that the matcher ruled out (another strength, a contradicting form, the same
    # product named through a synonym) does not make the row a coin toss
    rivals = [c for c in candidates[1:] if c.blocked is None or c.blocked == "not checked"]
    if rivals and candidates[0].score - rivals[0].score < margin:
        return None
    return candidates[0]


def write_proposals(
    path: Path,
    items: Sequence[InventoryItem],
    proposals: Sequence[list[Candidate]],
    *,
    top: int,
    accept_score: float = ACCEPT_SCORE,
) -> None:
    """Write the proposals CSV a person reviews before ``provider-products onboard``."""
    if len(items) != len(proposals):
        raise ValueError(f"{len(items)} items but {len(proposals)} proposal lists")
    if top < 1:
        raise ValueError("top must be at least 1")
    originals = _original_columns(items)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(proposal_columns(items, top=top))
    for item, candidates in zip(items, proposals, strict=True):
        row = [_value(item, c) or "" for c in originals]
        row.extend(_proposal_cells(candidates, top=top, accept_score=accept_score))
        writer.writerow(row)
    path.write_text(buffer.getvalue(), "utf-8")


def _reason(best: Candidate, chosen: Candidate | None) -> str:
    """Say what matched for a filled row, and what was missing or contradicting for an unfilled one."""
    if chosen is not None:
        return best.reason
    if best.blocked:
        return best.blocked
    return "score too low"


def _proposal_cells(candidates: Sequence[Candidate], *, top: int, accept_score: float) -> list[str]:
    """The generated cells of one row: its code (when sure), the best candidate, then the alternatives."""
    cells: list[str] = []
    best = candidates[0] if candidates else None
    if best is None:
        cells.extend(("", "", "", "", "no candidate"))
    else:
        # The best candidate stays visible even when it is not confident enough to fill product_code.
        chosen = accepted(candidates, accept_score=accept_score)
        code = chosen.product_code if chosen is not None else ""
        cells.extend((code, f"{best.score:.1f}", best.product_code, best.name, _reason(best, chosen)))
    for rank in range(2, top + 1):
        if rank <= len(candidates):
            other = candidates[rank - 1]
            cells.extend((other.product_code, other.name, f"{other.score:.1f}"))
        else:
            cells.extend(("", "", ""))
    return cells
