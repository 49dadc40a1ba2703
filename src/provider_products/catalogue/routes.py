"""HTTP routes of the global catalogues."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from provider_products.auth.dependencies import Caller, require_scopes
from provider_products.catalogue import service as catalogue_service
from provider_products.catalogue.schemas import (
    CODE_DESCRIPTION,
    CODE_SCHEMA,
    QUERY_SCHEMA,
    CatalogueProductRead,
    LookupCreate,
    LookupRead,
    MedicationRead,
    ProductType,
)
from provider_products.http.errors import AUTHENTICATED, responses
from provider_products.http.pagination import link_header, page_params
from provider_products.pagination import Page, PageParams
from provider_products.runtime import database, runtime

router = APIRouter(tags=["Catalogues"])

AnyCaller = Annotated[Caller, Depends(require_scopes())]
QueryParam = Annotated[
    str | None,
    Query(
        max_length=200,
        description="Words that must all match (each as a word prefix) the code, name and active "
        "ingredient, or one synonym plus those, ignoring case and accents.",
        examples=["paracetamol"],
        json_schema_extra=QUERY_SCHEMA,
    ),
]
CodeParam = Annotated[str, Path(description=CODE_DESCRIPTION, json_schema_extra=CODE_SCHEMA)]


@router.get(
    "/medical-catalogs/v1/medications",
    operation_id="listMedications",
    response_model=Page[MedicationRead],
    responses=responses(422, *AUTHENTICATED),
)
async def list_medications(
    request: Request,
    response: Response,
    _: AnyCaller,
    params: Annotated[PageParams, Depends(page_params)],
    query: QueryParam = None,
) -> Page[CatalogueProductRead]:
    """List the global medication catalogue, searched by ``query`` and paginated."""
    # The snapshot first: a search must never wait for the index while holding a connection.
    snapshot = await runtime(request).search_index.current()
    async with database(request).transaction() as conn:
        page = await catalogue_service.list_products(
            conn, snapshot, product_type="MEDICATION", query=query, params=params
        )
    response.headers["Link"] = link_header(request, page.page) or ""
    return page


@router.get(
    "/medical-catalogs/v1/medications/{product_code}",
    operation_id="getMedication",
    response_model=MedicationRead,
    responses=responses(404, 422, *AUTHENTICATED, e404="Not a medication in the catalogue (071-101)"),
)
async def get_medication(request: Request, product_code: CodeParam, _: AnyCaller) -> CatalogueProductRead:
    """Read one medication of the global catalogue."""
    async with database(request).transaction() as conn:
        return await catalogue_service.get_product(conn, code=product_code, product_type="MEDICATION")


@router.get(
    "/arc/v1/products",
    operation_id="listProducts",
    response_model=Page[CatalogueProductRead],
    responses=responses(422, *AUTHENTICATED),
)
async def list_products(
    request: Request,
    response: Response,
    _: AnyCaller,
    params: Annotated[PageParams, Depends(page_params)],
    product_type: Annotated[ProductType | None, Query(description="Only products of this type")] = None,
    query: QueryParam = None,
) -> Page[CatalogueProductRead]:
    """List the global catalogue of every product type, filtered by ``product_type`` and ``query``."""
    snapshot = await runtime(request).search_index.current()
    async with database(request).transaction() as conn:
        page = await catalogue_service.list_products(
            conn, snapshot, product_type=product_type, query=query, params=params
        )
    response.headers["Link"] = link_header(request, page.page) or ""
    return page


@router.post(
    "/arc/v1/products/lookup",
    operation_id="lookupProducts",
    response_model=LookupRead,
    responses=responses(400, 413, 422, *AUTHENTICATED, e422="Not 1 to 500 codes (071-105)"),
)
async def lookup_products(request: Request, body: LookupCreate, _: AnyCaller) -> LookupRead:
    """Look up to 500 codes in the global catalogue in one request (extension): one answer per code, in order.

    Each answer says whether the code is `found` and, when it is, its `status`, `product_type`
    and `name` (INACTIVE entries are found but cannot be registered); an ill-formed code is not
    found and carries `error_code` 071-105. The request counts once against the rate limit.
    """
    async with database(request).transaction() as conn:
        return await catalogue_service.lookup(conn, codes=body.product_codes)


@router.get(
    "/arc/v1/products/{product_code}",
    operation_id="getProduct",
    response_model=CatalogueProductRead,
    responses=responses(404, 422, *AUTHENTICATED, e404="Not in the catalogue (071-101)"),
)
async def get_product(request: Request, product_code: CodeParam, _: AnyCaller) -> CatalogueProductRead:
    """Read one product of the global catalogue, whatever its type."""
    async with database(request).transaction() as conn:
        return await catalogue_service.get_product(conn, code=product_code)
