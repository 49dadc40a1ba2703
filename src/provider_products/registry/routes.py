"""HTTP routes of the caller's provider products."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from provider_products.auth.dependencies import Caller, require_scopes
from provider_products.catalogue.schemas import CODE_DESCRIPTION, CODE_SCHEMA, QUERY_SCHEMA, ProductType
from provider_products.http.errors import AUTHENTICATED, responses
from provider_products.http.pagination import link_header, page_params
from provider_products.observability import REGISTRY_CHANGES
from provider_products.pagination import Page, PageParams
from provider_products.registry import service as registry_service
from provider_products.registry.schemas import (
    BatchCreate,
    BatchRead,
    HistoryRead,
    ProviderProductRead,
    RegistrationCreate,
    RegistrationRead,
    ValidateCreate,
    ValidateRead,
)
from provider_products.runtime import database

router = APIRouter(prefix="/arc/v1/providers/products", tags=["Provider products"])

Reader = Annotated[Caller, Depends(require_scopes("arc:read"))]
Writer = Annotated[Caller, Depends(require_scopes("arc:write"))]
CodeParam = Annotated[str, Path(description=CODE_DESCRIPTION, json_schema_extra=CODE_SCHEMA)]


@router.post(
    "",
    status_code=201,
    operation_id="registerProviderProduct",
    responses=responses(
        400,
        404,
        409,
        413,
        422,
        *AUTHENTICATED,
        e404="Not in the global catalogue, or withdrawn (071-101)",
        e409="Already registered by this provider (071-102)",
    ),
)
async def register_product(
    request: Request, response: Response, body: RegistrationCreate, caller: Writer
) -> RegistrationRead:
    """Register a global-catalogue product for the calling provider."""
    async with database(request).transaction(write=True) as conn:
        registration = await registry_service.register(
            conn, provider_id=caller.provider_id, code=body.product_code
        )
    response.headers["Location"] = f"/arc/v1/providers/products/{registration.product_code}"
    REGISTRY_CHANGES.labels("registered").inc()
    return registration


@router.post(
    "/batch",
    operation_id="registerProviderProductsBatch",
    responses=responses(400, 413, 422, *AUTHENTICATED, e422="Not 1 to 500 codes (071-105)"),
)
async def register_products_batch(request: Request, body: BatchCreate, caller: Writer) -> BatchRead:
    """Register up to 500 codes in one request (extension): one result per code, in order.

    Each code is `registered`, `already_registered` (071-102), `not_in_catalogue` (071-101) or
    `invalid` (071-105); the request counts once against the rate limit.
    """
    async with database(request).transaction(write=True) as conn:
        result = await registry_service.register_batch(
            conn, provider_id=caller.provider_id, codes=body.product_codes
        )
    REGISTRY_CHANGES.labels("registered").inc(result.counts["registered"])
    return result


@router.post(
    "/validate",
    operation_id="validateProviderProducts",
    responses=responses(400, 413, 422, *AUTHENTICATED),
)
async def validate_provider_products(request: Request, body: ValidateCreate, caller: Reader) -> ValidateRead:
    """Say for each code whether the calling provider had it registered at `at` (default now) (extension).

    For services that file records elsewhere: a code is registered at a moment when one of its
    registration periods began at or before it and had not ended by then.
    """
    async with database(request).transaction() as conn:
        return await registry_service.validate(
            conn, provider_id=caller.provider_id, codes=body.product_codes, at=body.at
        )


@router.get(
    "/{product_code}/history",
    operation_id="listProviderProductHistory",
    responses=responses(404, 422, *AUTHENTICATED, e404="Never registered by this provider (071-103)"),
)
async def list_provider_product_history(
    request: Request, product_code: CodeParam, caller: Reader
) -> HistoryRead:
    """List the registration periods of a code for the calling provider, oldest first (extension)."""
    async with database(request).transaction() as conn:
        return await registry_service.history(conn, provider_id=caller.provider_id, code=product_code)


@router.get(
    "",
    operation_id="listProviderProducts",
    response_model=Page[ProviderProductRead],
    responses=responses(422, *AUTHENTICATED),
)
async def list_provider_products(
    request: Request,
    response: Response,
    caller: Reader,
    params: Annotated[PageParams, Depends(page_params)],
    product_type: Annotated[ProductType | None, Query(description="Only products of this type")] = None,
    query: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Words that must all match code, name or ingredient (word prefixes); "
            "no control characters",
            json_schema_extra=QUERY_SCHEMA,
        ),
    ] = None,
) -> Page[ProviderProductRead]:
    """List the calling provider's registered products, ordered by code (by relevance with ``query``)."""
    async with database(request).transaction() as conn:
        page = await registry_service.list_registrations(
            conn, provider_id=caller.provider_id, product_type=product_type, query=query, params=params
        )
    response.headers["Link"] = link_header(request, page.page) or ""
    return page


@router.get(
    "/{product_code}",
    operation_id="getProviderProduct",
    responses=responses(404, 422, *AUTHENTICATED, e404="Not registered by this provider (071-103)"),
)
async def get_provider_product(
    request: Request, product_code: CodeParam, caller: Reader
) -> ProviderProductRead:
    """Read one of the calling provider's registrations."""
    async with database(request).transaction() as conn:
        return await registry_service.get(conn, provider_id=caller.provider_id, code=product_code)


@router.delete(
    "/{product_code}",
    status_code=204,
    operation_id="deleteProviderProduct",
    response_class=Response,
    responses=responses(404, 422, *AUTHENTICATED, e404="Not registered by this provider (071-103)"),
)
async def delete_provider_product(request: Request, product_code: CodeParam, caller: Writer) -> Response:
    """Remove a registration: its period is closed, never erased, and records citing it stay valid."""
    async with database(request).transaction(write=True) as conn:
        await registry_service.remove(conn, provider_id=caller.provider_id, code=product_code)
    REGISTRY_CHANGES.labels("removed").inc()
    return Response(status_code=204)
