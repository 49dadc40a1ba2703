"""Portal fixtures: users and signed-in clients over HTTP, and a real server with a real browser.

HTTP level (both backends, via the shared ``app``/``http`` fixtures): ``make_user`` creates a
provider (if new) and a portal user and returns its login; ``sign_in`` logs an ``httpx`` client in
through the login form; ``csrf_of`` reads the CSRF token a page's forms carry.

Browser level (``provider-products serve`` on a free port, Debian's Chromium driven by Playwright,
no browser download): ``portal_server`` (one per module, a fresh sandbox: its printed admin login
is ``portal_server.login``), ``browser`` (one per module), ``page`` (a new context per test),
``portal_login(page, email, password)``, ``cli_user(server, provider, role)`` (a user created with
the real CLI on the server's database) and ``screenshot(page, name)``, which writes
``docs/portal/<name>.png`` only when ``PORTAL_SCREENSHOTS=1`` (so that CI leaves the tree clean).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from provider_products.auth import service as auth_service
from provider_products.db.engine import Database
from provider_products.portal import service as portal_service
from tests.servers import CLI, Server, clean_env, start_server

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "portal"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Login:
    """A portal user's email and password (and provider)."""

    email: str
    password: str
    provider_slug: str
    role: str


def csrf_of(html: str) -> str:
    """Return the CSRF token of the first form of a page."""
    match = CSRF_RE.search(html)
    assert match is not None, "no csrf_token field on the page"
    return match.group(1)


@pytest.fixture
def make_user(app: FastAPI) -> Callable[..., Awaitable[Login]]:
    """Create a provider (if new) and a portal user of it; return the login."""
    database: Database = app.state.runtime.database

    async def make(provider: str = "farmacia-a", *, role: str = "admin", email: str | None = None) -> Login:
        async with database.transaction(write=True) as conn:
            if await auth_service.find_provider(conn, slug=provider) is None:
                await auth_service.create_provider(conn, slug=provider, name=provider.title())
            new = await portal_service.create_user(
                conn, provider_slug=provider, email=email or f"{role}@{provider}.example", role=role
            )
        return Login(new.email, new.password, new.provider_slug, new.role)

    return make


async def sign_in(http: httpx.AsyncClient, login: Login) -> httpx.Response:
    """Log ``http`` in through the login form; return the answer to the POST."""
    page = await http.get("/portal/login")
    assert page.status_code == 200, page.text
    return await http.post(
        "/portal/login",
        data={"email": login.email, "password": login.password, "csrf_token": csrf_of(page.text)},
    )


@pytest.fixture
async def signed_in(app: FastAPI, make_user: Callable[..., Awaitable[Login]]) -> Any:
    """Return a factory of signed-in HTTP clients (one cookie jar each), closed after the test."""
    clients: list[httpx.AsyncClient] = []

    async def open_client(login: Login | None = None, **user: Any) -> httpx.AsyncClient:
        login = login or await make_user(**user)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        clients.append(client)
        response = await sign_in(client, login)
        assert response.status_code == 303, response.text
        return client

    yield open_client
    for client in clients:
        await client.aclose()


# --- Browser level ------------------------------------------------------------------------------


@dataclass
class PortalServer:
    """A running ``serve`` process on a fresh sandbox, and the portal admin login it printed."""

    server: Server
    workdir: Path
    login: Login

    @property
    def base_url(self) -> str:
        """The server's address."""
        return self.server.base_url

    @property
    def env(self) -> dict[str, str]:
        """The environment the server runs with (for CLI commands on its database)."""
        return clean_env(database_url=f"sqlite:///{self.workdir / 'provider-products.db'}")


def _printed_login(stdout: str) -> Login:
    email = re.search(r"^\s+email:\s+(\S+)", stdout, re.MULTILINE)
    password = re.search(r"^\s+password:\s+(\S+)", stdout, re.MULTILINE)
    assert email, stdout
    assert password, stdout
    return Login(email.group(1), password.group(1), "sandbox-provider", "admin")


@pytest.fixture(scope="module")
def portal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortalServer]:
    """Start ``provider-products serve`` on a fresh sandbox in an empty directory (stopped afterwards)."""
    workdir = tmp_path_factory.mktemp("portal")
    # Every test signs in afresh as the same admin: the login limits are tested over HTTP instead.
    env = clean_env(
        database_url=f"sqlite:///{workdir / 'provider-products.db'}",
        portal_account_rate_limit="1000/minute",
        portal_login_rate_limit="1000/minute",
    )
    server = start_server(workdir, env, "portal")
    try:
        yield PortalServer(server, workdir, _printed_login(server.stdout))
    finally:
        server.stop()


def cli_user(server: PortalServer, provider: str, role: str = "admin", email: str | None = None) -> Login:
    """Create a provider (if new) and a portal user with the real CLI, on the server's database."""
    env = server.env
    listed = subprocess.run(
        [str(CLI), "providers", "list"],
        env=env,
        cwd=server.workdir,
        capture_output=True,
        text=True,
        check=True,
    )
    if provider not in listed.stdout:
        subprocess.run(
            [str(CLI), "providers", "create", provider, "--name", provider.title()],
            env=env,
            cwd=server.workdir,
            capture_output=True,
            check=True,
        )
    created = subprocess.run(
        [
            str(CLI),
            "users",
            "create",
            "--provider",
            provider,
            "--email",
            email or f"{role}@{provider}.example",
            "--role",
            role,
            "--json",
        ],
        env=env,
        cwd=server.workdir,
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(created.stdout)
    return Login(data["email"], data["password"], data["provider_slug"], data["role"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (no browser is downloaded).

    One per module, not per session: while Playwright's sync API runs it keeps an event loop
    marked running in this thread, so the async tests of later modules could not start their own.
    """
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, portal_server: PortalServer) -> Iterator[Any]:
    """A fresh browser context (no cookies) and page on the portal server; Spanish unless switched."""
    context = browser.new_context(
        base_url=portal_server.base_url, locale="es-ES", viewport={"width": 1200, "height": 900}
    )
    context.set_default_timeout(15_000)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


def portal_login(page: Any, login: Login) -> None:
    """Sign in through the login form, as a person would."""
    page.goto("/portal/login")
    page.get_by_label(re.compile("Correo electrónico|Email")).fill(login.email)
    page.get_by_label(re.compile("Contraseña|Password")).fill(login.password)
    page.get_by_role("button", name=re.compile("Iniciar sesión|Sign in")).click()
    page.wait_for_url(re.compile(r"/portal/(\?.*)?$|/portal/(?!login)"))


def screenshot(page: Any, name: str) -> None:
    """Save ``docs/portal/<name>.png`` of the whole page, only when ``PORTAL_SCREENSHOTS=1``."""
    if os.environ.get("PORTAL_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
