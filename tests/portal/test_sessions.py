"""Portal sign-in, sessions and CSRF over HTTP, on both backends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from provider_products.app import create_app
from provider_products.config import Settings
from provider_products.portal import service as portal_service
from tests.conftest import FakeClock
from tests.portal.conftest import Login, csrf_of, sign_in

MakeUser = Callable[..., Awaitable[Login]]


async def test_login_page_has_email_password_and_csrf_fields(http: httpx.AsyncClient) -> None:
    response = await http.get("/portal/login")
    assert response.status_code == 200
    for field in ('name="email"', 'name="password"', 'type="hidden" name="csrf_token"'):
        assert field in response.text
    assert '<label for="email">' in response.text
    assert '<label for="password">' in response.text


async def test_portal_page_sends_csp_without_inline_script_and_no_framing(http: httpx.AsyncClient) -> None:
    response = await http.get("/portal/login")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "<script>" not in response.text  # only <script src=...>
    assert response.headers["cache-control"] == "no-store"


async def test_login_good_password_sets_httponly_lax_session_cookie(
    http: httpx.AsyncClient, make_user: MakeUser
) -> None:
    response = await sign_in(http, await make_user())
    assert response.status_code == 303
    assert response.headers["location"] == "/portal/"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("pp_session="))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "samesite"} <= attributes
    assert "samesite=lax" in cookie.lower()
    assert "secure" not in attributes  # plain HTTP here
    home = await http.get("/portal/")
    assert home.status_code == 200
    assert home.headers["cache-control"] == "no-store"


async def test_login_over_https_sets_secure_cookie(app: FastAPI, make_user: MakeUser) -> None:
    login = await make_user()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        response = await sign_in(client, login)
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("pp_session="))
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}


async def test_login_wrong_password_returns_401_without_session(
    http: httpx.AsyncClient, make_user: MakeUser
) -> None:
    login = await make_user()
    response = await sign_in(http, Login(login.email, "not-the-password", login.provider_slug, login.role))
    assert response.status_code == 401
    assert "pp_session" not in response.headers.get("set-cookie", "")
    assert "no son correctos" in response.text
    assert (await http.get("/portal/")).status_code == 303


async def test_login_unknown_email_answers_like_a_wrong_password(http: httpx.AsyncClient) -> None:
    response = await sign_in(http, Login("nobody@example.org", "whatever-password", "x", "staff"))
    assert response.status_code == 401
    assert "no son correctos" in response.text


async def test_page_without_session_redirects_to_login(http: httpx.AsyncClient) -> None:
    response = await http.get("/portal/products?type=LAB")
    assert response.status_code == 303
    assert response.headers["location"] == "/portal/login?next=%2Fportal%2Fproducts%3Ftype%3DLAB"


async def test_login_without_csrf_token_returns_403(http: httpx.AsyncClient, make_user: MakeUser) -> None:
    login = await make_user()
    await http.get("/portal/login")  # the pre-login CSRF cookie is set, but the form omits the token
    response = await http.post("/portal/login", data={"email": login.email, "password": login.password})
    assert response.status_code == 403
    assert "pp_session" not in response.headers.get("set-cookie", "")


async def test_post_with_another_sessions_csrf_token_returns_403(signed_in: Any) -> None:
    first = await signed_in()
    second = await signed_in(provider="farmacia-b")
    foreign = csrf_of((await second.get("/portal/catalogue")).text)
    response = await first.post(
        "/portal/catalogue/register", data={"product_code": "MED-042", "csrf_token": foreign}
    )
    assert response.status_code == 403
    assert "formulario" in response.text
    products = await first.get("/portal/products")
    assert "MED-042" not in products.text


async def test_logout_without_csrf_returns_403_and_keeps_session(signed_in: Any) -> None:
    client = await signed_in()
    assert (await client.post("/portal/logout")).status_code == 403
    assert (await client.get("/portal/")).status_code == 200


async def test_logout_ends_session_even_for_a_copied_cookie(signed_in: Any, app: FastAPI) -> None:
    client = await signed_in()
    cookie = client.cookies["pp_session"]
    token = csrf_of((await client.get("/portal/")).text)
    response = await client.post("/portal/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"] == "/portal/login"
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", cookies={"pp_session": cookie}
    ) as replay:
        assert (await replay.get("/portal/")).status_code == 303


async def test_session_is_served_by_another_worker_on_the_same_database(
    signed_in: Any, settings: Settings
) -> None:
    client = await signed_in()
    other = create_app(settings)  # a second process's application: nothing shared but the database
    transport = httpx.ASGITransport(app=other)
    try:
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://testserver",
            cookies={"pp_session": client.cookies["pp_session"]},
        ) as worker:
            response = await worker.get("/portal/")
        assert response.status_code == 200
        assert "admin@farmacia-a.example" in response.text
    finally:
        await other.state.runtime.database.dispose()
        await other.state.runtime.limiter.close()


async def test_expired_session_redirects_to_login(signed_in: Any, app: FastAPI) -> None:
    client = await signed_in()
    async with app.state.runtime.database.transaction(write=True) as conn:
        await conn.execute(text("UPDATE portal_session SET expires_at = created_at"))
    response = await client.get("/portal/")
    assert response.status_code == 303
    assert response.headers["location"] == "/portal/login"


async def test_disable_user_ends_their_sessions(signed_in: Any, app: FastAPI, make_user: MakeUser) -> None:
    login = await make_user(role="staff")
    client = await signed_in(login)
    assert (await client.get("/portal/")).status_code == 200
    async with app.state.runtime.database.transaction(write=True) as conn:
        ended = await portal_service.set_active(conn, email=login.email, active=False)
        left = await portal_service.session_count(
            conn, user_id=(await portal_service.find_user(conn, email=login.email)).id
        )
    assert ended == 1
    assert left == 0
    assert (await client.get("/portal/")).status_code == 303
    again = await sign_in(client, login)
    assert again.status_code == 401


async def test_login_per_account_rate_limit_refuses_sixth_attempt_then_recovers(
    http: httpx.AsyncClient, make_user: MakeUser, clock: FakeClock
) -> None:
    login = await make_user()
    wrong = Login(login.email, "wrong-password-x", login.provider_slug, login.role)
    for _ in range(5):
        assert (await sign_in(http, wrong)).status_code == 401
    refused = await sign_in(http, login)  # even the right password: the account is being guessed at
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert "Demasiados intentos" in refused.text
    clock.advance(61)
    assert (await sign_in(http, login)).status_code == 303


async def test_login_per_address_rate_limit_spans_accounts(http: httpx.AsyncClient, clock: FakeClock) -> None:
    statuses = [
        (await sign_in(http, Login(f"guess{i}@example.org", "password-guess", "x", "staff"))).status_code
        for i in range(21)
    ]
    assert statuses[:20] == [401] * 20
    assert statuses[20] == 429


async def test_change_password_wrong_current_refused(signed_in: Any) -> None:
    client = await signed_in()
    token = csrf_of((await client.get("/portal/password")).text)
    response = await client.post(
        "/portal/password",
        data={
            "csrf_token": token,
            "current": "not-it",
            "new": "a-new-password-1",
            "confirm": "a-new-password-1",
        },
    )
    assert response.status_code == 400
    assert "contraseña actual no es correcta" in response.text


async def test_change_password_new_works_old_does_not_and_other_sessions_end(
    app: FastAPI, make_user: MakeUser, signed_in: Any
) -> None:
    login = await make_user()
    client = await signed_in(login)
    other = await signed_in(login)
    token = csrf_of((await client.get("/portal/password")).text)
    new = "correct horse battery"
    response = await client.post(
        "/portal/password", data={"csrf_token": token, "current": login.password, "new": new, "confirm": new}
    )
    assert response.status_code == 200
    assert (await client.get("/portal/")).status_code == 200
    assert (await other.get("/portal/")).status_code == 303
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as fresh:
        assert (await sign_in(fresh, login)).status_code == 401
        assert (
            await sign_in(fresh, Login(login.email, new, login.provider_slug, login.role))
        ).status_code == 303


async def test_change_password_too_short_refused(signed_in: Any, make_user: MakeUser) -> None:
    login = await make_user()
    client = await signed_in(login)
    token = csrf_of((await client.get("/portal/password")).text)
    response = await client.post(
        "/portal/password",
        data={"csrf_token": token, "current": login.password, "new": "short", "confirm": "short"},
    )
    assert response.status_code == 400
