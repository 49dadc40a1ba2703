"""HTTP routes of downstream records: pre-authorizations, prescriptions and outpatient claims."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from provider_products.auth.dependencies import Caller, require_scopes
from provider_products.downstream import service as downstream_service
from provider_products.downstream.schemas import (
    AuthorizationRequestCreate,
    AuthorizationRequestRead,
    ClaimCreate,
    ClaimCreated,
    ClaimRead,
    PrescriptionCreate,
    PrescriptionRead,
)
from provider_products.http.errors import AUTHENTICATED, responses
from provider_products.runtime import database

router = APIRouter(tags=["Downstream records"])

ArcReader = Annotated[Caller, Depends(require_scopes("arc:read"))]
ArcWriter = Annotated[Caller, Depends(require_scopes("arc:write"))]
EhrReader = Annotated[Caller, Depends(require_scopes("ehr:read"))]
EhrWriter = Annotated[Caller, Depends(require_scopes("ehr:write"))]
# Ids are a prefix and hex digits; anything else (a NUL, which PostgreSQL cannot even compare) is a 422.
RecordId = Annotated[str, Path(max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]

FILING_ERRORS = responses(
    400,
    413,
    422,
    *AUTHENTICATED,
    e422="A product is not registered by this provider (071-104, every code listed) "
    "or a field is invalid (071-105)",
)
NOT_FOUND = responses(404, *AUTHENTICATED, e404="No such record of this provider (071-404)")


@router.post(
    "/arc/v1/authorization-requests",
    status_code=201,
    operation_id="createAuthorizationRequest",
    responses=FILING_ERRORS,
)
async def create_authorization_request(
    request: Request, body: AuthorizationRequestCreate, caller: ArcWriter
) -> AuthorizationRequestRead:
    """File a pre-authorization request; every product must be registered by the calling provider."""
    async with database(request).transaction(write=True) as conn:
        return await downstream_service.create_authorization_request(
            conn, provider_id=caller.provider_id, body=body
        )


@router.post(
    "/arc/v1/authorization-requests/{authorization_id}/complete",
    operation_id="completeAuthorizationRequest",
    responses=NOT_FOUND,
)
async def complete_authorization_request(
    request: Request, authorization_id: RecordId, caller: ArcWriter
) -> AuthorizationRequestRead:
    """Mark a pre-authorization request COMPLETED (indications done; sponsors do not adjudicate here)."""
    async with database(request).transaction(write=True) as conn:
        return await downstream_service.complete_authorization_request(
            conn, provider_id=caller.provider_id, public_id=authorization_id
        )


@router.get(
    "/arc/v1/authorization-requests/{authorization_id}",
    operation_id="getAuthorizationRequest",
    responses=NOT_FOUND,
)
async def get_authorization_request(
    request: Request, authorization_id: RecordId, caller: ArcReader
) -> AuthorizationRequestRead:
    """Read one of the calling provider's pre-authorization requests."""
    async with database(request).transaction() as conn:
        return await downstream_service.get_authorization_request(
            conn, provider_id=caller.provider_id, public_id=authorization_id
        )


@router.post(
    "/ehr/v1/prescriptions", status_code=201, operation_id="createPrescription", responses=FILING_ERRORS
)
async def create_prescription(
    request: Request, body: PrescriptionCreate, caller: EhrWriter
) -> PrescriptionRead:
    """File an electronic prescription; every medication must be registered by the calling provider."""
    async with database(request).transaction(write=True) as conn:
        return await downstream_service.create_prescription(conn, provider_id=caller.provider_id, body=body)


@router.get("/ehr/v1/prescriptions/{prescription_id}", operation_id="getPrescription", responses=NOT_FOUND)
async def get_prescription(
    request: Request, prescription_id: RecordId, caller: EhrReader
) -> PrescriptionRead:
    """Read one of the calling provider's prescriptions."""
    async with database(request).transaction() as conn:
        return await downstream_service.get_prescription(
            conn, provider_id=caller.provider_id, public_id=prescription_id
        )


@router.post(
    "/arc/v1/outpatient-care-claim",
    status_code=201,
    operation_id="createOutpatientCareClaim",
    responses=FILING_ERRORS,
)
async def create_outpatient_care_claim(
    request: Request, body: ClaimCreate, caller: ArcWriter
) -> ClaimCreated:
    """File an outpatient care claim; every line item must be registered by the calling provider."""
    async with database(request).transaction(write=True) as conn:
        return await downstream_service.create_claim(conn, provider_id=caller.provider_id, body=body)


@router.get(
    "/arc/v1/outpatient-care-claim/{claim_id}", operation_id="getOutpatientCareClaim", responses=NOT_FOUND
)
async def get_outpatient_care_claim(request: Request, claim_id: RecordId, caller: ArcReader) -> ClaimRead:
    """Read one of the calling provider's claims."""
    async with database(request).transaction() as conn:
        return await downstream_service.get_claim(conn, provider_id=caller.provider_id, public_id=claim_id)
