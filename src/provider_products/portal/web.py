"""What every portal page uses: the signed-in user, the CSRF check, rendering, redirects.

Page modules import from here and nothing else of the portal's plumbing:

- ``CurrentUser`` (``Depends(current_user)``): the signed-in ``PortalUser``; without a valid session
  the request is answered with a redirect to ``/portal/login``. ``AdminUser``: the same, 403 for staff.
- ``CsrfChecked`` (``Depends(csrf_protect)``): put on every POST route; the form's ``csrf_token``
  must equal the session's (before sign-in: the ``pp_csrf`` cookie's), otherwise a 403 page.
- ``render(request, "page.html", {...})``: a Jinja2 template (``portal/templates``) with ``_()``
  in the request's language and the common context: ``user``, ``csrf_token``, ``language``, ``nav``.
- ``redirect(url)``: a 303 after a POST. ``transaction(request)``: the request's database.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import jinja2
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from provider_products.db.engine import Connection
from provider_products.portal import i18n
from provider_products.portal import service as portal_service
from provider_products.runtime import database

PREFIX = "/portal"
SESSION_COOKIE = "pp_session"
CSRF_COOKIE = "pp_csrf"
CSRF_FIELD = "csrf_token"
TEMPLATES = Path(__file__).parent / "templates"


def N_(text: str) -> str:
    """Mark English source text for the catalogues (``pybabel extract -k N_``); translated when rendered."""
    return text


@dataclass(frozen=True)
class PortalUser:
    """The person signed in: who they are, the one provider whose data they see, and their role."""

    id: int
    email: str
    provider_id: int
    provider_slug: str
    provider_name: str
    role: str

    @property
    def is_admin(self) -> bool:
        """Say whether the user may manage API clients and users."""
        return self.role == "admin"


@dataclass(frozen=True)
class NavEntry:
    """One link of the navigation bar; ``label`` is English source text, translated when rendered."""

    path: str
    label: str
    admin_only: bool = False


NAV: list[NavEntry] = [
    NavEntry(f"{PREFIX}/", N_("Home")),
    NavEntry(f"{PREFIX}/catalogue", N_("Catalogue")),
    NavEntry(f"{PREFIX}/products", N_("My products")),
    NavEntry(f"{PREFIX}/onboarding", N_("Onboard an inventory")),
    NavEntry(f"{PREFIX}/clients", N_("API clients"), admin_only=True),
    NavEntry(f"{PREFIX}/users", N_("Users"), admin_only=True),
]


class LoginRequired(Exception):
    """No valid session: the browser is sent to the login page."""


class Forbidden(Exception):
    """The user's role may not do this (403)."""


class CsrfRefused(Exception):
    """A state-changing form came without the right CSRF token (403)."""


def transaction(request: Request, *, write: bool = False) -> AbstractAsyncContextManager[Connection]:
    """Open the request's database transaction (``async with transaction(request) as conn``)."""
    return database(request).transaction(write=write)


async def current_session(request: Request) -> portal_service.ActiveSession | None:
    """Return the request's valid session, or None (looked up once per request)."""
    if hasattr(request.state, "portal_session"):
        found: portal_service.ActiveSession | None = request.state.portal_session
        return found
    token = request.cookies.get(SESSION_COOKIE)
    found = None
    if token and len(token) <= 128:
        async with transaction(request) as conn:
            found = await portal_service.resolve_session(conn, token=token)
    request.state.portal_session = found
    return found


async def current_user(request: Request) -> PortalUser:
    """Return the signed-in user, or answer with a redirect to the login page."""
    active = await current_session(request)
    if active is None:
        raise LoginRequired
    record = active.user
    return PortalUser(
        id=record.id,
        email=record.email,
        provider_id=record.provider_id,
        provider_slug=record.provider_slug,
        provider_name=record.provider_name,
        role=record.role,
    )


async def admin_user(user: Annotated[PortalUser, Depends(current_user)]) -> PortalUser:
    """Return the signed-in user if an admin, else refuse with 403."""
    if not user.is_admin:
        raise Forbidden
    return user


def csrf_token(request: Request) -> str:
    """Return the CSRF token forms of this request must carry (the session's, or the pre-login one)."""
    active: portal_service.ActiveSession | None = getattr(request.state, "portal_session", None)
    if active is not None:
        return active.csrf_token
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf_cookie", None)
    if not token:
        token = request.state.new_csrf_cookie = secrets.token_urlsafe(32)
    return str(token)


async def csrf_protect(request: Request) -> FormData:
    """Refuse (403) a form whose ``csrf_token`` is not this session's; return the parsed form."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    active = await current_session(request)
    expected = active.csrf_token if active is not None else request.cookies.get(CSRF_COOKIE)
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent, expected):
        raise CsrfRefused
    return form


CurrentUser = Annotated[PortalUser, Depends(current_user)]
AdminUser = Annotated[PortalUser, Depends(admin_user)]
CsrfChecked = Annotated[FormData, Depends(csrf_protect)]


def language(request: Request) -> str:
    """Return the language of the request: the cookie's, else ``Accept-Language``'s, else Spanish."""
    return i18n.choose_language(
        request.cookies.get(i18n.LANGUAGE_COOKIE), request.headers.get("accept-language")
    )


@functools.cache
def environment(lang: str) -> jinja2.Environment:
    """Return the template environment of a language (built once)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


def secure_request(request: Request) -> bool:
    """Say whether the browser reached us over HTTPS (the scheme uvicorn's proxy headers give)."""
    return request.url.scheme == "https"


def render(
    request: Request,
    template_name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """Render a template in the request's language with the common context."""
    lang = language(request)
    active: portal_service.ActiveSession | None = getattr(request.state, "portal_session", None)
    user = None
    if active is not None:
        record = active.user
        user = PortalUser(
            record.id,
            record.email,
            record.provider_id,
            record.provider_slug,
            record.provider_name,
            record.role,
        )
    path = request.url.path
    nav = [
        {
            "path": e.path,
            "label": e.label,
            "current": path == e.path or (e.path != f"{PREFIX}/" and path.startswith(e.path)),
        }
        for e in NAV
        if user is not None
        and (user.is_admin or not e.admin_only)
        and (e.path != f"{PREFIX}/onboarding" or getattr(request.app.state, "onboarding", False))
    ]
    here = path + (f"?{request.url.query}" if request.url.query else "")
    full = {
        "user": user,
        "csrf_token": csrf_token(request),
        "language": lang,
        "other_language": "en" if lang == "es" else "es",
        "switch_url": f"{PREFIX}/language?next={quote(here, safe='')}",
        "nav": nav,
        "prefix": PREFIX,
        **(context or {}),
    }
    html = environment(lang).get_template(template_name).render(full)
    response = HTMLResponse(html, status_code=status_code)
    new_cookie = getattr(request.state, "new_csrf_cookie", None)
    if new_cookie:
        response.set_cookie(
            CSRF_COOKIE,
            new_cookie,
            httponly=True,
            samesite="lax",
            secure=secure_request(request),
            path=PREFIX,
        )
    return response


def redirect(url: str) -> RedirectResponse:
    """Answer a POST with 303 See Other to ``url``."""
    return RedirectResponse(url, status_code=303)


def safe_next(value: str | None, default: str = f"{PREFIX}/") -> str:
    """Return ``value`` if it is a path inside the portal (never another site), else ``default``."""
    if value and value.startswith(f"{PREFIX}/") and "\\" not in value and not value.startswith("//"):
        return value
    return default
