"""The portal in a real browser (Playwright driving Debian's Chromium) against a real ``serve``.

Each test signs in afresh in its own browser context; the server (a fresh sandbox) is shared by the
module, so each test works with codes of its own. ``PORTAL_SCREENSHOTS=1`` also writes the pages'
screenshots into ``docs/portal/``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.portal.conftest import PortalServer, cli_user, portal_login, screenshot

pytestmark = pytest.mark.slow


def _nav(page: Any, name: str) -> Any:
    return page.get_by_role("navigation", name=re.compile("Principal|Main")).get_by_role(
        "link", name=name, exact=True
    )


def _row(page: Any, code: str) -> Any:
    return page.locator(f'tr[data-code="{code}"]')


def test_login_shows_spanish_home_with_counts(page: Any, portal_server: PortalServer) -> None:
    page.goto("/portal/")
    assert "/portal/login" in page.url
    assert page.locator("html").get_attribute("lang") == "es"
    screenshot(page, "login")
    portal_login(page, portal_server.login)
    assert page.get_by_role("heading", name="Inicio").is_visible()
    assert _nav(page, "Mis productos").is_visible()
    assert _nav(page, "Clientes API").is_visible()


def test_catalogue_search_as_you_type_and_register_from_a_row(page: Any, portal_server: PortalServer) -> None:
    portal_login(page, portal_server.login)
    _nav(page, "Catálogo").click()
    page.get_by_label("Buscar por nombre").press_sequentially("ibuprofeno", delay=30)
    # No submit: the script fetches the results while typing and keeps the address in step.
    page.wait_for_url(re.compile(r"query=ibuprofeno"))
    rows = page.locator("#results tr[data-code]")
    rows.first.wait_for()
    code = rows.first.get_attribute("data-code")
    assert code is not None
    assert "buprofeno" in rows.first.inner_text().lower()
    screenshot(page, "catalogue")
    _row(page, code).get_by_role("button", name="Registrar").click()
    assert page.get_by_role("status").inner_text() == f"{code} quedó registrado."
    assert _row(page, code).locator(".badge").inner_text() == "Registrado"
    assert _row(page, code).get_by_role("button").count() == 0


def test_catalogue_search_works_without_script(browser: Any, portal_server: PortalServer) -> None:
    context = browser.new_context(base_url=portal_server.base_url, java_script_enabled=False, locale="es-ES")
    try:
        page = context.new_page()
        portal_login(page, portal_server.login)
        page.goto("/portal/catalogue")
        page.get_by_label("Buscar por nombre").fill("hemograma")
        page.get_by_label("Tipo").select_option("LAB")
        page.get_by_role("button", name="Buscar", exact=True).click()
        page.wait_for_url(re.compile(r"query=hemograma.*type=LAB"))
        assert page.locator("#results tr[data-code]").count() >= 1
        assert all(
            c.startswith("LAB")
            for c in page.locator("#results tr[data-code]").evaluate_all(
                "rows => rows.map(r => r.dataset.code)"
            )
        )
    finally:
        context.close()


def test_remove_with_confirmation_then_history(page: Any, portal_server: PortalServer) -> None:
    portal_login(page, portal_server.login)
    page.goto("/portal/catalogue?query=IMG-")
    row = page.locator("#results tr[data-code]").first
    code = row.get_attribute("data-code")
    assert code is not None
    row.get_by_role("button", name="Registrar").click()
    _nav(page, "Mis productos").click()
    assert _row(page, code).is_visible()
    screenshot(page, "products")
    _row(page, code).get_by_role("link", name="Dar de baja").click()
    assert page.get_by_role("heading", name=f"¿Dar de baja {code}?").is_visible()
    screenshot(page, "remove")
    page.get_by_role("button", name="Sí, darlo de baja").click()
    assert page.get_by_role("heading", name=f"Historial de registro de {code}").is_visible()
    assert page.get_by_role("status").inner_text() == "No registrado actualmente."
    periods = page.locator("table.history tbody tr")
    assert periods.count() == 1
    assert "sigue registrado" not in periods.first.inner_text()
    screenshot(page, "history")
    page.get_by_role("link", name="Volver a mis productos").click()
    assert _row(page, code).count() == 0


def test_form_with_a_wrong_csrf_token_is_refused(page: Any, portal_server: PortalServer) -> None:
    portal_login(page, portal_server.login)
    page.goto("/portal/catalogue?query=PROC-")
    row = page.locator("#results tr[data-code]").first
    code = row.get_attribute("data-code")
    row.locator('input[name="csrf_token"]').evaluate("field => { field.value = 'forged' }")
    with page.expect_response(re.compile("/portal/catalogue/register")) as answer:
        row.get_by_role("button", name="Registrar").click()
    assert answer.value.status == 403
    assert page.get_by_role("heading", name="No permitido").is_visible()
    page.goto("/portal/products")
    assert _row(page, str(code)).count() == 0


def test_user_of_another_provider_sees_none_of_it(
    browser: Any, page: Any, portal_server: PortalServer
) -> None:
    portal_login(page, portal_server.login)
    page.goto("/portal/catalogue?query=LAB-")
    code = page.locator("#results tr[data-code]").nth(1).get_attribute("data-code")
    _row(page, str(code)).get_by_role("button", name="Registrar").click()
    other = cli_user(portal_server, "clinica-b", role="admin")
    context = browser.new_context(base_url=portal_server.base_url, locale="es-ES")
    try:
        theirs = context.new_page()
        portal_login(theirs, other)
        assert portal_server.login.provider_slug not in theirs.content()
        assert theirs.locator("#total").inner_text() == "0"
        theirs.goto("/portal/products")
        assert theirs.locator("tr[data-code]").count() == 0
        theirs.goto(f"/portal/products/{code}")
        assert theirs.get_by_role("heading", name="No encontrado").is_visible()
        theirs.goto("/portal/clients")
        assert theirs.locator("tr[data-client]").count() == 0
        theirs.goto("/portal/users")
        assert portal_server.login.email not in theirs.content()
    finally:
        context.close()


def test_staff_has_no_api_clients_page(browser: Any, portal_server: PortalServer) -> None:
    staff = cli_user(portal_server, "sandbox-provider", role="staff", email="staff@sandbox-provider.example")
    context = browser.new_context(base_url=portal_server.base_url, locale="es-ES")
    try:
        page = context.new_page()
        portal_login(page, staff)
        assert _nav(page, "Clientes API").count() == 0
        page.goto("/portal/clients")
        assert page.get_by_role("heading", name="No permitido").is_visible()
    finally:
        context.close()


def test_admin_creates_an_api_client_and_sees_the_secret_once(page: Any, portal_server: PortalServer) -> None:
    portal_login(page, portal_server.login)
    _nav(page, "Clientes API").click()
    page.get_by_role("button", name="Crear cliente").click()
    secret = page.locator("#new-client-secret").inner_text()
    assert len(secret) > 20
    screenshot(page, "clients")
    page.goto("/portal/clients")
    assert secret not in page.content()
    _nav(page, "Usuarios").click()
    screenshot(page, "users")


def test_language_switch_to_english_and_back(page: Any, portal_server: PortalServer) -> None:
    portal_login(page, portal_server.login)
    _nav(page, "Catálogo").click()
    page.get_by_role("link", name="English").click()
    page.wait_for_url(re.compile(r"/portal/catalogue"))
    assert page.get_by_role("heading", name="Catalogue").is_visible()
    _nav(page, "My products").click()
    assert page.get_by_role("heading", name="My products").is_visible()  # the cookie keeps it
    assert page.locator("html").get_attribute("lang") == "en"
    screenshot(page, "products-en")
    page.get_by_role("link", name="Español").click()
    assert page.get_by_role("heading", name="Mis productos").is_visible()


def test_keyboard_only_login_and_visible_focus(page: Any, portal_server: PortalServer) -> None:
    page.goto("/portal/login")
    # The email field has the focus on arrival (Chromium applies autofocus at its next frame, which
    # a loaded machine may draw after the page's load event).
    page.wait_for_function("document.activeElement && document.activeElement.id === 'email'")
    page.keyboard.type(portal_server.login.email)
    page.keyboard.press("Tab")
    page.keyboard.type(portal_server.login.password)
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/portal/$"))
    assert page.get_by_role("heading", name="Inicio").is_visible()


def test_every_control_has_a_label(page: Any, portal_server: PortalServer) -> None:
    portal_login(page, portal_server.login)
    for path in (
        "/portal/catalogue",
        "/portal/products",
        "/portal/clients",
        "/portal/users",
        "/portal/password",
    ):
        page.goto(path)
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
                .map(e => e.name)"""
        )
        assert unlabelled == [], path


def test_readable_at_phone_width(browser: Any, portal_server: PortalServer) -> None:
    context = browser.new_context(
        base_url=portal_server.base_url, locale="es-ES", viewport={"width": 375, "height": 800}
    )
    try:
        page = context.new_page()
        portal_login(page, portal_server.login)
        for path in ("/portal/", "/portal/catalogue?query=paracetamol", "/portal/products"):
            page.goto(path)
            assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
        page.goto("/portal/catalogue?query=paracetamol")
        screenshot(page, "catalogue-phone")
    finally:
        context.close()


def test_change_password_page(page: Any, portal_server: PortalServer) -> None:
    portal_login(page, portal_server.login)
    page.get_by_role("link", name="Cambiar contraseña").click()
    assert page.get_by_label("Contraseña actual").is_visible()
    screenshot(page, "password")


def test_logout_ends_the_session(page: Any, portal_server: PortalServer) -> None:
    portal_login(page, portal_server.login)
    screenshot(page, "home")  # last: the earlier tests' registrations and removals are on it
    page.get_by_role("button", name="Cerrar sesión").click()
    page.wait_for_url(re.compile(r"/portal/login$"))
    page.goto("/portal/products")
    assert "/portal/login" in page.url
    assert page.get_by_role("heading", name="Iniciar sesión").is_visible()
