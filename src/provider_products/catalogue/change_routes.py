"""HTTP route of the catalogue's change feed (included before ``/arc/v1/products/{product_code}``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from provider_products.auth.dependencies import Caller, require_scopes
from provider_products.catalogue import changes
from provider_products.catalogue.changes import CatalogueChangesRead
from provider_products.http.errors import AUTHENTICATED, responses
from provider_products.http.pagination import link_header, page_params
from provider_products.pagination import PageParams
from provider_products.runtime import database

router = APIRouter(tags=["Catalogues"])

MAX_REVISION = 2**62


@router.get(
    "/arc/v1/products/changes",
    operation_id="listProductChanges",
    response_model=CatalogueChangesRead,
    responses=responses(
        422, *AUTHENTICATED, e422="Ill-formed parameter, or `since_revision` ahead of the catalogue (071-105)"
    ),
)
async def list_product_changes(
    request: Request,
    response: Response,
    _: Annotated[Caller, Depends(require_scopes())],
    since_revision: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_REVISION,
            description="List the entries changed after this catalogue revision (0: every entry)",
            examples=[0],
        ),
    ],
    params: Annotated[PageParams, Depends(page_params)],
) -> CatalogueChangesRead:
    """List the catalogue entries created, changed or withdrawn after a revision (extension), paginated.

    Every import that changes the catalogue raises its `revision` by one; an entry appears here,
    in its current state (`status` INACTIVE when withdrawn), when its last change came after
    `since_revision`. The most recent changes come first. To keep a local copy: read every page
    from 0 (until there is no `next` link), keep the first page's `revision`, and next time ask
    for the changes since it. An import during the walk can make an entry appear twice, never
    skip one. A `since_revision` above the catalogue's revision (say, after a restore) is 422:
    read from 0 again.
    """
    async with database(request).transaction() as conn:
        page = await changes.changes_since(conn, since_revision=since_revision, params=params)
    response.headers["Link"] = link_header(request, page.page) or ""
    return page
