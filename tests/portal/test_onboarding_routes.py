"""The onboarding pages over HTTP, both backends: upload, review, register, report; CSRF, roles, isolation."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from provider_products.auth import service as auth_service
from provider_products.db.base import utcnow
from provider_products.db.engine import Database
from provider_products.portal.onboarding import inventory, service
from provider_products.portal.onboarding.models import OnboardingJob
from tests.portal.conftest import csrf_of
from tests.portal.test_onboarding_service import CSV_INVENTORY, xlsx_inventory


@dataclass
class Person:
    """A signed-in portal user: a client holding their session cookie, and their forms' CSRF token."""

    client: httpx.AsyncClient
    csrf: str


People = Callable[..., Awaitable[Person]]


@pytest.fixture
def people(signed_in: Any) -> People:
    """Sign a new portal user in (staff of farmacia-a unless told) and read their CSRF token."""

    async def make(provider: str = "farmacia-a", *, role: str = "staff", email: str | None = None) -> Person:
        client = await signed_in(provider=provider, role=role, email=email)
        page = await client.get("/portal/onboarding")
        assert page.status_code == 200, page.text
        return Person(client, csrf_of(page.text))

    return make


async def _upload(person: Person, name: str, data: bytes, *, csrf: str | None = None) -> httpx.Response:
    return await person.client.post(
        "/portal/onboarding",
        data={"csrf_token": person.csrf if csrf is None else csrf},
        files={"inventory": (name, data, "application/octet-stream")},
    )


async def _job_path(person: Person, name: str, data: bytes) -> str:
    response = await _upload(person, name, data)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert re.fullmatch(r"/portal/onboarding/job_[0-9a-f]{24}", location)
    return location


async def _finished(person: Person, path: str) -> dict[str, object]:
    for _ in range(200):
        body: dict[str, object] = (await person.client.get(f"{path}/progress.json")).json()
        if body["finished"]:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"the registration did not finish: {body}")


async def test_upload_xlsx_review_register_and_report(people: People) -> None:
    person = await people()
    path = await _job_path(person, "inventario.xlsx", xlsx_inventory(["Hemograma completo", "Rx torax"]))
    review = await person.client.get(path)
    assert review.status_code == 200
    assert "Hemograma completo" in review.text
    assert 'value="__none__"' in review.text
    assert "no-store" in review.headers["cache-control"]
    answer = await person.client.post(
        f"{path}/register", data={"csrf_token": person.csrf, "row-1": "IMG-SBX-0002", "page": "0"}
    )
    assert (answer.status_code, answer.headers["location"]) == (303, f"{path}/progress")
    progress = await _finished(person, path)
    assert progress["outcomes"] == {"registered": 2, "already_registered": 0, "not_in_catalogue": 0}
    page = await person.client.get(f"{path}/progress")
    assert 'id="progress-bar" max="2" value="2"' in page.text
    report = await person.client.get(f"{path}/report.csv")
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/csv")
    assert 'filename="inventario.report.csv"' in report.headers["content-disposition"]
    lines = list(csv.DictReader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert [(r["line"], r["decision"], r["product_code"], r["outcome"]) for r in lines] == [
        ("3", "accepted", "LAB-HEMO", "registered"),
        ("4", "chosen", "IMG-SBX-0002", "registered"),
    ]


async def test_save_decisions_redirects_to_the_page_and_keeps_them(people: People) -> None:
    person = await people()
    path = await _job_path(person, "inventario.csv", CSV_INVENTORY)
    answer = await person.client.post(
        f"{path}/decisions", data={"csrf_token": person.csrf, "row-0": "__none__", "page": "0"}
    )
    assert (answer.status_code, answer.headers["location"]) == (303, f"{path}?page=0&saved=1")
    review = await person.client.get(answer.headers["location"])
    assert re.search(r'<option value="__none__" selected>', review.text)
    refused = await person.client.post(
        f"{path}/decisions", data={"csrf_token": person.csrf, "row-0": "LAB-HEMO"}
    )
    assert refused.status_code == 400


async def test_forms_without_the_csrf_token_are_refused(people: People) -> None:
    person = await people()
    refused = await _upload(person, "inventario.csv", CSV_INVENTORY, csrf="forged")
    assert refused.status_code == 403
    assert 'data-job="' not in (await person.client.get("/portal/onboarding")).text
    path = await _job_path(person, "inventario.csv", CSV_INVENTORY)
    for action in ("decisions", "register"):
        answer = await person.client.post(f"{path}/{action}", data={"row-0": "__none__"})
        assert answer.status_code == 403
    body = (await person.client.get(f"{path}/progress.json")).json()
    assert (body["status"], body["settled"]) == ("review", 0)
    listing = await person.client.get("/portal/onboarding")
    assert listing.text.count('data-job="') == 1


async def test_admin_may_use_the_page_too(people: People) -> None:
    admin = await people(email="jefa@farmacia-a.example", role="admin")
    path = await _job_path(admin, "inventario.csv", CSV_INVENTORY)
    assert (await admin.client.get(path)).status_code == 200


async def test_another_provider_can_neither_see_nor_act_on_the_job(people: People) -> None:
    owner = await people()
    path = await _job_path(owner, "inventario.csv", CSV_INVENTORY)
    stranger = await people("farmacia-b", email="beto@farmacia-b.example")
    for tail in ("", "/progress", "/report.csv", "/progress.json"):
        assert (await stranger.client.get(path + tail)).status_code == 404, tail
    for action in ("decisions", "register"):
        answer = await stranger.client.post(
            f"{path}/{action}", data={"csrf_token": stranger.csrf, "row-0": "__none__"}
        )
        assert answer.status_code == 404, action
    assert 'data-job="' not in (await stranger.client.get("/portal/onboarding")).text
    body = (await owner.client.get(f"{path}/progress.json")).json()
    assert (body["status"], body["settled"]) == ("review", 0)
    review = await owner.client.get(path)
    assert not re.search(r'<option value="__none__" selected>', review.text)


@pytest.mark.parametrize(
    ("name", "data", "shown"),
    [
        ("inventario.pdf", b"%PDF-1.4", "only CSV (.csv) or Excel (.xlsx) files are read"),
        ("inventario.csv", b"", "the file is empty"),
        ("inventario.csv", b"codigo;cantidad\nA-1;3\n", "has no &#39;name&#39; column"),
        ("inventario.xlsx", b"PK\x03\x04garbage", "cannot read inventario.xlsx as an .xlsx workbook"),
    ],
)
async def test_bad_upload_is_a_clear_message(people: People, name: str, data: bytes, shown: str) -> None:
    person = await people()
    answer = await _upload(person, name, data)
    assert answer.status_code == 422
    assert 'id="upload-error"' in answer.text
    assert shown in answer.text


async def test_upload_over_the_limit_is_a_clear_message_not_a_413(people: People) -> None:
    person = await people()
    answer = await _upload(person, "grande.csv", b"nombre\n" + b"x" * inventory.MAX_UPLOAD_BYTES)
    assert answer.status_code == 422
    assert "larger than 10 MB" in answer.text


async def test_pages_need_a_session(http: httpx.AsyncClient) -> None:
    answer = await http.get("/portal/onboarding/job_0123456789abcdef01234567")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/portal/login")


async def test_interrupted_registration_is_shown_and_resumed(people: People, app: FastAPI) -> None:
    person = await people()
    path = await _job_path(person, "inventario.csv", CSV_INVENTORY)
    job_id = path.rsplit("/", 1)[1]
    database: Database = app.state.runtime.database
    async with database.transaction(write=True) as conn:  # a run that died after taking its lease
        provider = await auth_service.find_provider(conn, slug="farmacia-a")
        assert provider is not None
        assert await service.start_registration(conn, provider_id=provider.id, job_id=job_id, token="dead")
        await conn.execute(update(OnboardingJob).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    page = await person.client.get(f"{path}/progress")
    assert "El registro se interrumpió" in page.text
    assert 'id="run-again">Reanudar<' in page.text
    body = (await person.client.get(f"{path}/progress.json")).json()
    assert (body["interrupted"], body["running"], body["settled"]) == (True, False, 0)
    answer = await person.client.post(f"{path}/register", data={"csrf_token": person.csrf})
    assert answer.status_code == 303
    done = await _finished(person, path)
    assert done["outcomes"] == {"registered": 3, "already_registered": 0, "not_in_catalogue": 0}
