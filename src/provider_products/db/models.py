"""Every table, imported in one place so that the metadata Alembic compares is complete."""

from provider_products.auth.models import OAuthClient, Provider
from provider_products.catalogue.models import (
    CatalogueIndexChunk,
    CatalogueIndexSnapshot,
    CatalogueProduct,
    CatalogueRevision,
)
from provider_products.db.base import Base
from provider_products.downstream.models import DownstreamRecord, DownstreamRecordLine
from provider_products.idempotency.models import IdempotencyKey
from provider_products.portal.models import PortalSession, PortalUser
from provider_products.portal.onboarding.models import OnboardingJob, OnboardingRow
from provider_products.registry.models import ProviderProduct, ProviderProductCount

__all__ = [
    "Base",
    "CatalogueIndexChunk",
    "CatalogueIndexSnapshot",
    "CatalogueProduct",
    "CatalogueRevision",
    "DownstreamRecord",
    "DownstreamRecordLine",
    "IdempotencyKey",
    "OAuthClient",
    "OnboardingJob",
    "OnboardingRow",
    "PortalSession",
    "PortalUser",
    "Provider",
    "ProviderProduct",
    "ProviderProductCount",
]
