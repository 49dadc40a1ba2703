"""Typed shapes of what the provider-products API answers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

__all__ = [
    "AuthorizationProduct",
    "AuthorizationRequest",
    "AuthorizationStatus",
    "BatchItem",
    "BatchOutcome",
    "BatchResult",
    "CatalogueChanges",
    "CatalogueProduct",
    "Claim",
    "ClaimCreated",
    "ClaimLine",
    "Diagnosis",
    "History",
    "HistoryPeriod",
    "LineItem",
    "LookupItem",
    "LookupResult",
    "Medication",
    "Page",
    "PageMeta",
    "PrescribedMedication",
    "Prescription",
    "ProductType",
    "ProviderProduct",
    "RateLimitState",
    "Registration",
    "ServiceProduct",
    "ServiceType",
    "Status",
    "Synonym",
    "SynonymKind",
    "Token",
    "ValidationItem",
    "ValidationResult",
]

T = TypeVar("T")

ProductType = Literal["MEDICATION", "LAB", "IMAGING", "PROCEDURE"]
ServiceType = Literal["LAB", "IMAGING", "PROCEDURE"]
Status = Literal["ACTIVE", "INACTIVE"]
SynonymKind = Literal["brand", "regional", "abbreviation", "former"]
BatchOutcome = Literal["registered", "already_registered", "not_in_catalogue", "invalid"]
AuthorizationStatus = Literal["PENDING_INDICATION", "COMPLETED"]


class Token(BaseModel):
    """An OAuth2 access token."""

    access_token: str
    token_type: str
    expires_in: int
    scope: str = ""


class Registration(BaseModel):
    """A registration as answered when a product is registered."""

    product_code: str
    registered_at: datetime


class ProviderProduct(BaseModel):
    """A product registered by the calling provider."""

    product_code: str
    product_type: ProductType
    name: str
    registered_at: datetime


class Synonym(BaseModel):
    """Another name of a catalogue entry: a brand, a regional or former name, or an abbreviation."""

    name: str
    kind: SynonymKind
    # ISO 3166-1 alpha-2 codes of the markets where the name is used; empty: region-wide.
    countries: list[str] = Field(default_factory=list)


class Medication(BaseModel):
    """A medication of the global catalogue."""

    product_code: str
    product_type: Literal["MEDICATION"]
    name: str
    status: Status
    active_ingredient: str | None = None
    concentration: str | None = None
    pharmaceutical_form: str | None = None
    presentation: str | None = None
    atc_code: str | None = None
    # Both default, so answers of servers from before synonyms still parse.
    synonyms: list[Synonym] = Field(default_factory=list)
    # In a search answer: the synonym that matched the query; None when the entry's own text did.
    matched_synonym: str | None = None


class ServiceProduct(BaseModel):
    """A lab test, imaging study or procedure of the global catalogue."""

    product_code: str
    product_type: ServiceType
    name: str
    status: Status
    description: str | None = None
    coding_system: str | None = None
    coding_code: str | None = None
    synonyms: list[Synonym] = Field(default_factory=list)
    matched_synonym: str | None = None


CatalogueProduct = Annotated[Medication | ServiceProduct, Field(discriminator="product_type")]


class PageMeta(BaseModel):
    """Where a page sits in the whole list."""

    size: int
    number: int
    total_elements: int
    total_pages: int


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    content: list[T]
    page: PageMeta


class BatchItem(BaseModel):
    """What happened to one code of a batch registration."""

    product_code: str
    outcome: BatchOutcome
    registered_at: datetime | None = None
    error_code: str | None = None


class BatchResult(BaseModel):
    """The outcome of a batch registration, item by item and counted by outcome."""

    results: list[BatchItem]
    counts: dict[str, int]


class LookupItem(BaseModel):
    """Whether one code is in the catalogue (any status) and, when it is, its status, type and name."""

    product_code: str
    found: bool
    status: Status | None = None
    product_type: ProductType | None = None
    name: str | None = None
    error_code: str | None = None


class LookupResult(BaseModel):
    """The answers of a batch lookup, one per code, in the order asked."""

    content: list[LookupItem]


class CatalogueChanges(BaseModel):
    """One page of the catalogue entries changed since a revision (the change feed).

    ``revision`` is the catalogue's revision when the page was read: keep the first page's, and
    next time ask for the changes since it.
    """

    content: list[CatalogueProduct]
    page: PageMeta
    revision: int
    since_revision: int


class HistoryPeriod(BaseModel):
    """A span during which the provider had the product registered; ``removed_at`` is None while it lasts."""

    registered_at: datetime | None
    removed_at: datetime | None = None


class History(BaseModel):
    """Every registration period of one code by the calling provider, oldest first."""

    product_code: str
    periods: list[HistoryPeriod]


class ValidationItem(BaseModel):
    """Whether one code was registered by the calling provider at the moment asked about."""

    product_code: str
    registered: bool
    registered_at: datetime | None = None
    removed_at: datetime | None = None


class ValidationResult(BaseModel):
    """The answers of a validation, one per code, in the order asked; ``at`` is the moment checked."""

    at: datetime | None
    results: list[ValidationItem]


# Downstream records: what is sent (the ``*In`` shapes of the contract) and what is answered.


class Diagnosis(BaseModel):
    """A diagnosis of a prescription (an ICD-10 code such as ``J06.9``)."""

    diagnosis_code: str


class PrescribedMedication(BaseModel):
    """A medication line to prescribe."""

    product_code: str
    quantity: int
    posology: str | None = None
    duration_days: int | None = None


class AuthorizationProduct(BaseModel):
    """A product line of a pre-authorization request."""

    product_code: str
    product_type: ProductType
    quantity: int
    posology: str | None = None
    duration_days: int | None = None


class ClaimLine(BaseModel):
    """A line item of an outpatient-care claim."""

    product_code: str
    product_type: ProductType
    quantity: int


class LineItem(BaseModel):
    """A line of a stored record, with the catalogue name the service resolved."""

    product_code: str
    product_type: ProductType
    name: str
    quantity: int
    posology: str | None = None
    duration_days: int | None = None


class Prescription(BaseModel):
    """A stored prescription."""

    prescription_id: str
    created_at: datetime | None
    patient_id: str
    diagnoses: list[Diagnosis]
    medications: list[LineItem]


class AuthorizationRequest(BaseModel):
    """A stored pre-authorization request."""

    authorization_id: str
    created_at: datetime | None
    status: AuthorizationStatus
    beneficiary_id: str
    sponsor_slug: str
    diagnosis_code: str
    products: list[LineItem]
    completed_at: datetime | None = None


class ClaimCreated(BaseModel):
    """What the service answers when a claim is filed."""

    claim_id: str
    created_at: datetime | None
    status: Literal["OPEN"]


class Claim(BaseModel):
    """A stored outpatient-care claim."""

    claim_id: str
    created_at: datetime | None
    status: Literal["OPEN"]
    beneficiary_id: str
    sponsor_slug: str
    authorization_id: str | None = None
    diagnosis_code: str
    line_items: list[LineItem]


_POLICY_WINDOW = re.compile(r"(?:^|;)\s*w\s*=\s*(\d+)")
_RATELIMIT_FIELD = re.compile(r"(?:^|;)\s*([qrt])\s*=\s*(\d+)")


class RateLimitState(BaseModel):
    """The client's rate-limit budget as the latest response advertised it."""

    limit: int
    remaining: int
    reset_after: int
    window: int | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimitState | None:
        """Parse ``X-RateLimit-*`` (or the IETF ``RateLimit``) and ``RateLimit-Policy`` headers."""
        lowered = {k.lower(): v for k, v in headers.items()}
        policy = lowered.get("ratelimit-policy", "")
        window_match = _POLICY_WINDOW.search(policy)
        window = int(window_match.group(1)) if window_match else None
        limit = _int(lowered.get("x-ratelimit-limit"))
        remaining = _int(lowered.get("x-ratelimit-remaining"))
        reset_after = _int(lowered.get("x-ratelimit-reset"))
        if limit is None or remaining is None or reset_after is None:
            # Servers that only speak the IETF draft give the same numbers as q, r and t.
            fields = dict(
                _RATELIMIT_FIELD.findall(policy) + _RATELIMIT_FIELD.findall(lowered.get("ratelimit", ""))
            )
            limit = limit if limit is not None else _int(fields.get("q"))
            remaining = remaining if remaining is not None else _int(fields.get("r"))
            reset_after = reset_after if reset_after is not None else _int(fields.get("t"))
        if limit is None or remaining is None or reset_after is None:
            return None
        return cls(limit=limit, remaining=remaining, reset_after=reset_after, window=window)


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() else None
