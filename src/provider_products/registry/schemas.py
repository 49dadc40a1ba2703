"""Wire shapes of provider-product registrations."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_serializer

from provider_products.catalogue.schemas import ProductCode, ProductType


def unicode_text(value: str) -> str:
    """Refuse text that UTF-8 cannot encode: a JSON escape like ``"\\ud800"`` is a lone surrogate.

    Such a string can be neither stored nor answered, so it is refused before anything is
    written (422 ``071-105``) rather than failing later, half done.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be Unicode text (no lone surrogate escapes such as \\ud800)") from None
    return value


def storable_text(value: str) -> str:
    """Refuse what ``unicode_text`` refuses, and NUL, which PostgreSQL text cannot hold."""
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000)")
    return unicode_text(value)


UnicodeText = Annotated[str, AfterValidator(unicode_text)]
"""A string of any content, as long as it is Unicode text (no lone surrogate)."""
StoredText = Annotated[str, AfterValidator(storable_text)]
"""A string of any content that is stored as given: Unicode text without NUL."""


def whole_seconds(value: datetime) -> datetime:
    """Drop sub-second precision: the contract shows whole seconds."""
    return value.replace(microsecond=0)


def stamp(value: datetime) -> str:
    """Render a UTC moment as the contract does: RFC 3339, whole seconds, a four-digit year, ``Z``."""
    # %-formatting of the fields: under half the cost of strftime, which every listed row paid.
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (  # noqa: UP031
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
    )


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})", re.ASCII)


def rfc3339_string(value: Any) -> Any:
    """Refuse anything but an RFC 3339 date-time string with an offset (no Unix times, no naive times)."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 date-time string with an offset, e.g. 2026-06-25T18:00:00Z")
    return value


def _in_utc(value: datetime) -> datetime:
    """Refuse a moment that has no UTC form (year 1 with a positive offset, say), or give it in UTC."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must be a moment between years 1 and 9999 in UTC") from None


Moment = Annotated[datetime, BeforeValidator(rfc3339_string), AfterValidator(_in_utc)]


class RegistrationCreate(BaseModel):
    """Register a catalogue product for the calling provider; unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    product_code: ProductCode = Field(examples=["MED-042"])


class RegistrationRead(BaseModel):
    """A registration as answered by POST."""

    product_code: str = Field(examples=["MED-042"])
    registered_at: datetime = Field(examples=["2026-06-25T18:00:00Z"])

    @field_serializer("registered_at")
    def _seconds(self, value: datetime) -> str:
        return stamp(value)


class ProviderProductRead(RegistrationRead):
    """A registered product as listed and read back."""

    product_type: ProductType
    name: str = Field(examples=["Paracetamol 500 mg Tableta"])


BATCH_LIMIT = 500
Outcome = Literal["registered", "already_registered", "not_in_catalogue", "invalid"]


class BatchCreate(BaseModel):
    """Register up to 500 codes in one request (an extension of the public API)."""

    product_codes: list[UnicodeText] = Field(
        min_length=1, max_length=BATCH_LIMIT, examples=[["MED-042", "LAB-HEMO"]]
    )


class BatchItem(BaseModel):
    """What became of one code of a batch."""

    product_code: str
    outcome: Outcome
    registered_at: datetime | None = None
    error_code: str | None = None

    @field_serializer("registered_at")
    def _seconds(self, value: datetime | None) -> str | None:
        return None if value is None else stamp(value)


class BatchRead(BaseModel):
    """One result per code, in the order given, and how many of each outcome."""

    results: list[BatchItem]
    counts: dict[Outcome, int]


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else stamp(value)


class PeriodRead(BaseModel):
    """One registration period; ``removed_at`` is null while it lasts."""

    registered_at: datetime
    removed_at: datetime | None

    @field_serializer("registered_at", "removed_at")
    def _seconds(self, value: datetime | None) -> str | None:
        return _stamp(value)


class HistoryRead(BaseModel):
    """Every registration period of a product for the calling provider, oldest first."""

    product_code: str
    periods: list[PeriodRead]


class ValidateCreate(BaseModel):
    """Ask whether codes were registered at a moment (now when ``at`` is omitted)."""

    product_codes: list[UnicodeText] = Field(min_length=1, max_length=BATCH_LIMIT, examples=[["MED-042"]])
    at: Moment | None = Field(
        default=None,
        description="An RFC 3339 date-time string with an offset (default: now)",
        examples=["2026-06-25T18:00:00Z"],
    )


class ValidationItem(BaseModel):
    """Whether one code was registered at the moment asked about, and the period that covers it."""

    product_code: str
    registered: bool
    registered_at: datetime | None = None
    removed_at: datetime | None = None

    @field_serializer("registered_at", "removed_at")
    def _seconds(self, value: datetime | None) -> str | None:
        return _stamp(value)


class ValidateRead(BaseModel):
    """One answer per code, in the order given."""

    at: datetime
    results: list[ValidationItem]

    @field_serializer("at")
    def _seconds(self, value: datetime) -> str | None:
        return _stamp(value)
