"""Downstream records honour the registry: file, remove, read back, refuse, register again, history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import ApiClient, assert_error

PRODUCTS = "/arc/v1/providers/products"
AUTHORIZATIONS = "/arc/v1/authorization-requests"
PRESCRIPTIONS = "/ehr/v1/prescriptions"
CLAIMS = "/arc/v1/outpatient-care-claim"
ALL_SCOPES = "arc:read arc:write ehr:read ehr:write"


def _authorization(*codes: tuple[str, str]) -> dict[str, Any]:
    return {
        "beneficiary_id": "bnf_001",
        "sponsor_slug": "sponsor-sandbox",
        "diagnosis_code": "J06.9",
        "products": [
            {"product_code": c, "product_type": t, "quantity": 1, "posology": "1 cada 8 h"} for c, t in codes
        ],
    }


def _prescription(*codes: str) -> dict[str, Any]:
    return {
        "patient_id": "pat_001",
        "diagnoses": [{"diagnosis_code": "J06.9"}],
        "medications": [
            {"product_code": c, "quantity": 20, "posology": "1 tableta cada 8 horas", "duration_days": 7}
            for c in codes
        ],
    }


def _claim(*codes: tuple[str, str], authorization_id: str | None = None) -> dict[str, Any]:
    return {
        "beneficiary_id": "bnf_001",
        "sponsor_slug": "sponsor-sandbox",
        "authorization_id": authorization_id,
        "diagnosis_code": "J06.9",
        "line_items": [{"product_code": c, "product_type": t, "quantity": 1} for c, t in codes],
    }


async def _register(http: httpx.AsyncClient, client: ApiClient, *codes: str) -> None:
    for code in codes:
        assert (
            await http.post(PRODUCTS, json={"product_code": code}, headers=client.headers)
        ).status_code == 201


async def test_guide_story_file_remove_read_refuse_register_again(
    http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client(scopes=ALL_SCOPES, rate_limit="1000/minute")
    h = client.headers
    await _register(http, client, "MED-042", "CONS-GEN")

    areq = await http.post(AUTHORIZATIONS, json=_authorization(("MED-042", "MEDICATION")), headers=h)
    assert areq.status_code == 201, areq.text
    areq_body = areq.json()
    assert areq_body["authorization_id"].startswith("areq_")
    assert areq_body["status"] == "PENDING_INDICATION"
    assert areq_body["products"][0] == {
        "product_code": "MED-042",
        "product_type": "MEDICATION",
        "name": "Paracetamol 500 mg Tableta",
        "quantity": 1,
        "posology": "1 cada 8 h",
        "duration_days": None,
    }
    completed = await http.post(f"{AUTHORIZATIONS}/{areq_body['authorization_id']}/complete", headers=h)
    assert completed.json()["status"] == "COMPLETED"

    rx = await http.post(PRESCRIPTIONS, json=_prescription("med-042"), headers=h)
    assert rx.status_code == 201, rx.text
    assert rx.json()["prescription_id"].startswith("rx_")
    clm = await http.post(
        CLAIMS,
        json=_claim(
            ("MED-042", "MEDICATION"),
            ("CONS-GEN", "PROCEDURE"),
            authorization_id=areq_body["authorization_id"],
        ),
        headers=h,
    )
    assert clm.status_code == 201, clm.text
    assert set(clm.json()) == {"claim_id", "status", "created_at"}
    assert clm.json()["status"] == "OPEN"
    claim_id = clm.json()["claim_id"]
    before = {
        "areq": (await http.get(f"{AUTHORIZATIONS}/{areq_body['authorization_id']}", headers=h)).json(),
        "rx": (await http.get(f"{PRESCRIPTIONS}/{rx.json()['prescription_id']}", headers=h)).json(),
        "clm": (await http.get(f"{CLAIMS}/{claim_id}", headers=h)).json(),
    }

    assert (await http.delete(f"{PRODUCTS}/MED-042", headers=h)).status_code == 204

    after = {
        "areq": (await http.get(f"{AUTHORIZATIONS}/{areq_body['authorization_id']}", headers=h)).json(),
        "rx": (await http.get(f"{PRESCRIPTIONS}/{rx.json()['prescription_id']}", headers=h)).json(),
        "clm": (await http.get(f"{CLAIMS}/{claim_id}", headers=h)).json(),
    }
    assert after == before
    refused = await http.post(PRESCRIPTIONS, json=_prescription("MED-042"), headers=h)
    assert assert_error(refused, 422, "071-104") == {"product_codes": ["MED-042"]}
    assert_error(
        await http.post(AUTHORIZATIONS, json=_authorization(("MED-042", "MEDICATION")), headers=h),
        422,
        "071-104",
    )
    assert_error(await http.post(CLAIMS, json=_claim(("MED-042", "MEDICATION")), headers=h), 422, "071-104")

    await _register(http, client, "MED-042")
    assert (await http.post(PRESCRIPTIONS, json=_prescription("MED-042"), headers=h)).status_code == 201


async def test_record_with_several_unregistered_codes_lists_all_and_stores_nothing(
    app: Any, http: httpx.AsyncClient, make_client: Any
) -> None:
    client: ApiClient = await make_client(scopes=ALL_SCOPES)
    await _register(http, client, "MED-042")
    body = _authorization(
        ("MED-042", "MEDICATION"),
        ("LAB-HEMO", "LAB"),
        ("Not-In-Catalogue", "LAB"),
        ("lab-hemo", "LAB"),
        ("NOT-IN-CATALOGUE", "LAB"),
    )
    response = await http.post(AUTHORIZATIONS, json=body, headers=client.headers)
    # Codes compare case-insensitively: an unknown one is named once, as the request first spelt it.
    assert assert_error(response, 422, "071-104") == {"product_codes": ["LAB-HEMO", "Not-In-Catalogue"]}
    from sqlalchemy import func, select

    from provider_products.downstream.models import DownstreamRecord, DownstreamRecordLine

    async with app.state.runtime.database.transaction() as conn:
        records = (await conn.execute(select(func.count()).select_from(DownstreamRecord))).scalar_one()
        lines = (await conn.execute(select(func.count()).select_from(DownstreamRecordLine))).scalar_one()
    assert (records, lines) == (0, 0)


async def test_line_type_contradicting_catalogue_is_422(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client(scopes=ALL_SCOPES)
    await _register(http, client, "LAB-HEMO")
    response = await http.post(CLAIMS, json=_claim(("LAB-HEMO", "IMAGING")), headers=client.headers)
    info = assert_error(response, 422, "071-105")
    assert info["errors"][0]["field"] == "line_items.0.product_type"


async def test_prescription_of_a_non_medication_is_422(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client(scopes=ALL_SCOPES)
    await _register(http, client, "LAB-HEMO")
    response = await http.post(PRESCRIPTIONS, json=_prescription("LAB-HEMO"), headers=client.headers)
    info = assert_error(response, 422, "071-105")
    assert info["errors"][0]["field"] == "medications.0.product_code"


async def test_claim_naming_unknown_authorization_is_422(http: httpx.AsyncClient, make_client: Any) -> None:
    client: ApiClient = await make_client(scopes=ALL_SCOPES)
    await _register(http, client, "CONS-GEN")
    body = _claim(("CONS-GEN", "PROCEDURE"), authorization_id="areq_doesnotexist")
    info = assert_error(await http.post(CLAIMS, json=body, headers=client.headers), 422, "071-105")
    assert info["errors"] == [{"field": "authorization_id", "message": "no such authorization request"}]


async def test_another_provider_reads_none_of_the_records(http: httpx.AsyncClient, make_client: Any) -> None:
    a: ApiClient = await make_client("farmacia-a", scopes=ALL_SCOPES)
    b: ApiClient = await make_client("farmacia-b", scopes=ALL_SCOPES)
    await _register(http, a, "MED-042", "CONS-GEN")
    areq = (
        await http.post(AUTHORIZATIONS, json=_authorization(("MED-042", "MEDICATION")), headers=a.headers)
    ).json()
    rx = (await http.post(PRESCRIPTIONS, json=_prescription("MED-042"), headers=a.headers)).json()
    clm = (await http.post(CLAIMS, json=_claim(("CONS-GEN", "PROCEDURE")), headers=a.headers)).json()
    for path in (
        f"{AUTHORIZATIONS}/{areq['authorization_id']}",
        f"{PRESCRIPTIONS}/{rx['prescription_id']}",
        f"{CLAIMS}/{clm['claim_id']}",
    ):
        assert_error(await http.get(path, headers=b.headers), 404, "071-404")
    assert_error(
        await http.post(f"{AUTHORIZATIONS}/{areq['authorization_id']}/complete", headers=b.headers),
        404,
        "071-404",
    )
    # B cannot file against A's registrations either.
    assert_error(
        await http.post(PRESCRIPTIONS, json=_prescription("MED-042"), headers=b.headers), 422, "071-104"
    )


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", f"{AUTHORIZATIONS}/areq_%00", "authorization_id"),
        ("POST", f"{AUTHORIZATIONS}/%00/complete", "authorization_id"),
        ("GET", f"{PRESCRIPTIONS}/%00", "prescription_id"),
        ("GET", f"{CLAIMS}/clm%00x", "claim_id"),
    ],
)
async def test_record_id_with_nul_is_422_on_every_backend(
    http: httpx.AsyncClient, make_client: Any, method: str, path: str, field: str
) -> None:
    # PostgreSQL text cannot hold NUL: asking it would fail the request with 503.
    client: ApiClient = await make_client(scopes=ALL_SCOPES)
    response = await http.request(method, path, headers=client.headers)
    info = assert_error(response, 422, "071-105")
    assert [e["field"] for e in info["errors"]] == [field]  # type: ignore[index]


async def test_records_need_their_scopes(http: httpx.AsyncClient, make_client: Any) -> None:
    arc_only: ApiClient = await make_client(scopes="arc:read arc:write")
    await _register(http, arc_only, "MED-042")
    assert_error(
        await http.post(PRESCRIPTIONS, json=_prescription("MED-042"), headers=arc_only.headers),
        403,
        "071-403",
    )
    ehr_only: ApiClient = await make_client(scopes="ehr:read")
    response = await http.post(
        AUTHORIZATIONS, json=_authorization(("MED-042", "MEDICATION")), headers=ehr_only.headers
    )
    assert_error(response, 403, "071-403")


async def test_history_lists_every_period(http: httpx.AsyncClient, make_client: Any, clock: Any) -> None:
    client: ApiClient = await make_client()
    await _register(http, client, "MED-042")
    await http.delete(f"{PRODUCTS}/MED-042", headers=client.headers)
    await _register(http, client, "MED-042")
    response = await http.get(f"{PRODUCTS}/med-042/history", headers=client.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["product_code"] == "MED-042"
    assert len(body["periods"]) == 2
    assert body["periods"][0]["removed_at"] is not None
    assert body["periods"][1]["removed_at"] is None
    assert_error(await http.get(f"{PRODUCTS}/LAB-HEMO/history", headers=client.headers), 404, "071-103")


async def test_validate_answers_inside_between_and_after_periods(
    app: Any, http: httpx.AsyncClient, make_client: Any
) -> None:
    from sqlalchemy import insert, select

    from provider_products.catalogue.models import CatalogueProduct
    from provider_products.registry.models import ProviderProduct

    client: ApiClient = await make_client()
    await _register(http, client, "LAB-HEMO")  # creates the provider row we need, and one current period
    t0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    async with app.state.runtime.database.transaction(write=True) as conn:
        product_id = (
            await conn.execute(select(CatalogueProduct.id).where(CatalogueProduct.code_key == "MED-042"))
        ).scalar_one()
        provider_id = (await conn.execute(select(ProviderProduct.provider_id).limit(1))).scalar_one()
        await conn.execute(
            insert(ProviderProduct),
            [
                {
                    "provider_id": provider_id,
                    "product_id": product_id,
                    "code_key": "MED-042",
                    "product_type": "MEDICATION",
                    "registered_at": t0,
                    "removed_at": t0 + timedelta(days=10),
                },
                {
                    "provider_id": provider_id,
                    "product_id": product_id,
                    "code_key": "MED-042",
                    "product_type": "MEDICATION",
                    "registered_at": t0 + timedelta(days=20),
                    "removed_at": t0 + timedelta(days=30),
                },
            ],
        )

    async def registered(at: datetime) -> bool:
        body = {"product_codes": ["med-042"], "at": at.strftime("%Y-%m-%dT%H:%M:%SZ")}
        response = await http.post(f"{PRODUCTS}/validate", json=body, headers=client.headers)
        assert response.status_code == 200, response.text
        result = response.json()["results"][0]
        assert result["product_code"] == "MED-042"
        return bool(result["registered"])

    assert await registered(t0 - timedelta(seconds=1)) is False  # before
    assert await registered(t0) is True  # the first second of the period
    assert await registered(t0 + timedelta(days=5)) is True  # inside
    assert await registered(t0 + timedelta(days=10)) is False  # the moment it was removed
    assert await registered(t0 + timedelta(days=15)) is False  # between
    assert await registered(t0 + timedelta(days=25)) is True  # inside the second
    assert await registered(t0 + timedelta(days=40)) is False  # after
    now = await http.post(
        f"{PRODUCTS}/validate",
        json={"product_codes": ["LAB-HEMO", "MED-042", "NOPE-1", "bad code"]},
        headers=client.headers,
    )
    assert [r["registered"] for r in now.json()["results"]] == [True, False, False, False]
