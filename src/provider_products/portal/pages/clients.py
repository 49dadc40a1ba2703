"""Clientes API / API clients (admins): the provider's own OAuth clients for its ETL jobs.

Creation and rotation show the secret once, on the page that answers the POST (never stored, and
the page is not cached). Every action first checks that the client belongs to the user's provider.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from provider_products.auth import security
from provider_products.auth import service as auth_service
from provider_products.portal import web

router = APIRouter()


async def _page(request: Request, user: web.PortalUser, **context: object) -> HTMLResponse:
    async with web.transaction(request) as conn:
        clients = await auth_service.list_clients(conn, provider_slug=user.provider_slug)
    return web.render(
        request,
        "clients.html",
        {"clients": clients, "all_scopes": security.ALL_SCOPES, "new": None, "error": None, **context},
    )


@router.get("/clients", include_in_schema=False)
async def clients(request: Request, user: web.AdminUser) -> HTMLResponse:
    """List the provider's OAuth clients (never their secrets)."""
    return await _page(request, user)


@router.post("/clients", include_in_schema=False)
async def create_client(request: Request, user: web.AdminUser, form: web.CsrfChecked) -> HTMLResponse:
    """Create an OAuth client of the provider with the chosen scopes; its secret is shown once."""
    scopes = [s for s in form.getlist("scopes") if isinstance(s, str)]
    try:
        async with web.transaction(request, write=True) as conn:
            new = await auth_service.create_client(conn, provider_slug=user.provider_slug, scopes=scopes)
    except auth_service.InvalidScopes:
        return await _page(request, user, error="scopes")
    return await _page(request, user, new=new)


async def _own_client(request: Request, user: web.PortalUser, client_id: str) -> bool:
    async with web.transaction(request) as conn:
        found = await auth_service.find_client(conn, client_id=client_id)
    return found is not None and found.provider_id == user.provider_id


@router.post("/clients/rotate", include_in_schema=False)
async def rotate_client(
    request: Request, user: web.AdminUser, _: web.CsrfChecked, client_id: Annotated[str, Form(max_length=64)]
) -> Response:
    """Give one of the provider's clients a new secret (shown once); tokens issued before stop working."""
    if not await _own_client(request, user, client_id):
        return web.render(request, "error.html", {"status": 404, "reason": "no_client"}, status_code=404)
    async with web.transaction(request, write=True) as conn:
        new = await auth_service.rotate_secret(conn, client_id=client_id)
    return await _page(request, user, new=new)


@router.post("/clients/active", include_in_schema=False)
async def set_client_active(
    request: Request,
    user: web.AdminUser,
    _: web.CsrfChecked,
    client_id: Annotated[str, Form(max_length=64)],
    active: Annotated[bool, Form()],
) -> Response:
    """Disable (or enable again) one of the provider's clients."""
    if not await _own_client(request, user, client_id):
        return web.render(request, "error.html", {"status": 404, "reason": "no_client"}, status_code=404)
    async with web.transaction(request, write=True) as conn:
        await auth_service.set_active(conn, client_id=client_id, active=active)
    return web.redirect(f"{web.PREFIX}/clients")
