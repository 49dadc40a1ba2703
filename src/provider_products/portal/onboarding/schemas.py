"""What the onboarding service hands the portal's pages: jobs, their progress, rows and candidates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Decision = Literal["accepted", "chosen", "not_in_catalogue", "undecided"]
DECISIONS: tuple[Decision, ...] = ("accepted", "chosen", "not_in_catalogue", "undecided")
# The choice a form sends for "not in the catalogue": it can never be a product code, which starts
# with a letter or digit.
NOT_IN_CATALOGUE = "__none__"
OUTCOMES = ("registered", "already_registered", "not_in_catalogue")


@dataclass(frozen=True)
class CandidateRead:
    """A catalogue entry proposed for a row, with its score and what matched or stood in the way."""

    product_code: str
    name: str
    score: float
    reason: str
    blocked: str | None = None


@dataclass(frozen=True)
class Progress:
    """Where a job's registration stands.

    ``to_register`` counts the rows whose decision registers a code; ``settled`` those of them the
    registration has answered; ``outcomes`` counts them by outcome; ``decisions`` counts every row
    by decision. ``running`` while a registration holds a live lease; ``interrupted`` when one was
    cut short (its lease lapsed with rows left).
    """

    to_register: int
    settled: int
    outcomes: dict[str, int]
    decisions: dict[str, int]
    running: bool
    interrupted: bool

    @property
    def pending(self) -> int:
        """Rows still to register."""
        return self.to_register - self.settled

    @property
    def percent(self) -> int:
        """How far the registration is, 0 to 100 (100 when there is nothing to register)."""
        return 100 if not self.to_register else int(100 * self.settled / self.to_register)


@dataclass(frozen=True)
class JobRead:
    """An onboarding job and its progress."""

    job_id: str
    file_name: str
    source: str
    row_count: int
    status: str
    catalogue_revision: int
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    registration_started_at: datetime | None
    registration_finished_at: datetime | None
    progress: Progress


@dataclass(frozen=True)
class RowRead:
    """One inventory row of a job: its proposal and candidates, its decision and, once registered, outcome."""

    position: int
    line: int
    name: str
    inventory_code: str | None
    details: dict[str, str]
    proposed_code: str | None
    score: float | None
    reason: str
    candidates: list[CandidateRead]
    decision: Decision
    chosen_code: str | None
    outcome: str | None
    error_code: str | None
    registered_at: datetime | None
    # the code the decision registers (the proposal or the chosen candidate), None if none
    product_code: str | None = None
    product_name: str | None = None
    # what the form's select shows as selected: a candidate's code, NOT_IN_CATALOGUE or ""
    choice: str = ""


@dataclass(frozen=True)
class RowsPage:
    """One page of a job's rows."""

    rows: list[RowRead]
    page: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        """How many pages there are."""
        return max(1, -(-self.total // self.size))


@dataclass(frozen=True)
class BatchStep:
    """What one registration batch did: rows answered, and whether the run is over or lost its lease."""

    processed: int
    finished: bool = False
    lost: bool = False
    counts: dict[str, int] = field(default_factory=dict)
