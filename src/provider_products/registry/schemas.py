"""Wire shapes of provider-product registrations."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from provider_products.catalogue.schemas import ProductCode, ProductType


def whole_seconds(value: datetime) -> datetime:
    """Drop sub-second precision: the contract shows whole seconds."""
    return value.replace(microsecond=0)


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
        return whole_seconds(value).strftime("%Y-%m-%dT%H:%M:%SZ")


class ProviderProductRead(RegistrationRead):
    """A registered product as listed and read back."""

    product_type: ProductType
    name: str = Field(examples=["Paracetamol 500 mg Tableta"])
