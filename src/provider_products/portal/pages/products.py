"""Mis productos / My products: the provider's registrations, their history, removal with confirmation."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from provider_products.errors import ProductNotRegistered, ValidationFailed
from provider_products.pagination import PageParams
from provider_products.portal import web
from provider_products.registry import service as registry_service

router = APIRouter()
PAGE_SIZE = 20
TypeFilter = Literal["", "MEDICATION", "LAB", "IMAGING", "PROCEDURE"]
Code = Annotated[str, Path(max_length=64)]


@router.get("/products", include_in_schema=False)
async def products(
    request: Request,
    user: web.CurrentUser,
    query: Annotated[str, Query(max_length=200)] = "",
    type: Annotated[TypeFilter, Query()] = "",
    page: Annotated[int, Query(ge=0, le=100_000)] = 0,
    removed: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    """List the provider's active registrations, filtered by type and searched, a page at a time."""
    error = None
    found = None
    try:
        async with web.transaction(request) as conn:
            found = await registry_service.list_registrations(
                conn,
                provider_id=user.provider_id,
                product_type=type or None,
                query=query or None,
                params=PageParams(page=page, size=PAGE_SIZE),
            )
    except ValidationFailed:
        error = "bad_query"
    context = {
        "query": query,
        "type": type,
        "found": found,
        "error": error,
        "removed": removed,
        "page_url": lambda n: (
            f"{web.PREFIX}/products?" + urlencode({"query": query, "type": type, "page": n})
        ),
        "quote": lambda c: quote(c, safe=""),
    }
    return web.render(request, "products.html", context)


async def _history(request: Request, user: web.PortalUser, code: str) -> Response | dict[str, object]:
    try:
        async with web.transaction(request) as conn:
            history = await registry_service.history(conn, provider_id=user.provider_id, code=code)
    except (ProductNotRegistered, ValidationFailed):
        return web.render(request, "error.html", {"status": 404, "reason": "not_registered"}, status_code=404)
    active = bool(history.periods) and history.periods[-1].removed_at is None
    return {"history": history, "active": active, "code_path": quote(history.product_code, safe="")}


@router.get("/products/{code}", include_in_schema=False)
async def product(request: Request, user: web.CurrentUser, code: Code) -> Response:
    """Show every registration period of one of the provider's codes."""
    found = await _history(request, user, code)
    if isinstance(found, Response):
        return found
    return web.render(request, "product.html", found)


@router.get("/products/{code}/remove", include_in_schema=False)
async def confirm_remove(request: Request, user: web.CurrentUser, code: Code) -> Response:
    """Ask for confirmation before removing a registration."""
    found = await _history(request, user, code)
    if isinstance(found, Response):
        return found
    if not found["active"]:
        return web.redirect(f"{web.PREFIX}/products/{found['code_path']}")
    return web.render(request, "remove.html", found)


@router.post("/products/{code}/remove", include_in_schema=False)
async def remove(request: Request, user: web.CurrentUser, _: web.CsrfChecked, code: Code) -> Response:
    """Remove a registration (its period is closed, never erased) and show the history."""
    try:
        async with web.transaction(request, write=True) as conn:
            await registry_service.remove(conn, provider_id=user.provider_id, code=code)
    except (ProductNotRegistered, ValidationFailed):
        return web.render(request, "error.html", {"status": 404, "reason": "not_registered"}, status_code=404)
    return web.redirect(f"{web.PREFIX}/products/{quote(code.strip(), safe='')}?removed=1")
