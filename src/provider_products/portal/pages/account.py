"""Signing in and out, the language switch, and changing one's own password."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from provider_products.config import parse_rate
from provider_products.portal import i18n, web
from provider_products.portal import service as portal_service
from provider_products.runtime import runtime

router = APIRouter()


@router.get("/login", include_in_schema=False)
async def login_page(request: Request, next: Annotated[str | None, Query()] = None) -> Response:
    """Show the sign-in form (or go on, when already signed in)."""
    if await web.current_session(request) is not None:
        return RedirectResponse(web.safe_next(next), status_code=303)
    return web.render(request, "login.html", {"next": web.safe_next(next), "email": "", "error": None})


async def _rate_limited(request: Request, email: str) -> int | None:
    """Count a login attempt per address and per account; return the seconds to wait when over."""
    rt = runtime(request)
    address = request.client.host if request.client else "unknown"
    for key, rate in (
        (f"portal-login:address:{address}", rt.settings.portal_login_rate_limit),
        (f"portal-login:account:{email.strip().lower()[:254]}", rt.settings.portal_account_rate_limit),
    ):
        limit, window = parse_rate(rate)
        decision = await rt.limiter.hit(key, limit=limit, window=window)
        if not decision.allowed:
            return decision.reset_after
    return None


@router.post("/login", include_in_schema=False)
async def login(
    request: Request,
    _: web.CsrfChecked,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str | None, Form()] = None,
) -> Response:
    """Check the email and password; on success open a session and go on."""
    target = web.safe_next(next)
    wait = await _rate_limited(request, email)
    if wait is not None:
        response = web.render(
            request, "login.html", {"next": target, "email": email, "error": "rate_limited"}, status_code=429
        )
        response.headers["Retry-After"] = str(wait)
        return response
    async with web.transaction(request) as conn:
        record = await portal_service.find_for_login(conn, email=email)
    user = await portal_service.verify_login(record, password=password)
    if user is None:
        return web.render(
            request, "login.html", {"next": target, "email": email, "error": "invalid"}, status_code=401
        )
    hours = runtime(request).settings.portal_session_hours
    async with web.transaction(request, write=True) as conn:
        signed_in = await portal_service.open_session(conn, user_id=user.id, lifetime=timedelta(hours=hours))
    redirect = web.redirect(target)
    redirect.set_cookie(
        web.SESSION_COOKIE,
        signed_in.token,
        max_age=int(hours * 3600),
        httponly=True,
        samesite="lax",
        secure=web.secure_request(request),
        path=web.PREFIX,
    )
    return redirect


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, _: web.CsrfChecked) -> Response:
    """End the session and go back to the sign-in page."""
    token = request.cookies.get(web.SESSION_COOKIE)
    if token:
        async with web.transaction(request, write=True) as conn:
            await portal_service.close_session(conn, token=token)
    response = web.redirect(f"{web.PREFIX}/login")
    response.delete_cookie(web.SESSION_COOKIE, path=web.PREFIX)
    return response


@router.get("/language", include_in_schema=False)
async def switch_language(
    lang: Annotated[str | None, Query(max_length=8)] = None,
    next: Annotated[str | None, Query()] = None,
) -> Response:
    """Remember a language in a cookie (the other one when none is named) and go back."""
    response = RedirectResponse(web.safe_next(next), status_code=303)
    chosen = lang if lang in i18n.LANGUAGES else None
    if chosen is not None:
        response.set_cookie(
            i18n.LANGUAGE_COOKIE, chosen, max_age=365 * 86400, samesite="lax", path=web.PREFIX
        )
    return response


@router.get("/password", include_in_schema=False)
async def password_page(request: Request, user: web.CurrentUser) -> HTMLResponse:
    """Show the form to change one's own password."""
    return web.render(request, "password.html", {"error": None, "done": False})


@router.post("/password", include_in_schema=False)
async def change_password(
    request: Request,
    user: web.CurrentUser,
    _: web.CsrfChecked,
    current: Annotated[str, Form(max_length=1024)] = "",
    new: Annotated[str, Form(max_length=1024)] = "",
    confirm: Annotated[str, Form(max_length=1024)] = "",
) -> HTMLResponse:
    """Change one's own password (the current one is asked again); other sessions end."""
    active = await web.current_session(request)
    assert active is not None  # current_user succeeded
    error = None
    if new != confirm:
        error = "mismatch"
    else:
        try:
            async with web.transaction(request, write=True) as conn:
                await portal_service.change_password(
                    conn, user_id=user.id, session_id=active.session_id, current=current, new=new
                )
        except portal_service.PortalError as exc:
            error = "wrong_current" if exc.reason == "wrong_password" else "too_short"
    status = 200 if error is None else 400
    return web.render(request, "password.html", {"error": error, "done": error is None}, status_code=status)
