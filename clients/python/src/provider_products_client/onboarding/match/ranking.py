"""Ordering the assessed candidates of a row: close better fits first, ties settled or left to a person."""

from __future__ import annotations

from dataclasses import dataclass, replace

# How close (in score) a second passing candidate must be for the row to be a tie.
_TIE_MARGIN = 1.0
# How far below a forbidden best candidate a better-fitting one may be and still come first.
_PASSING_REACH = 10.0
_UNEXPLAINED = "row words not in the entry"
_MISSING = "name words missing"


@dataclass(frozen=True)
class Candidate:
    """A proposed catalogue entry for an inventory row, with its score from 0 to 100."""

    product_code: str
    name: str
    score: float
    # what matched ("ingredient acetaminofen, strength 500 mg, form tableta")
    reason: str = ""
    # why the candidate may not be filled without a person ("form contradicts: vial vs tableta")
    blocked: str | None = None


def passing_first(out: list[Candidate]) -> list[Candidate]:
    """Put a close candidate before a forbidden best one when it fits better: one nothing forbids, or
    one that explains every word of the row when the best leaves a telling word out ("ANTIGENO
    PROSTATICO LIBRE": "libre" is not in "PSA total", only "especifico" is missing from "PSA libre")."""
    if not out or out[0].blocked is None:
        return out
    near = out[0].score - _PASSING_REACH
    better = next((c for c in out if c.blocked is None and c.score >= near), None)
    if better is None and _UNEXPLAINED in out[0].blocked:
        better = next((c for c in out[1:] if c.score >= near and _only_missing(c.blocked)), None)
    if better is None:
        return out
    return [better, *(c for c in out if c is not better)]


def _only_missing(blocked: str | None) -> bool:
    """Whether all that stops a candidate is that the row leaves some of the entry's words out."""
    return blocked is not None and all(p.startswith(_MISSING) for p in blocked.split("; "))


def settle_ties(out: list[Candidate]) -> list[Candidate]:
    """Block the passing candidates that tie at the top, unless one is named by its own name."""
    passing = [c for c in out if c.blocked is None]
    if len(passing) < 2 or passing[0].score - passing[1].score >= _TIE_MARGIN:
        return out
    # the same product twice in the catalogue ("Paracetamol 500 mg" and "Acetaminofén 500 mg"): the
    # entry the row names by its own name wins over the one it names through a synonym
    direct = [c for c in passing[:2] if not c.reason.startswith("synonym")]
    if len(direct) == 1:
        winner = direct[0]
        same = f"the same product as {winner.product_code}, named through a synonym"
        rest = (replace(c, blocked=same) if c in passing[:2] else c for c in out if c is not winner)
        return [winner, *rest]
    tie = f"two candidates tie: {passing[0].product_code} and {passing[1].product_code}"
    return [replace(c, blocked=tie) if c.blocked is None else c for c in out]
