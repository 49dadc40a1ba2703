"""Downstream filing rules, called directly on the service: registered products only, types agree."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from provider_products.auth import service as auth_service
from provider_products.db.engine import Connection, Database
from provider_products.downstream import service as downstream_service
from provider_products.downstream.models import DownstreamRecord, DownstreamRecordLine
from provider_products.downstream.schemas import AuthorizationRequestCreate, ClaimCreate, PrescriptionCreate
from provider_products.errors import ProductsNotRegistered, RecordNotFound, ValidationFailed
from provider_products.registry import service as registry_service


async def _provider(database: Database, slug: str, codes: tuple[str, ...] = ()) -> int:
    async with database.transaction(write=True) as conn:
        provider_id = await auth_service.create_provider(conn, slug=slug, name=slug.title())
        for code in codes:
            await registry_service.register(conn, provider_id=provider_id, code=code)
    return provider_id


@pytest.fixture
async def provider(database: Database) -> int:
    """A provider holding MED-042 and LAB-HEMO."""
    return await _provider(database, "farmacia-a", ("MED-042", "LAB-HEMO"))


@pytest.fixture
async def other(database: Database) -> int:
    """Another provider holding the same products."""
    return await _provider(database, "farmacia-b", ("MED-042", "LAB-HEMO"))


def _claim(*lines: tuple[str, str], authorization_id: str | None = None) -> ClaimCreate:
    return ClaimCreate(
        beneficiary_id="ben-1",
        sponsor_slug="seguros-x",
        diagnosis_code="J06.9",
        authorization_id=authorization_id,
        line_items=[{"product_code": c, "product_type": t, "quantity": 1} for c, t in lines],
    )


def _authorization(*lines: tuple[str, str]) -> AuthorizationRequestCreate:
    return AuthorizationRequestCreate(
        beneficiary_id="ben-1",
        sponsor_slug="seguros-x",
        diagnosis_code="J06.9",
        products=[{"product_code": c, "product_type": t, "quantity": 2} for c, t in lines],
    )


def _prescription(*codes: str) -> PrescriptionCreate:
    return PrescriptionCreate(
        patient_id="pat-1",
        diagnoses=[{"diagnosis_code": "J06.9"}],
        medications=[{"product_code": c, "quantity": 10, "duration_days": 5} for c in codes],
    )


async def _stored(database: Database) -> tuple[int, int]:
    async with database.transaction() as conn:
        records = (await conn.execute(select(func.count()).select_from(DownstreamRecord))).scalar_one()
        lines = (await conn.execute(select(func.count()).select_from(DownstreamRecordLine))).scalar_one()
    return int(records), int(lines)


async def _file_claim(database: Database, provider_id: int, body: ClaimCreate) -> Any:
    async with database.transaction(write=True) as conn:
        return await downstream_service.create_claim(conn, provider_id=provider_id, body=body)


# filing refused


async def test_create_claim_with_unregistered_codes_raises_listing_every_one_once(
    database: Database, provider: int, inactive_code: str
) -> None:
    body = _claim(
        ("LAB-HEMO", "LAB"),
        ("cons-gen", "PROCEDURE"),
        ("NOPE-9", "LAB"),
        ("CONS-GEN", "PROCEDURE"),
        (inactive_code.lower(), "LAB"),
    )
    with pytest.raises(ProductsNotRegistered) as caught:
        await _file_claim(database, provider, body)
    assert caught.value.additional_information == {"product_codes": ["CONS-GEN", "NOPE-9", inactive_code]}
    assert (caught.value.status_code, caught.value.error_code) == (422, "071-104")


async def _refused_codes(database: Database, provider_id: int, kind: str, codes: list[str]) -> object:
    """File a record of ``kind`` with these codes; return the codes the refusal named."""
    lines = [(c, "MEDICATION") for c in codes]
    file: dict[str, Callable[[Connection], Awaitable[object]]] = {
        "prescription": lambda conn: downstream_service.create_prescription(
            conn, provider_id=provider_id, body=_prescription(*codes)
        ),
        "authorization_request": lambda conn: downstream_service.create_authorization_request(
            conn, provider_id=provider_id, body=_authorization(*lines)
        ),
        "outpatient_claim": lambda conn: downstream_service.create_claim(
            conn, provider_id=provider_id, body=_claim(*lines)
        ),
    }
    async with database.transaction(write=True) as conn:
        with pytest.raises(ProductsNotRegistered) as caught:
            await file[kind](conn)
    return caught.value.additional_information["product_codes"]


@pytest.mark.parametrize("kind", ["prescription", "authorization_request", "outpatient_claim"])
async def test_create_record_with_unknown_code_in_several_cases_names_it_once_as_first_written(
    database: Database, provider: int, kind: str
) -> None:
    codes = ["nope-9", "MED-042", "NOPE-9", " Nope-9 ", "otro-1", "OTRO-1", "med-042"]
    assert await _refused_codes(database, provider, kind, codes) == ["nope-9", "otro-1"]
    assert await _stored(database) == (0, 0)


async def test_create_claim_with_unregistered_code_stores_nothing(database: Database, provider: int) -> None:
    with pytest.raises(ProductsNotRegistered):
        await _file_claim(database, provider, _claim(("MED-042", "MEDICATION"), ("CONS-GEN", "PROCEDURE")))
    assert await _stored(database) == (0, 0)


async def test_create_claim_with_code_only_other_provider_holds_raises_products_not_registered(
    database: Database, other: int
) -> None:
    mine = await _provider(database, "farmacia-c")
    with pytest.raises(ProductsNotRegistered) as caught:
        await _file_claim(database, mine, _claim(("MED-042", "MEDICATION")))
    assert caught.value.additional_information == {"product_codes": ["MED-042"]}


async def test_create_claim_after_removal_raises_products_not_registered(
    database: Database, provider: int
) -> None:
    async with database.transaction(write=True) as conn:
        await registry_service.remove(conn, provider_id=provider, code="LAB-HEMO")
    with pytest.raises(ProductsNotRegistered) as caught:
        await _file_claim(database, provider, _claim(("LAB-HEMO", "LAB")))
    assert caught.value.additional_information == {"product_codes": ["LAB-HEMO"]}


async def test_create_claim_unregistered_and_contradicting_lines_raises_products_not_registered_first(
    database: Database, provider: int
) -> None:
    with pytest.raises(ProductsNotRegistered):
        await _file_claim(database, provider, _claim(("LAB-HEMO", "IMAGING"), ("CONS-GEN", "PROCEDURE")))


async def test_create_authorization_request_type_contradiction_raises_validation_failed_per_line(
    database: Database, provider: int
) -> None:
    async with database.transaction(write=True) as conn:
        with pytest.raises(ValidationFailed) as caught:
            await downstream_service.create_authorization_request(
                conn,
                provider_id=provider,
                body=_authorization(("MED-042", "MEDICATION"), ("lab-hemo", "IMAGING"), ("MED-042", "LAB")),
            )
    assert caught.value.additional_information["errors"] == [
        {"field": "products.1.product_type", "message": "LAB-HEMO is a LAB product, not IMAGING"},
        {"field": "products.2.product_type", "message": "MED-042 is a MEDICATION product, not LAB"},
    ]
    assert await _stored(database) == (0, 0)


async def test_create_prescription_of_non_medication_raises_validation_failed(
    database: Database, provider: int
) -> None:
    async with database.transaction(write=True) as conn:
        with pytest.raises(ValidationFailed) as caught:
            await downstream_service.create_prescription(
                conn, provider_id=provider, body=_prescription("MED-042", "LAB-HEMO")
            )
    assert caught.value.additional_information["errors"] == [
        {"field": "medications.1.product_code", "message": "LAB-HEMO is a LAB, not a MEDICATION"}
    ]
    assert await _stored(database) == (0, 0)


async def test_create_claim_naming_unknown_authorization_raises_validation_failed(
    database: Database, provider: int
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await _file_claim(database, provider, _claim(("LAB-HEMO", "LAB"), authorization_id="areq_0000"))
    assert caught.value.additional_information["errors"][0]["field"] == "authorization_id"


async def test_create_claim_naming_other_providers_authorization_raises_validation_failed(
    database: Database, provider: int, other: int
) -> None:
    async with database.transaction(write=True) as conn:
        theirs = await downstream_service.create_authorization_request(
            conn, provider_id=other, body=_authorization(("LAB-HEMO", "LAB"))
        )
    with pytest.raises(ValidationFailed):
        await _file_claim(
            database, provider, _claim(("LAB-HEMO", "LAB"), authorization_id=theirs.authorization_id)
        )


# filing accepted


async def test_create_prescription_lower_case_codes_files_lines_in_catalogue_spelling(
    database: Database, provider: int
) -> None:
    async with database.transaction(write=True) as conn:
        filed = await downstream_service.create_prescription(
            conn, provider_id=provider, body=_prescription("med-042")
        )
    assert filed.prescription_id.startswith("rx_")
    (line,) = filed.medications
    assert (line.product_code, line.product_type, line.name) == (
        "MED-042",
        "MEDICATION",
        "Paracetamol 500 mg Tableta",
    )
    assert (line.quantity, line.duration_days) == (10, 5)
    assert await _stored(database) == (1, 1)


async def test_create_claim_registered_codes_is_read_back_with_its_lines_in_order(
    database: Database, provider: int
) -> None:
    created = await _file_claim(database, provider, _claim(("lab-hemo", "LAB"), ("MED-042", "MEDICATION")))
    async with database.transaction() as conn:
        claim = await downstream_service.get_claim(conn, provider_id=provider, public_id=created.claim_id)
    assert claim.claim_id.startswith("clm_")
    assert (claim.status, claim.created_at) == ("OPEN", created.created_at)
    assert [line.product_code for line in claim.line_items] == ["LAB-HEMO", "MED-042"]


async def test_create_claim_naming_own_authorization_is_filed(database: Database, provider: int) -> None:
    async with database.transaction(write=True) as conn:
        auth = await downstream_service.create_authorization_request(
            conn, provider_id=provider, body=_authorization(("LAB-HEMO", "LAB"))
        )
    created = await _file_claim(
        database, provider, _claim(("LAB-HEMO", "LAB"), authorization_id=auth.authorization_id)
    )
    async with database.transaction() as conn:
        claim = await downstream_service.get_claim(conn, provider_id=provider, public_id=created.claim_id)
    assert claim.authorization_id == auth.authorization_id


async def test_complete_authorization_request_twice_keeps_first_completion(
    database: Database, provider: int
) -> None:
    async with database.transaction(write=True) as conn:
        filed = await downstream_service.create_authorization_request(
            conn, provider_id=provider, body=_authorization(("LAB-HEMO", "LAB"))
        )
    assert (filed.status, filed.completed_at) == ("PENDING_INDICATION", None)
    async with database.transaction(write=True) as conn:
        first = await downstream_service.complete_authorization_request(
            conn, provider_id=provider, public_id=filed.authorization_id
        )
    async with database.transaction(write=True) as conn:
        second = await downstream_service.complete_authorization_request(
            conn, provider_id=provider, public_id=filed.authorization_id
        )
    assert first.status == "COMPLETED"
    assert first.completed_at is not None
    assert second.completed_at == first.completed_at


# isolation


async def test_get_claim_of_other_provider_raises_record_not_found(
    database: Database, provider: int, other: int
) -> None:
    created = await _file_claim(database, other, _claim(("LAB-HEMO", "LAB")))
    async with database.transaction() as conn:
        with pytest.raises(RecordNotFound) as caught:
            await downstream_service.get_claim(conn, provider_id=provider, public_id=created.claim_id)
    assert caught.value.additional_information == {"id": created.claim_id}


async def test_get_record_of_other_kind_raises_record_not_found(database: Database, provider: int) -> None:
    created = await _file_claim(database, provider, _claim(("LAB-HEMO", "LAB")))
    async with database.transaction() as conn:
        with pytest.raises(RecordNotFound):
            await downstream_service.get_prescription(conn, provider_id=provider, public_id=created.claim_id)


async def test_complete_authorization_request_of_other_provider_raises_record_not_found(
    database: Database, provider: int, other: int
) -> None:
    async with database.transaction(write=True) as conn:
        theirs = await downstream_service.create_authorization_request(
            conn, provider_id=other, body=_authorization(("LAB-HEMO", "LAB"))
        )
    async with database.transaction(write=True) as conn:
        with pytest.raises(RecordNotFound):
            await downstream_service.complete_authorization_request(
                conn, provider_id=provider, public_id=theirs.authorization_id
            )
    async with database.transaction() as conn:
        still = await downstream_service.get_authorization_request(
            conn, provider_id=other, public_id=theirs.authorization_id
        )
    assert still.status == "PENDING_INDICATION"
