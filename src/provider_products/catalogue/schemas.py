"""Wire shapes of catalogue entries, and the rules every product code follows."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from provider_products.catalogue import text
from provider_products.errors import ValidationFailed

ProductType = Literal["MEDICATION", "LAB", "IMAGING", "PROCEDURE"]
ServiceType = Literal["LAB", "IMAGING", "PROCEDURE"]
Status = Literal["ACTIVE", "INACTIVE"]
SynonymKind = Literal["brand", "regional", "abbreviation", "former"]
SYNONYM_KINDS: tuple[str, ...] = ("brand", "regional", "abbreviation", "former")
MAX_SYNONYMS = 50
DEFAULT_SYNONYM_KIND = "regional"

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

_COUNTRY = re.compile(r"[A-Z]{2}")
# CSV cells: ``Name``, ``Name [kind]`` or ``Name [kind:CO,MX]``; items separated by ``|``.
_CSV_SYNONYM = re.compile(r"(?P<name>[^\[\]]*?)\s*(?:\[(?P<kind>[^:\]]*)(?::(?P<countries>[^\]]*))?\])?")


def _clean_synonym_name(raw: str) -> str:
    """Trim a synonym's name and check it: 1 to 200 characters, no control characters."""
    name = raw.strip()
    if not 1 <= len(name) <= 200:
        raise ValueError("a synonym name must be 1 to 200 characters")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise ValueError("a synonym name must not contain control characters")
    return name


def _clean_countries(raw: list[str]) -> list[str]:
    """Check ISO 3166-1 alpha-2 codes (upper case); keep their order, drop repeats."""
    for code in raw:
        if not _COUNTRY.fullmatch(code):
            raise ValueError(f"country {code!r} is not an ISO 3166-1 alpha-2 code (two upper-case letters)")
    return list(dict.fromkeys(raw))


class Synonym(BaseModel):
    """Another name of a catalogue entry: a brand, a regional or former name, or an abbreviation."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, AfterValidator(_clean_synonym_name)] = Field(examples=["Dolex"])
    kind: SynonymKind = Field(examples=["brand"])
    countries: Annotated[list[str], AfterValidator(_clean_countries)] = Field(
        default_factory=list,
        examples=[["CO"]],
        description="ISO 3166-1 alpha-2 codes of the markets where the name is used; empty: region-wide",
    )


def parse_csv_synonyms(cell: str) -> list[dict[str, Any]]:
    """Read a CSV ``synonyms`` cell: ``|``-separated items, each ``Name``, ``Name [kind]`` or
    ``Name [kind:CO,MX]``; an item without a kind is ``regional``. Raise ``ValueError`` on a bad item."""
    items: list[dict[str, Any]] = []
    for raw in cell.split("|"):
        if not raw.strip():
            continue
        found = _CSV_SYNONYM.fullmatch(raw.strip())
        if found is None:
            raise ValueError(f"synonym {raw.strip()!r} must be 'Name', 'Name [kind]' or 'Name [kind:CO,MX]'")
        kind = (found["kind"] or "").strip() or DEFAULT_SYNONYM_KIND
        countries = [c.strip() for c in (found["countries"] or "").split(",") if c.strip()]
        items.append({"name": found["name"], "kind": kind, "countries": countries})
    return items


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
    synonyms: list[Synonym] = Field(
        description="Other names of the entry: brands, regional names, abbreviations"
    )
    matched_synonym: str | None = Field(
        default=None,
        examples=["Dolex"],
        description="In a search: the synonym that matched the query; null when the entry's own text did",
    )


class ServiceProductRead(BaseModel):
    """A lab test, imaging study or procedure in the global catalogue."""

    product_code: str = Field(examples=["LAB-HEMO"])
    product_type: ServiceType
    name: str = Field(examples=["Hemograma completo"])
    status: Status
    description: str | None
    coding_system: str | None = Field(examples=["LOINC"])
    coding_code: str | None = Field(examples=["58410-2"])
    synonyms: list[Synonym] = Field(description="Other names of the entry: regional names, abbreviations")
    matched_synonym: str | None = Field(
        default=None,
        examples=["Biometría hemática"],
        description="In a search: the synonym that matched the query; null when the entry's own text did",
    )


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
    synonyms: list[Synonym] = Field(default_factory=list)
    # Answered by searches, never stored: ignored so that an API answer can be imported again.
    matched_synonym: str | None = Field(default=None, exclude=True)

    @field_validator("synonyms", mode="before")
    @classmethod
    def _read_synonyms(cls, value: Any) -> Any:
        """Accept a list of synonym objects or plain names, or a CSV cell; at most ``MAX_SYNONYMS``."""
        if value is None:
            return []
        if isinstance(value, str):
            value = parse_csv_synonyms(value)
        if isinstance(value, list):
            value = [{"name": v, "kind": DEFAULT_SYNONYM_KIND} if isinstance(v, str) else v for v in value]
            if len(value) > MAX_SYNONYMS:
                raise ValueError(f"at most {MAX_SYNONYMS} synonyms per entry")
        return value

    @field_validator("synonyms")
    @classmethod
    def _distinct_synonyms(cls, value: list[Synonym]) -> list[Synonym]:
        """Refuse the same synonym twice in one entry (ignoring case and accents)."""
        seen: set[str] = set()
        for synonym in value:
            key = text.name_key(synonym.name)
            if not key:
                raise ValueError(f"synonym {synonym.name!r} has no letters or digits")
            if key in seen:
                raise ValueError(f"synonym {synonym.name!r} is listed twice")
            seen.add(key)
        return value


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
