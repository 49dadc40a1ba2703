"""Wire shapes of catalogue entries, and the rules every product code follows."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from provider_products.errors import ValidationFailed

ProductType = Literal["MEDICATION", "LAB", "IMAGING", "PROCEDURE"]
ServiceType = Literal["LAB", "IMAGING", "PROCEDURE"]
Status = Literal["ACTIVE", "INACTIVE"]

CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
CODE_RULE = "1 to 64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit"


def clean_code(raw: str) -> str:
    """Trim a product code and check its form; raise ``ValueError`` when it is ill-formed."""
    code = raw.strip()
    if not CODE_PATTERN.fullmatch(code):
        raise ValueError(f"product_code must be {CODE_RULE}")
    return code


def code_key(raw: str, *, field: str = "product_code") -> str:
    """Return the case-insensitive lookup key of a code, or raise the contract's 422."""
    try:
        return clean_code(raw).upper()
    except ValueError as exc:
        raise ValidationFailed([{"field": field, "message": str(exc)}]) from None


# What the OpenAPI document says of every code, in a path or a body (surrounding white space is
# trimmed before the check, so the server enforces this on the trimmed code).
CODE_SCHEMA: dict[str, Any] = {
    "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$",
    "minLength": 1,
    "maxLength": 64,
    "examples": ["MED-042"],
}
# The search query refuses control characters (Unicode category Cc) with 422.
QUERY_SCHEMA: dict[str, Any] = {"pattern": "^[^\\x00-\\x1F\\x7F-\\x9F]*$"}
CODE_DESCRIPTION = f"A catalogue product code, case-insensitive: {CODE_RULE}"

ProductCode = Annotated[
    str, AfterValidator(clean_code), Field(description=CODE_DESCRIPTION, json_schema_extra=CODE_SCHEMA)
]


class MedicationRead(BaseModel):
    """A medication in the global catalogue."""

    product_code: str = Field(examples=["MED-042"])
    product_type: Literal["MEDICATION"]
    name: str = Field(examples=["Paracetamol 500 mg Tableta"])
    status: Status
    active_ingredient: str | None
    concentration: str | None
    pharmaceutical_form: str | None
    presentation: str | None
    atc_code: str | None


class ServiceProductRead(BaseModel):
    """A lab test, imaging study or procedure in the global catalogue."""

    product_code: str = Field(examples=["LAB-HEMO"])
    product_type: ServiceType
    name: str = Field(examples=["Hemograma completo"])
    status: Status
    description: str | None
    coding_system: str | None = Field(examples=["LOINC"])
    coding_code: str | None = Field(examples=["58410-2"])


CatalogueProductRead = Annotated[
    MedicationRead | ServiceProductRead,
    Field(discriminator="product_type", title="CatalogueProductRead"),
]


class CatalogueEntryIn(BaseModel):
    """One row of a catalogue import file."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    product_code: ProductCode
    product_type: ProductType
    name: str = Field(min_length=1, max_length=300)
    status: Status = "ACTIVE"
    active_ingredient: str | None = Field(default=None, max_length=300)
    concentration: str | None = Field(default=None, max_length=100)
    pharmaceutical_form: str | None = Field(default=None, max_length=100)
    presentation: str | None = Field(default=None, max_length=200)
    atc_code: str | None = Field(default=None, max_length=16)
    description: str | None = Field(default=None, max_length=2000)
    coding_system: str | None = Field(default=None, max_length=16)
    coding_code: str | None = Field(default=None, max_length=32)


LOOKUP_LIMIT = 500


class LookupCreate(BaseModel):
    """Look up to 500 codes in the catalogue in one request (an extension of the public API)."""

    product_codes: list[str] = Field(
        min_length=1, max_length=LOOKUP_LIMIT, examples=[["MED-042", "LAB-HEMO"]]
    )


class LookupItem(BaseModel):
    """Whether one code is in the catalogue and, when it is, its status, type and name."""

    product_code: str = Field(examples=["MED-042"])
    found: bool
    status: Status | None = None
    product_type: ProductType | None = None
    name: str | None = None
    error_code: str | None = Field(default=None, description="071-105 for an ill-formed code")


class LookupRead(BaseModel):
    """One answer per code, in the order given."""

    content: list[LookupItem]
