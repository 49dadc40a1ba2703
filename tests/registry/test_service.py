"""Registration rules, called directly on the service inside transactions the tests open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from provider_products.auth import service as auth_service
from provider_products.db.engine import Database
from provider_products.errors import (
    ProductAlreadyRegistered,
    ProductNotInCatalogue,
    ProductNotRegistered,
    ValidationFailed,
)
from provider_products.pagination import PageParams
from provider_products.registry import service as registry_service

REGISTERED = datetime(2024, 3, 1, 10, 0, 0, tzinfo=UTC)
REMOVED = datetime(2024, 3, 1, 11, 0, 0, tzinfo=UTC)
ALL = PageParams(page=0, size=200)


async def _provider(database: Database, slug: str) -> int:
    async with database.transaction(write=True) as conn:
        return await auth_service.create_provider(conn, slug=slug, name=slug.title())


@pytest.fixture
async def provider(database: Database) -> int:
    """The id of the provider under test."""
    return await _provider(database, "farmacia-a")


@pytest.fixture
async def other(database: Database) -> int:
    """The id of another provider."""
    return await _provider(database, "farmacia-b")


async def _register(database: Database, provider_id: int, code: str) -> None:
    async with database.transaction(write=True) as conn:
        await registry_service.register(conn, provider_id=provider_id, code=code)


async def _remove(database: Database, provider_id: int, code: str) -> None:
    async with database.transaction(write=True) as conn:
        await registry_service.remove(conn, provider_id=provider_id, code=code)


async def _codes(database: Database, provider_id: int, **filters: str | None) -> list[str]:
    async with database.transaction() as conn:
        page = await registry_service.list_registrations(
            conn,
            provider_id=provider_id,
            product_type=filters.get("product_type"),
            query=filters.get("query"),
            params=ALL,
        )
    return [item.product_code for item in page.content]


@pytest.fixture
def period(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """Make the service's clock read the instants pushed on the returned list, the last one first."""
    instants: list[datetime] = []
    monkeypatch.setattr(registry_service, "utcnow_seconds", lambda: instants.pop())
    return instants


# register


async def test_register_lower_case_code_answers_catalogue_spelling(database: Database, provider: int) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    async with database.transaction(write=True) as conn:
        result = await registry_service.register(conn, provider_id=provider, code="  med-042 ")
    assert result.product_code == "MED-042"
    assert result.registered_at.microsecond == 0
    assert result.registered_at.tzinfo is not None
    assert before <= result.registered_at <= datetime.now(UTC)


async def test_register_lower_case_code_is_read_back_by_any_spelling(
    database: Database, provider: int
) -> None:
    await _register(database, provider, "med-042")
    async with database.transaction() as conn:
        read = await registry_service.get(conn, provider_id=provider, code="Med-042")
    assert (read.product_code, read.product_type) == ("MED-042", "MEDICATION")
    assert read.name == "Paracetamol 500 mg Tableta"


async def test_register_held_code_in_other_case_raises_product_already_registered(
    database: Database, provider: int
) -> None:
    await _register(database, provider, "MED-042")
    with pytest.raises(ProductAlreadyRegistered) as caught:
        await _register(database, provider, "med-042")
    assert caught.value.additional_information == {"product_code": "MED-042"}
    assert (caught.value.status_code, caught.value.error_code) == (409, "071-102")
    assert await _codes(database, provider) == ["MED-042"]


async def test_register_held_code_caught_leaves_the_transaction_usable(
    database: Database, provider: int
) -> None:
    # On PostgreSQL a failed statement aborts the whole transaction; the refusal must not be one.
    async with database.transaction(write=True) as conn:
        await registry_service.register(conn, provider_id=provider, code="MED-042")
        with pytest.raises(ProductAlreadyRegistered):
            await registry_service.register(conn, provider_id=provider, code="med-042")
        held = await registry_service.get(conn, provider_id=provider, code="MED-042")
        await registry_service.register(conn, provider_id=provider, code="LAB-HEMO")
    assert held.product_code == "MED-042"
    async with database.transaction() as conn:
        page = await registry_service.list_registrations(
            conn, provider_id=provider, product_type=None, query=None, params=ALL
        )
    # The refused registration left the per-provider counters alone too.
    assert ([p.product_code for p in page.content], page.page.total_elements) == (["LAB-HEMO", "MED-042"], 2)


async def test_register_inactive_code_raises_product_not_in_catalogue(
    database: Database, provider: int, inactive_code: str
) -> None:
    with pytest.raises(ProductNotInCatalogue) as caught:
        await _register(database, provider, inactive_code.lower())
    assert caught.value.additional_information == {"product_code": inactive_code.lower()}
    assert await _codes(database, provider) == []


async def test_register_unknown_code_raises_product_not_in_catalogue(
    database: Database, provider: int
) -> None:
    with pytest.raises(ProductNotInCatalogue) as caught:
        await _register(database, provider, " NOPE-9 ")
    assert caught.value.additional_information == {"product_code": "NOPE-9"}


async def test_register_ill_formed_code_raises_validation_failed(database: Database, provider: int) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await _register(database, provider, "MED 042")
    assert caught.value.additional_information["errors"][0]["field"] == "product_code"


# remove and history


async def test_remove_registered_code_closes_period_and_history_keeps_it(
    database: Database, provider: int, period: list[datetime]
) -> None:
    period[:] = [REMOVED, REGISTERED]
    await _register(database, provider, "MED-042")
    await _remove(database, provider, "med-042")
    async with database.transaction() as conn:
        with pytest.raises(ProductNotRegistered):
            await registry_service.get(conn, provider_id=provider, code="MED-042")
        history = await registry_service.history(conn, provider_id=provider, code="med-042")
    assert history.product_code == "MED-042"
    assert [(p.registered_at, p.removed_at) for p in history.periods] == [(REGISTERED, REMOVED)]


async def test_remove_unregistered_code_raises_product_not_registered(
    database: Database, provider: int
) -> None:
    with pytest.raises(ProductNotRegistered) as caught:
        await _remove(database, provider, " MED-042 ")
    assert caught.value.additional_information == {"product_code": "MED-042"}


async def test_remove_unknown_code_raises_product_not_registered(database: Database, provider: int) -> None:
    with pytest.raises(ProductNotRegistered):
        await _remove(database, provider, "NOPE-9")


async def test_remove_twice_raises_product_not_registered(database: Database, provider: int) -> None:
    await _register(database, provider, "MED-042")
    await _remove(database, provider, "MED-042")
    with pytest.raises(ProductNotRegistered):
        await _remove(database, provider, "MED-042")


async def test_register_after_removal_opens_second_period(
    database: Database, provider: int, period: list[datetime]
) -> None:
    again = REMOVED + timedelta(hours=1)
    period[:] = [again, REMOVED, REGISTERED]
    await _register(database, provider, "MED-042")
    await _remove(database, provider, "MED-042")
    await _register(database, provider, "MED-042")
    async with database.transaction() as conn:
        history = await registry_service.history(conn, provider_id=provider, code="MED-042")
    assert [(p.registered_at, p.removed_at) for p in history.periods] == [
        (REGISTERED, REMOVED),
        (again, None),
    ]


async def test_history_never_registered_code_raises_product_not_registered(
    database: Database, provider: int
) -> None:
    async with database.transaction() as conn:
        with pytest.raises(ProductNotRegistered) as caught:
            await registry_service.history(conn, provider_id=provider, code="med-042")
    assert caught.value.additional_information == {"product_code": "med-042"}


# batch


async def test_register_batch_mixed_codes_answers_outcomes_in_order_with_counts(
    database: Database, provider: int, inactive_code: str
) -> None:
    await _register(database, provider, "LAB-HEMO")
    codes = ["med-042", "LAB-HEMO", " NOPE-9 ", "bad code!", inactive_code, "MED-042"]
    async with database.transaction(write=True) as conn:
        batch = await registry_service.register_batch(conn, provider_id=provider, codes=codes)
    assert [(i.product_code, i.outcome, i.error_code) for i in batch.results] == [
        ("MED-042", "registered", None),
        ("LAB-HEMO", "already_registered", "071-102"),
        ("NOPE-9", "not_in_catalogue", "071-101"),
        ("bad code!", "invalid", "071-105"),
        (inactive_code, "not_in_catalogue", "071-101"),
        ("MED-042", "already_registered", "071-102"),
    ]
    assert batch.counts == {"registered": 1, "already_registered": 2, "not_in_catalogue": 2, "invalid": 1}


async def test_register_batch_registered_items_carry_one_registration_time(
    database: Database, provider: int
) -> None:
    async with database.transaction(write=True) as conn:
        batch = await registry_service.register_batch(
            conn, provider_id=provider, codes=["MED-042", "LAB-HEMO"]
        )
    times = {item.registered_at for item in batch.results}
    assert len(times) == 1
    assert None not in times


async def test_register_batch_stores_only_registrable_codes(
    database: Database, provider: int, inactive_code: str
) -> None:
    async with database.transaction(write=True) as conn:
        await registry_service.register_batch(
            conn, provider_id=provider, codes=["lab-hemo", inactive_code, "NOPE-9", "MED-042", "x y"]
        )
    assert sorted(await _codes(database, provider)) == ["LAB-HEMO", "MED-042"]


async def test_register_batch_empty_list_answers_zero_counts(database: Database, provider: int) -> None:
    async with database.transaction(write=True) as conn:
        batch = await registry_service.register_batch(conn, provider_id=provider, codes=[])
    assert batch.results == []
    assert batch.counts == {"registered": 0, "already_registered": 0, "not_in_catalogue": 0, "invalid": 0}


# validate


@pytest.mark.parametrize(
    ("moment", "registered"),
    [
        pytest.param(REGISTERED - timedelta(seconds=1), False, id="before-registration"),
        pytest.param(REGISTERED, True, id="at-registration"),
        pytest.param(REMOVED - timedelta(seconds=1), True, id="just-before-removal"),
        pytest.param(REMOVED, False, id="at-removal"),
    ],
)
async def test_validate_moment_around_period_answers_half_open_interval(
    database: Database, provider: int, period: list[datetime], moment: datetime, registered: bool
) -> None:
    period[:] = [REMOVED, REGISTERED]
    await _register(database, provider, "MED-042")
    await _remove(database, provider, "MED-042")
    async with database.transaction() as conn:
        answer = await registry_service.validate(conn, provider_id=provider, codes=["MED-042"], at=moment)
    (item,) = answer.results
    assert item.registered is registered
    expected = (REGISTERED, REMOVED) if registered else (None, None)
    assert (item.registered_at, item.removed_at) == expected


async def test_validate_naive_moment_is_taken_as_utc(
    database: Database, provider: int, period: list[datetime]
) -> None:
    period[:] = [REGISTERED]
    await _register(database, provider, "MED-042")
    async with database.transaction() as conn:
        answer = await registry_service.validate(
            conn, provider_id=provider, codes=["MED-042"], at=REGISTERED.replace(tzinfo=None)
        )
    assert answer.at == REGISTERED
    assert answer.results[0].registered is True


async def test_validate_moment_with_offset_is_converted_to_utc(
    database: Database, provider: int, period: list[datetime]
) -> None:
    period[:] = [REGISTERED]
    await _register(database, provider, "MED-042")
    # 09:59:59 in UTC-05:00 is 14:59:59 UTC: after registration. Read naively it would be before.
    local = datetime(2024, 3, 1, 9, 59, 59, tzinfo=timezone(timedelta(hours=-5)))
    async with database.transaction() as conn:
        answer = await registry_service.validate(conn, provider_id=provider, codes=["MED-042"], at=local)
    assert answer.at == datetime(2024, 3, 1, 14, 59, 59, tzinfo=UTC)
    assert answer.at.utcoffset() == timedelta(0)
    assert answer.results[0].registered is True


async def test_validate_without_moment_answers_now(database: Database, provider: int) -> None:
    await _register(database, provider, "MED-042")
    before = datetime.now(UTC).replace(microsecond=0)
    async with database.transaction() as conn:
        answer = await registry_service.validate(conn, provider_id=provider, codes=["med-042"], at=None)
    assert before <= answer.at <= datetime.now(UTC)
    assert [(i.product_code, i.registered) for i in answer.results] == [("MED-042", True)]


async def test_validate_unknown_and_ill_formed_codes_answer_unregistered_as_given(
    database: Database, provider: int
) -> None:
    await _register(database, provider, "MED-042")
    async with database.transaction() as conn:
        answer = await registry_service.validate(
            conn, provider_id=provider, codes=[" nope-9 ", "bad code!", "med-042"], at=None
        )
    assert [(i.product_code, i.registered) for i in answer.results] == [
        ("nope-9", False),
        ("bad code!", False),
        ("MED-042", True),
    ]


async def test_validate_withdrawn_product_never_registered_answers_unregistered(
    database: Database, provider: int, inactive_code: str
) -> None:
    async with database.transaction() as conn:
        answer = await registry_service.validate(conn, provider_id=provider, codes=[inactive_code], at=None)
    assert [(i.product_code, i.registered) for i in answer.results] == [(inactive_code, False)]


# isolation between providers


async def test_register_code_held_by_other_provider_succeeds(
    database: Database, provider: int, other: int
) -> None:
    await _register(database, other, "MED-042")
    await _register(database, provider, "MED-042")
    assert await _codes(database, provider) == ["MED-042"]
    assert await _codes(database, other) == ["MED-042"]


async def test_get_code_registered_by_other_provider_raises_product_not_registered(
    database: Database, provider: int, other: int
) -> None:
    await _register(database, other, "MED-042")
    async with database.transaction() as conn:
        with pytest.raises(ProductNotRegistered):
            await registry_service.get(conn, provider_id=provider, code="MED-042")


async def test_remove_code_registered_by_other_provider_leaves_it_registered(
    database: Database, provider: int, other: int
) -> None:
    await _register(database, other, "MED-042")
    with pytest.raises(ProductNotRegistered):
        await _remove(database, provider, "MED-042")
    assert await _codes(database, other) == ["MED-042"]


async def test_validate_code_registered_by_other_provider_answers_unregistered(
    database: Database, provider: int, other: int
) -> None:
    await _register(database, other, "MED-042")
    async with database.transaction() as conn:
        answer = await registry_service.validate(conn, provider_id=provider, codes=["MED-042"], at=None)
    assert answer.results[0].registered is False


async def test_history_of_code_registered_by_other_provider_raises_product_not_registered(
    database: Database, provider: int, other: int
) -> None:
    await _register(database, other, "MED-042")
    async with database.transaction() as conn:
        with pytest.raises(ProductNotRegistered):
            await registry_service.history(conn, provider_id=provider, code="MED-042")


async def test_register_batch_code_held_by_other_provider_answers_registered(
    database: Database, provider: int, other: int
) -> None:
    await _register(database, other, "MED-042")
    async with database.transaction(write=True) as conn:
        batch = await registry_service.register_batch(conn, provider_id=provider, codes=["MED-042"])
    assert batch.results[0].outcome == "registered"


# listing


async def test_list_registrations_excludes_removed_codes(database: Database, provider: int) -> None:
    for code in ("MED-042", "LAB-HEMO", "CONS-GEN"):
        await _register(database, provider, code)
    await _remove(database, provider, "LAB-HEMO")
    assert sorted(await _codes(database, provider)) == ["CONS-GEN", "MED-042"]


async def test_list_registrations_product_type_filter_answers_that_type_only(
    database: Database, provider: int
) -> None:
    for code in ("MED-042", "LAB-HEMO", "MED-SBX-0001"):
        await _register(database, provider, code)
    assert sorted(await _codes(database, provider, product_type="MEDICATION")) == ["MED-042", "MED-SBX-0001"]


async def test_list_registrations_unaccented_query_matches_accented_name(
    database: Database, provider: int
) -> None:
    for code in ("MED-042", "MED-SBX-0001", "LAB-HEMO"):
        await _register(database, provider, code)
    assert await _codes(database, provider, query="ACETAMINOFEN") == ["MED-SBX-0001"]


async def test_list_registrations_infix_query_matches_nothing(database: Database, provider: int) -> None:
    await _register(database, provider, "MED-SBX-0001")
    assert await _codes(database, provider, query="cetaminofen") == []


async def test_list_registrations_punctuation_only_query_answers_empty_page(
    database: Database, provider: int
) -> None:
    await _register(database, provider, "MED-042")
    async with database.transaction() as conn:
        page = await registry_service.list_registrations(
            conn, provider_id=provider, product_type=None, query="%_*'", params=ALL
        )
    assert page.content == []
    assert page.page.total_elements == 0
