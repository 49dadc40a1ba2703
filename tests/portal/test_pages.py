"""Portal pages over HTTP, on both backends: roles, isolation between providers, the pages' work."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from provider_products.auth import service as auth_service
from tests.portal.conftest import Login, csrf_of, sign_in

MakeUser = Callable[..., Awaitable[Login]]


async def _register(client: httpx.AsyncClient, code: str) -> httpx.Response:
    token = csrf_of((await client.get("/portal/catalogue")).text)
    return await client.post("/portal/catalogue/register", data={"product_code": code, "csrf_token": token})


async def _remove(client: httpx.AsyncClient, code: str) -> httpx.Response:
    confirm = await client.get(f"/portal/products/{code}/remove")
    assert confirm.status_code == 200
    return await client.post(f"/portal/products/{code}/remove", data={"csrf_token": csrf_of(confirm.text)})


@pytest.mark.parametrize("path", ["/portal/clients", "/portal/users"])
async def test_staff_gets_403_on_admin_pages(signed_in: Any, path: str) -> None:
    staff = await signed_in(role="staff")
    response = await staff.get(path)
    assert response.status_code == 403
    assert "administrador" in response.text


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/portal/clients", {"scopes": "arc:read"}),
        ("/portal/users", {"email": "new@farmacia-a.example", "role": "admin"}),
    ],
)
async def test_staff_gets_403_on_admin_forms(signed_in: Any, path: str, data: dict[str, str]) -> None:
    staff = await signed_in(role="staff")
    token = csrf_of((await staff.get("/portal/")).text)
    assert (await staff.post(path, data={**data, "csrf_token": token})).status_code == 403


async def test_staff_nav_has_no_admin_entries(signed_in: Any) -> None:
    staff = await signed_in(role="staff")
    home = (await staff.get("/portal/")).text
    assert 'href="/portal/catalogue"' in home
    assert 'href="/portal/clients"' not in home
    assert 'href="/portal/users"' not in home


async def test_admin_sees_admin_pages(signed_in: Any) -> None:
    admin = await signed_in()
    assert (await admin.get("/portal/clients")).status_code == 200
    assert (await admin.get("/portal/users")).status_code == 200


async def test_register_from_catalogue_shows_on_products_home_and_catalogue(signed_in: Any) -> None:
    client = await signed_in()
    response = await _register(client, "MED-042")
    assert response.status_code == 303
    assert "done=registered" in response.headers["location"]
    products = await client.get("/portal/products")
    assert 'data-code="MED-042"' in products.text
    home = await client.get("/portal/")
    assert re.search(r'data-type="MEDICATION">1<', home.text)
    assert "MED-042" in home.text
    search = await client.get("/portal/catalogue", params={"query": "MED-042"})
    row = search.text.split('data-code="MED-042"')[1].split("</tr>")[0]
    assert "badge" in row
    assert "catalogue/register" not in row


async def test_register_twice_says_already_registered(signed_in: Any) -> None:
    client = await signed_in()
    await _register(client, "MED-042")
    again = await _register(client, "MED-042")
    assert "done=already_registered" in again.headers["location"]


async def test_register_unknown_code_says_not_in_catalogue(signed_in: Any) -> None:
    client = await signed_in()
    response = await _register(client, "NOPE-999")
    assert "done=not_in_catalogue" in response.headers["location"]
    page = await client.get(response.headers["location"])
    assert "no está en el catálogo" in page.text


async def test_remove_after_confirmation_closes_period_in_history(signed_in: Any) -> None:
    client = await signed_in()
    await _register(client, "LAB-HEMO")
    removed = await _remove(client, "LAB-HEMO")
    assert removed.status_code == 303
    history = await client.get(removed.headers["location"])
    assert history.status_code == 200
    assert "No registrado actualmente" in history.text
    assert "sigue registrado" not in history.text
    assert 'data-code="LAB-HEMO"' not in (await client.get("/portal/products")).text
    assert "Dado de baja" in (await client.get("/portal/")).text


async def test_remove_confirmation_page_removes_nothing(signed_in: Any) -> None:
    client = await signed_in()
    await _register(client, "LAB-HEMO")
    await client.get("/portal/products/LAB-HEMO/remove")
    assert 'data-code="LAB-HEMO"' in (await client.get("/portal/products")).text


async def test_catalogue_search_is_accent_insensitive_and_partial_is_a_fragment(signed_in: Any) -> None:
    client = await signed_in()
    plain = await client.get("/portal/catalogue", params={"query": "acetaminofen"})
    accented = await client.get("/portal/catalogue", params={"query": "acetaminofén", "partial": "1"})
    codes = re.findall(r'data-code="([^"]+)"', plain.text)
    assert codes
    assert re.findall(r'data-code="([^"]+)"', accented.text) == codes
    assert "<html" not in accented.text


async def test_catalogue_search_matches_the_api(
    signed_in: Any, make_client: Any, http: httpx.AsyncClient
) -> None:
    client = await signed_in()
    api = await make_client()
    page = await client.get("/portal/catalogue", params={"query": "paracetamol", "type": "MEDICATION"})
    answer = await http.get(
        "/medical-catalogs/v1/medications", params={"query": "paracetamol", "size": 20}, headers=api.headers
    )
    assert re.findall(r'data-code="([^"]+)"', page.text) == [
        p["product_code"] for p in answer.json()["content"]
    ]


async def test_catalogue_bad_type_is_a_400_page(signed_in: Any) -> None:
    client = await signed_in()
    response = await client.get("/portal/catalogue", params={"type": "DRUGS"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")


async def test_products_filters_by_type_and_searches(signed_in: Any) -> None:
    client = await signed_in()
    for code in ("MED-042", "LAB-HEMO"):
        await _register(client, code)
    labs = await client.get("/portal/products", params={"type": "LAB"})
    assert re.findall(r'data-code="([^"]+)"', labs.text) == ["LAB-HEMO"]
    found = await client.get("/portal/products", params={"query": "MED-042"})
    assert re.findall(r'data-code="([^"]+)"', found.text) == ["MED-042"]


async def test_other_provider_sees_none_of_it(signed_in: Any) -> None:
    a = await signed_in(provider="farmacia-a")
    b = await signed_in(provider="farmacia-b")
    await _register(a, "MED-042")
    await _remove(a, "MED-042")
    await _register(a, "LAB-HEMO")
    assert "LAB-HEMO" not in (await b.get("/portal/products")).text
    home = (await b.get("/portal/")).text
    assert "LAB-HEMO" not in home
    assert "MED-042" not in home
    assert (await b.get("/portal/products/MED-042")).status_code == 404
    assert (await b.get("/portal/products/LAB-HEMO/remove")).status_code == 404
    token = csrf_of((await b.get("/portal/")).text)
    assert (await b.post("/portal/products/LAB-HEMO/remove", data={"csrf_token": token})).status_code == 404
    assert 'data-code="LAB-HEMO"' in (await a.get("/portal/products")).text
    search = (await b.get("/portal/catalogue", params={"query": "LAB-HEMO"})).text
    assert "badge" not in search.split('data-code="LAB-HEMO"')[1].split("</tr>")[0]


async def test_other_provider_cannot_touch_clients_or_users(
    signed_in: Any, app: FastAPI, make_user: MakeUser
) -> None:
    a = await signed_in(provider="farmacia-a")
    a_staff = await make_user(provider="farmacia-a", role="staff")
    b = await signed_in(provider="farmacia-b")
    token_a = csrf_of((await a.get("/portal/clients")).text)
    created = await a.post("/portal/clients", data={"csrf_token": token_a, "scopes": "arc:read"})
    client_id = re.search(r'id="new-client-id">([^<]+)<', created.text)
    assert client_id is not None
    listing = (await b.get("/portal/clients")).text
    assert client_id.group(1) not in listing
    token_b = csrf_of(listing)
    rotate = await b.post(
        "/portal/clients/rotate", data={"csrf_token": token_b, "client_id": client_id.group(1)}
    )
    assert rotate.status_code == 404
    disable = await b.post(
        "/portal/clients/active",
        data={"csrf_token": token_b, "client_id": client_id.group(1), "active": "false"},
    )
    assert disable.status_code == 404
    async with app.state.runtime.database.transaction() as conn:
        found = await auth_service.find_client(conn, client_id=client_id.group(1))
    assert found is not None
    assert found.is_active
    assert found.secret_rotated_at is None
    assert a_staff.email not in (await b.get("/portal/users")).text
    off = await b.post(
        "/portal/users/active", data={"csrf_token": token_b, "email": a_staff.email, "active": "false"}
    )
    assert off.status_code == 404
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as fresh:
        assert (await sign_in(fresh, a_staff)).status_code == 303  # still enabled


async def test_admin_creates_rotates_and_disables_own_client(signed_in: Any, http: httpx.AsyncClient) -> None:
    admin = await signed_in()
    token = csrf_of((await admin.get("/portal/clients")).text)
    created = await admin.post(
        "/portal/clients", data={"csrf_token": token, "scopes": ["arc:read", "arc:write"]}
    )
    assert created.headers["cache-control"] == "no-store"
    client_id = re.search(r'id="new-client-id">([^<]+)<', created.text).group(1)  # type: ignore[union-attr]
    secret = re.search(r'id="new-client-secret">([^<]+)<', created.text).group(1)  # type: ignore[union-attr]
    form = {"grant_type": "client_credentials"}
    assert (await http.post("/v1/oauth/token", data=form, auth=(client_id, secret))).status_code == 200
    assert secret not in (await admin.get("/portal/clients")).text
    rotated = await admin.post("/portal/clients/rotate", data={"csrf_token": token, "client_id": client_id})
    new_secret = re.search(r'id="new-client-secret">([^<]+)<', rotated.text).group(1)  # type: ignore[union-attr]
    assert new_secret != secret
    assert (await http.post("/v1/oauth/token", data=form, auth=(client_id, secret))).status_code == 401
    assert (await http.post("/v1/oauth/token", data=form, auth=(client_id, new_secret))).status_code == 200
    off = await admin.post(
        "/portal/clients/active", data={"csrf_token": token, "client_id": client_id, "active": "false"}
    )
    assert off.status_code == 303
    assert (await http.post("/v1/oauth/token", data=form, auth=(client_id, new_secret))).status_code == 401


async def test_admin_creates_a_user_whose_shown_password_works(signed_in: Any, app: FastAPI) -> None:
    admin = await signed_in()
    token = csrf_of((await admin.get("/portal/users")).text)
    created = await admin.post(
        "/portal/users", data={"csrf_token": token, "email": "Nuevo@Farmacia-A.example", "role": "staff"}
    )
    assert created.status_code == 200
    password = re.search(r'id="new-password">([^<]+)<', created.text).group(1)  # type: ignore[union-attr]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as fresh:
        login = Login("nuevo@farmacia-a.example", password, "farmacia-a", "staff")
        assert (await sign_in(fresh, login)).status_code == 303
        assert (await fresh.get("/portal/users")).status_code == 403


async def test_admin_create_user_bad_email_is_a_400_page(signed_in: Any) -> None:
    admin = await signed_in()
    token = csrf_of((await admin.get("/portal/users")).text)
    response = await admin.post(
        "/portal/users", data={"csrf_token": token, "email": "not-an-email", "role": "staff"}
    )
    assert response.status_code == 400
    assert "Eso no es una dirección de correo." in response.text


async def test_admin_create_user_taken_email_is_a_400_page(signed_in: Any, make_user: MakeUser) -> None:
    admin = await signed_in()
    taken = await make_user(role="staff")
    token = csrf_of((await admin.get("/portal/users")).text)
    response = await admin.post(
        "/portal/users", data={"csrf_token": token, "email": taken.email, "role": "staff"}
    )
    assert response.status_code == 400
    assert "Ya existe un usuario con ese correo." in response.text


async def test_language_spanish_by_default_english_by_header_and_cookie(signed_in: Any) -> None:
    client = await signed_in()
    assert "Mis productos" in (await client.get("/portal/")).text
    english = await client.get("/portal/", headers={"Accept-Language": "en-GB,en;q=0.9,es;q=0.5"})
    assert "My products" in english.text
    assert '<html lang="en">' in english.text
    switched = await client.get("/portal/language", params={"lang": "en", "next": "/portal/products"})
    assert switched.status_code == 303
    assert switched.headers["location"] == "/portal/products"
    page = await client.get("/portal/products", headers={"Accept-Language": "es"})
    assert "My products" in page.text
    assert "Mis productos" not in page.text


async def test_language_switch_never_redirects_off_site(http: httpx.AsyncClient) -> None:
    for target in ("https://evil.example/", "//evil.example/portal/", "/portal\\@evil"):
        response = await http.get("/portal/language", params={"lang": "en", "next": target})
        assert response.headers["location"] == "/portal/"


async def test_login_next_never_redirects_off_site(http: httpx.AsyncClient, make_user: MakeUser) -> None:
    login = await make_user()
    page = await http.get("/portal/login")
    response = await http.post(
        "/portal/login",
        data={
            "email": login.email,
            "password": login.password,
            "csrf_token": csrf_of(page.text),
            "next": "//evil.example",
        },
    )
    assert response.headers["location"] == "/portal/"


async def test_portal_is_not_in_the_openapi_document(http: httpx.AsyncClient) -> None:
    paths = (await http.get("/openapi.json")).json()["paths"]
    assert not [p for p in paths if p.startswith("/portal")]


async def test_portal_root_redirects_to_home(http: httpx.AsyncClient) -> None:
    response = await http.get("/portal")
    assert response.status_code == 307
    assert response.headers["location"] == "/portal/"
