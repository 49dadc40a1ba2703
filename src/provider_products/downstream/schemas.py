"""Wire shapes of pre-authorization requests, prescriptions and outpatient claims."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from provider_products.catalogue.schemas import ProductCode, ProductType
from provider_products.registry.schemas import StoredText

Identifier = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
DiagnosisCode = Field(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9][A-Za-z0-9.]*$", examples=["J06.9"])
Quantity = Field(ge=1, le=100_000)
MAX_LINES = 100


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else f"{value.year:04d}-{value:%m-%dT%H:%M:%S}Z"


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class AuthorizationProductIn(_In):
    """A product asked for in a pre-authorization."""

    product_code: ProductCode
    product_type: ProductType
    quantity: int = Quantity
    posology: StoredText | None = Field(default=None, max_length=500)


class AuthorizationRequestCreate(_In):
    """File a pre-authorization request."""

    beneficiary_id: str = Identifier
    sponsor_slug: str = Identifier
    diagnosis_code: str = DiagnosisCode
    products: list[AuthorizationProductIn] = Field(min_length=1, max_length=MAX_LINES)


class DiagnosisIn(_In):
    """A diagnosis of a prescription."""

    diagnosis_code: str = DiagnosisCode


class PrescribedMedicationIn(_In):
    """A medication of a prescription (MEDICATION products only)."""

    product_code: ProductCode
    quantity: int = Quantity
    posology: StoredText | None = Field(default=None, max_length=500)
    duration_days: int | None = Field(default=None, ge=1, le=3650)


class PrescriptionCreate(_In):
    """File an electronic prescription."""

    patient_id: str = Identifier
    diagnoses: list[DiagnosisIn] = Field(min_length=1, max_length=20)
    medications: list[PrescribedMedicationIn] = Field(min_length=1, max_length=MAX_LINES)


class ClaimLineIn(_In):
    """A line item of an outpatient claim."""

    product_code: ProductCode
    product_type: ProductType
    quantity: int = Quantity


class ClaimCreate(_In):
    """File an outpatient care claim."""

    beneficiary_id: str = Identifier
    sponsor_slug: str = Identifier
    authorization_id: StoredText | None = Field(default=None, max_length=40)
    diagnosis_code: str = DiagnosisCode
    line_items: list[ClaimLineIn] = Field(min_length=1, max_length=MAX_LINES)


class LineRead(BaseModel):
    """A product line as filed: the product's code, type and name at filing time."""

    product_code: str
    product_type: ProductType
    name: str
    quantity: int
    posology: str | None = None
    duration_days: int | None = None


class _Timestamps(BaseModel):
    created_at: datetime

    @field_serializer("created_at")
    def _created(self, value: datetime) -> str | None:
        return _stamp(value)


class AuthorizationRequestRead(_Timestamps):
    """A pre-authorization request."""

    authorization_id: str = Field(examples=["areq_5f1c0e2a9b7d4c31"])
    status: Literal["PENDING_INDICATION", "COMPLETED"]
    beneficiary_id: str
    sponsor_slug: str
    diagnosis_code: str
    products: list[LineRead]
    completed_at: datetime | None = None

    @field_serializer("completed_at")
    def _completed(self, value: datetime | None) -> str | None:
        return _stamp(value)


class PrescriptionRead(_Timestamps):
    """An electronic prescription."""

    prescription_id: str = Field(examples=["rx_0b6d2c9e4f1a8a77"])
    patient_id: str
    diagnoses: list[DiagnosisIn]
    medications: list[LineRead]


class ClaimCreated(_Timestamps):
    """The answer to a filed claim."""

    claim_id: str = Field(examples=["clm_9a3e51c07d2b6f10"])
    status: Literal["OPEN"]


class ClaimRead(ClaimCreated):
    """An outpatient care claim."""

    beneficiary_id: str
    sponsor_slug: str
    authorization_id: str | None
    diagnosis_code: str
    line_items: list[LineRead]
