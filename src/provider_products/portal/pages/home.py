"""Inicio / Home: the provider's registered products by type, and its latest changes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from provider_products.portal import web
from provider_products.registry import service as registry_service

router = APIRouter()


@router.get("/", include_in_schema=False)
async def home(request: Request, user: web.CurrentUser) -> HTMLResponse:
    """Show the provider's registrations by type and its latest registrations and removals."""
    async with web.transaction(request) as conn:
        counts = await registry_service.summary(conn, provider_id=user.provider_id)
        changes = await registry_service.recent_changes(conn, provider_id=user.provider_id, limit=10)
    return web.render(
        request, "home.html", {"counts": counts, "total": sum(counts.values()), "changes": changes}
    )
