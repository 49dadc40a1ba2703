"""Catálogo / Catalogue: search the global catalogue as you type, and register from a row.

The search is the API's (``catalogue.service.list_products`` on the shared search index): accent-
insensitive and synonym-aware. ``?partial=1`` answers the results alone, for the page's script.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from provider_products.catalogue import service as catalogue_service
from provider_products.errors import ProductAlreadyRegistered, ProductNotInCatalogue, ValidationFailed
from provider_products.pagination import PageParams
from provider_products.portal import web
from provider_products.registry import service as registry_service
from provider_products.runtime import runtime

router = APIRouter()
PAGE_SIZE = 20
TypeFilter = Literal["", "MEDICATION", "LAB", "IMAGING", "PROCEDURE"]


@router.get("/catalogue", include_in_schema=False)
async def catalogue(
    request: Request,
    user: web.CurrentUser,
    query: Annotated[str, Query(max_length=200)] = "",
    type: Annotated[TypeFilter, Query()] = "",
    page: Annotated[int, Query(ge=0, le=10_000)] = 0,
    partial: Annotated[bool, Query()] = False,
    done: Annotated[str | None, Query(max_length=40)] = None,
    code: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    """Search the catalogue; each row says whether the provider has it registered."""
    snapshot = await runtime(request).search_index.current()
    error = None
    try:
        async with web.transaction(request) as conn:
            found = await catalogue_service.list_products(
                conn,
                snapshot,
                product_type=type or None,
                query=query or None,
                params=PageParams(page=page, size=PAGE_SIZE),
            )
            codes = [p.product_code for p in found.content]
            held = (
                await registry_service.validate(conn, provider_id=user.provider_id, codes=codes, at=None)
                if codes
                else None
            )
    except ValidationFailed:
        found, held, error = None, None, "bad_query"
    registered = {r.product_code for r in held.results if r.registered} if held else set()
    context = {
        "query": query,
        "type": type,
        "found": found,
        "registered": registered,
        "error": error,
        "done": done,
        "code": code,
        "back": urlencode({"query": query, "type": type, "page": page}),
        "page_url": lambda n: (
            f"{web.PREFIX}/catalogue?" + urlencode({"query": query, "type": type, "page": n})
        ),
    }
    return web.render(request, "catalogue_results.html" if partial else "catalogue.html", context)


@router.post("/catalogue/register", include_in_schema=False)
async def register(
    request: Request,
    user: web.CurrentUser,
    _: web.CsrfChecked,
    product_code: Annotated[str, Form(max_length=64)],
    back: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    """Register a catalogue product for the provider, then go back to the search."""
    try:
        async with web.transaction(request, write=True) as conn:
            done = await registry_service.register(conn, provider_id=user.provider_id, code=product_code)
        outcome, code = "registered", done.product_code
    except ProductAlreadyRegistered:
        outcome, code = "already_registered", product_code.strip()
    except (ProductNotInCatalogue, ValidationFailed):
        outcome, code = "not_in_catalogue", product_code.strip()
    return web.redirect(f"{web.PREFIX}/catalogue?{back}&" + urlencode({"done": outcome, "code": code}))
