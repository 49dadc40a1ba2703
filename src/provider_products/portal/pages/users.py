"""Usuarios / Users (admins): the provider's portal users; a new user's password is shown once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from provider_products.portal import service as portal_service
from provider_products.portal import web

router = APIRouter()


async def _page(request: Request, user: web.PortalUser, **context: object) -> HTMLResponse:
    async with web.transaction(request) as conn:
        users = await portal_service.list_users(conn, provider_id=user.provider_id)
    status = 400 if context.get("error") else 200
    return web.render(
        request, "users.html", {"users": users, "new": None, "error": None, **context}, status_code=status
    )


@router.get("/users", include_in_schema=False)
async def users(request: Request, user: web.AdminUser) -> HTMLResponse:
    """List the provider's portal users."""
    return await _page(request, user)


@router.post("/users", include_in_schema=False)
async def create_user(
    request: Request,
    user: web.AdminUser,
    _: web.CsrfChecked,
    email: Annotated[str, Form(max_length=320)],
    role: Annotated[str, Form(max_length=16)] = "staff",
) -> HTMLResponse:
    """Create a user of the provider with a generated password, shown once."""
    try:
        async with web.transaction(request, write=True) as conn:
            new = await portal_service.create_user(
                conn, provider_slug=user.provider_slug, email=email, role=role
            )
    except portal_service.PortalError as exc:
        return await _page(request, user, error=exc.reason)
    return await _page(request, user, new=new)


@router.post("/users/active", include_in_schema=False)
async def set_user_active(
    request: Request,
    user: web.AdminUser,
    _: web.CsrfChecked,
    email: Annotated[str, Form(max_length=320)],
    active: Annotated[bool, Form()],
) -> Response:
    """Disable (ending their sessions) or enable again a user of the provider; never oneself."""
    if email.strip().lower() == user.email:
        return await _page(request, user, error="self")
    try:
        async with web.transaction(request, write=True) as conn:
            await portal_service.set_active(conn, email=email, active=active, provider_id=user.provider_id)
    except portal_service.PortalError:
        return web.render(request, "error.html", {"status": 404, "reason": "no_user"}, status_code=404)
    return web.redirect(f"{web.PREFIX}/users")
