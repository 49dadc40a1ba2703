"""The SDK's whole API against the real app (both backends): change feed, registry, downstream records,
tokens, per-request options, the error hierarchy and the rate-limit state; sync and async alike."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from provider_products.catalogue import importer
from provider_products_client import (
    ApiConnectionError,
    ApiError,
    ApiTimeoutError,
    ProviderProductsError,
    RequestOptions,
    TransportError,
    errors,
    models,
)
from tests.client.conftest import BASE_URL, Connect, SyncConnect

ALL_SCOPES = "arc:read arc:write ehr:read ehr:write"
PRODUCTS = "/arc/v1/providers/products"
CHANGES = "/arc/v1/products/changes"
SANDBOX = importer.parse(importer.sandbox_catalogue(), "jsonl")
# The test template holds the sandbox, loaded by one import: revision 1.
LOADED = 1


async def _import(app: FastAPI, entries: list[Any]) -> None:
    async with app.state.runtime.database.transaction(write=True) as conn:
        await importer.upsert(conn, entries)


# Catalogue: the change feed


async def test_list_product_changes_after_an_import_returns_typed_changed_entries(
    app: FastAPI, connect: Connect
) -> None:
    h = await connect(scopes="arc:read")
    active = [e for e in SANDBOX if e.status == "ACTIVE"]
    renamed = active[0].model_copy(update={"name": "Renamed by the SDK test"})
    lab = next(e for e in active if e.product_type == "LAB").model_copy(update={"status": "INACTIVE"})
    await _import(app, [renamed, lab])

    changes = await h.api.list_product_changes(since_revision=LOADED)

    assert isinstance(changes, models.CatalogueChanges)
    assert (changes.revision, changes.since_revision, changes.page.total_elements) == (LOADED + 1, LOADED, 2)
    by_code = {entry.product_code: entry for entry in changes.content}
    assert set(by_code) == {renamed.product_code, lab.product_code}
    assert isinstance(by_code[renamed.product_code], models.Medication)
    assert by_code[renamed.product_code].name == "Renamed by the SDK test"
    assert isinstance(by_code[lab.product_code], models.ServiceProduct)
    assert by_code[lab.product_code].status == "INACTIVE"


async def test_iter_product_changes_from_zero_visits_every_entry_once_page_by_page(connect: Connect) -> None:
    h = await connect(scopes="arc:read", rate_limit="1000/minute")
    size = 100
    codes = [entry.product_code async for entry in h.api.iter_product_changes(since_revision=0, size=size)]

    assert len(codes) == len(set(codes)) == len(SANDBOX)
    assert set(codes) == {e.product_code for e in SANDBOX}
    assert h.sent(CHANGES) == -(-len(SANDBOX) // size)


async def test_iter_product_change_pages_is_lazy_and_each_page_carries_the_revision(connect: Connect) -> None:
    h = await connect(scopes="arc:read")
    pages = h.api.iter_product_change_pages(since_revision=0, size=50)
    assert h.sent(CHANGES) == 0

    first = await anext(pages)

    assert h.sent(CHANGES) == 1
    assert (first.revision, first.page.number, len(first.content)) == (LOADED, 0, 50)
    second = await anext(pages)
    assert (h.sent(CHANGES), second.page.number) == (2, 1)
    await pages.aclose()


async def test_list_product_changes_since_a_future_revision_raises_validation_failed(
    connect: Connect,
) -> None:
    h = await connect(scopes="arc:read")
    with pytest.raises(errors.ValidationFailed) as caught:
        await h.api.list_product_changes(since_revision=LOADED + 100)
    assert caught.value.error_code == "071-105"
    assert caught.value.errors


# Registry: validate, history


async def test_validate_products_says_registered_now_and_not_before(connect: Connect) -> None:
    h = await connect()
    before = datetime.now(UTC) - timedelta(days=1)
    await h.api.register_product("MED-042")

    now = await h.api.validate_products(["MED-042", "CONS-GEN"])
    earlier = await h.api.validate_products(["MED-042"], at=before)

    assert [(r.product_code, r.registered) for r in now.results] == [("MED-042", True), ("CONS-GEN", False)]
    assert now.results[0].registered_at is not None
    assert earlier.at is not None
    assert abs((earlier.at - before).total_seconds()) < 1
    assert [r.registered for r in earlier.results] == [False]


async def test_history_lists_each_registration_period_oldest_first(connect: Connect) -> None:
    h = await connect()
    await h.api.register_product("MED-042")
    await h.api.delete_provider_product("MED-042")
    await h.api.register_product("MED-042")

    history = await h.api.get_provider_product_history("med-042")

    assert history.product_code == "MED-042"
    assert len(history.periods) == 2
    assert history.periods[0].removed_at is not None
    assert history.periods[1].removed_at is None
    assert history.periods[0].registered_at is not None
    assert history.periods[1].registered_at is not None
    assert history.periods[0].registered_at <= history.periods[1].registered_at


async def test_history_of_a_code_never_registered_raises_product_not_registered(connect: Connect) -> None:
    h = await connect()
    with pytest.raises(errors.ProductNotRegistered):
        await h.api.get_provider_product_history("MED-042")


# Downstream records


async def test_prescription_is_filed_and_read_back_typed(connect: Connect) -> None:
    h = await connect(scopes=ALL_SCOPES)
    await h.api.register_product("MED-042")

    filed = await h.api.create_prescription(
        patient_id="pat_001",
        diagnosis_codes=["J06.9"],
        medications=[
            models.PrescribedMedication(
                product_code="med-042", quantity=20, posology="1 cada 8 h", duration_days=7
            )
        ],
    )
    read = await h.api.get_prescription(filed.prescription_id)

    assert read == filed
    assert filed.prescription_id.startswith("rx_")
    assert [d.diagnosis_code for d in filed.diagnoses] == ["J06.9"]
    line = filed.medications[0]
    assert (line.product_code, line.name, line.quantity, line.duration_days) == (
        "MED-042",
        "Paracetamol 500 mg Tableta",
        20,
        7,
    )


async def test_prescription_of_an_unregistered_medication_raises_products_not_registered(
    connect: Connect,
) -> None:
    h = await connect(scopes=ALL_SCOPES)
    with pytest.raises(errors.ProductsNotRegistered) as caught:
        await h.api.create_prescription(
            patient_id="pat_001",
            diagnosis_codes=["J06.9"],
            medications=[{"product_code": "MED-042", "quantity": 1}],
        )
    assert caught.value.additional_information["product_codes"] == ["MED-042"]


async def test_authorization_request_is_filed_read_and_completed_then_claimed(connect: Connect) -> None:
    h = await connect(scopes=ALL_SCOPES)
    await h.api.register_products(["MED-042", "CONS-GEN"])

    filed = await h.api.create_authorization_request(
        beneficiary_id="bnf_001",
        sponsor_slug="sponsor-sandbox",
        diagnosis_code="J06.9",
        products=[models.AuthorizationProduct(product_code="MED-042", product_type="MEDICATION", quantity=1)],
    )
    assert (filed.status, filed.completed_at) == ("PENDING_INDICATION", None)
    assert await h.api.get_authorization_request(filed.authorization_id) == filed

    completed = await h.api.complete_authorization_request(filed.authorization_id)
    assert completed.status == "COMPLETED"
    assert completed.completed_at is not None

    claim = await h.api.create_claim(
        beneficiary_id="bnf_001",
        sponsor_slug="sponsor-sandbox",
        diagnosis_code="J06.9",
        authorization_id=filed.authorization_id,
        line_items=[models.ClaimLine(product_code="CONS-GEN", product_type="PROCEDURE", quantity=1)],
    )
    stored = await h.api.get_claim(claim.claim_id)
    assert (claim.status, stored.status, stored.authorization_id) == ("OPEN", "OPEN", filed.authorization_id)
    assert [(line.product_code, line.quantity) for line in stored.line_items] == [("CONS-GEN", 1)]


async def test_record_of_another_provider_raises_not_found(connect: Connect, make_client: Any) -> None:
    owner = await connect(scopes=ALL_SCOPES)
    other = await connect(await make_client("farmacia-b", scopes=ALL_SCOPES))
    await owner.api.register_product("MED-042")
    filed = await owner.api.create_prescription(
        patient_id="pat_001",
        diagnosis_codes=["J06.9"],
        medications=[{"product_code": "MED-042", "quantity": 1}],
    )

    with pytest.raises(errors.NotFound) as caught:
        await other.api.get_prescription(filed.prescription_id)
    assert (caught.value.status_code, caught.value.error_code) == (404, "071-404")
    assert errors.RouteNotFound is errors.NotFound


async def test_downstream_call_without_its_scope_raises_permission_denied(connect: Connect) -> None:
    h = await connect(scopes="arc:read arc:write")
    with pytest.raises(errors.PermissionDenied):
        await h.api.get_prescription("rx_0000000000000000")


# Tokens


async def test_access_token_is_the_cached_bearer_token_and_works_for_raw_calls(
    app: FastAPI, connect: Connect
) -> None:
    h = await connect(scopes="arc:read")
    token = await h.api.access_token()
    assert await h.api.access_token() == token
    assert h.sent("/v1/oauth/token", "POST") == 1

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as raw:
        response = await raw.get("/arc/v1/products/MED-042", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


async def test_scope_narrows_the_token_so_writing_raises_permission_denied(
    app: FastAPI, make_client: Any, clock: Any
) -> None:
    from provider_products_client import AsyncClient

    creds = await make_client(scopes="arc:read arc:write")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http:
        api = AsyncClient(
            base_url=BASE_URL,
            client_id=creds.client_id,
            client_secret=creds.client_secret,
            scope="arc:read",
            http_client=http,
        )
        assert (await api.get_product("MED-042")).product_code == "MED-042"
        with pytest.raises(errors.PermissionDenied):
            await api.register_product("MED-042")


# Per-request options


async def test_extra_headers_are_sent_but_cannot_replace_the_token(connect: Connect) -> None:
    h = await connect()
    options = RequestOptions(
        extra_headers={"X-Request-Id": "req-from-sdk-test", "Authorization": "Bearer forged"}
    )

    await h.api.get_product("MED-042", options=options)

    sent = h.requests[-1]
    assert sent.headers["x-request-id"] == "req-from-sdk-test"
    assert sent.headers["authorization"] == f"Bearer {await h.api.access_token()}"


async def test_given_idempotency_key_replays_the_first_answer_of_a_repeated_register(
    connect: Connect,
) -> None:
    h = await connect()
    options = RequestOptions(idempotency_key="onboard-2026-12-02-MED-042")

    first = await h.api.register_product("MED-042", options=options)
    again = await h.api.register_product("MED-042", options=options)

    assert again == first
    assert [r.headers["idempotency-key"] for r in h.requests if r.url.path == PRODUCTS] == [
        "onboard-2026-12-02-MED-042"
    ] * 2
    with pytest.raises(errors.ProductAlreadyRegistered):
        await h.api.register_product("MED-042")


async def test_given_idempotency_key_reused_for_another_request_raises_mismatch(connect: Connect) -> None:
    h = await connect()
    options = RequestOptions(idempotency_key="one-key-two-requests")
    await h.api.register_product("MED-042", options=options)

    with pytest.raises(errors.IdempotencyKeyMismatch):
        await h.api.register_product("CONS-GEN", options=options)


async def test_per_request_timeout_reaches_the_transport(connect: Connect) -> None:
    h = await connect()
    await h.api.get_product("MED-042", options=RequestOptions(timeout=2.5))
    assert h.requests[-1].extensions["timeout"] == {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}


async def test_per_request_max_retries_zero_raises_rate_limited_without_waiting(connect: Connect) -> None:
    h = await connect(rate_limit="1/minute")
    await h.api.get_product("MED-042")

    with pytest.raises(errors.RateLimited) as caught:
        await h.api.get_product("MED-042", options=RequestOptions(max_retries=0))

    assert caught.value.retry_after > 0
    assert h.sleeps == []


@pytest.mark.parametrize("options", [{"timeout": 0}, {"timeout": -1.0}, {"max_retries": -1}])
def test_request_options_that_cannot_work_raise_value_error(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"timeout|max_retries"):
        RequestOptions(**options)


# Errors and retries


class _TimingOut(httpx.AsyncBaseTransport):
    """The real app for tokens; every API request times out on the way."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/oauth/token":
            return await self.inner.handle_async_request(request)
        raise httpx.ReadTimeout("timed out", request=request)


async def test_timeouts_outlasting_the_retries_raise_api_timeout_error(
    app: FastAPI, connect: Connect
) -> None:
    h = await connect(max_retries=2)
    h.api._http._transport = _TimingOut(httpx.ASGITransport(app=app))

    with pytest.raises(ApiTimeoutError) as caught:
        await h.api.get_product("MED-042")

    assert isinstance(caught.value, TransportError)
    assert isinstance(caught.value, ProviderProductsError)
    assert ApiConnectionError is TransportError
    assert "3 attempt(s)" in str(caught.value)
    assert len(h.sleeps) == 2


def test_every_contract_error_code_has_its_own_class_under_api_error() -> None:
    codes = {
        "071-100": errors.MalformedRequest,
        "071-101": errors.ProductNotInCatalogue,
        "071-102": errors.ProductAlreadyRegistered,
        "071-103": errors.ProductNotRegistered,
        "071-104": errors.ProductsNotRegistered,
        "071-105": errors.ValidationFailed,
        "071-401": errors.AuthenticationFailed,
        "071-403": errors.PermissionDenied,
        "071-404": errors.NotFound,
        "071-405": errors.MethodNotAllowed,
        "071-413": errors.PayloadTooLarge,
        "071-429": errors.RateLimited,
        "071-500": errors.ServerError,
        "071-503": errors.ServiceUnavailable,
    }
    assert len(set(codes.values())) == len(codes)
    for code, cls in codes.items():
        response = httpx.Response(
            400, json={"error_code": code, "message": "m", "additional_information": {}}
        )
        error = errors.error_from_response(response)
        assert type(error) is cls
        assert isinstance(error, ApiError)
        assert isinstance(error, ProviderProductsError)
        assert type(pickle.loads(pickle.dumps(error))) is cls  # noqa: S301 - our own bytes
    for status, cls in ((409, errors.IdempotencyKeyInProgress), (422, errors.IdempotencyKeyMismatch)):
        response = httpx.Response(status, json={"error_code": "071-106", "message": "m"})
        assert type(errors.error_from_response(response)) is cls


async def test_rate_limit_is_readable_after_each_call_and_counts_down(connect: Connect) -> None:
    h = await connect(rate_limit="10/minute")
    assert h.api.rate_limit is None

    await h.api.get_product("MED-042")
    first = h.api.rate_limit
    await h.api.list_products(size=1)
    second = h.api.rate_limit

    assert first is not None
    assert second is not None
    assert (first.limit, first.remaining, second.remaining) == (10, 9, 8)
    assert second.reset_after > 0
    assert h.api.rate_limit is h.api.last_rate_limit


# The blocking client: the same API


def test_sync_client_covers_change_feed_registry_and_records(sync_connect: SyncConnect) -> None:
    h = sync_connect(scopes=ALL_SCOPES)
    api = h.api

    first_page = next(api.iter_product_change_pages(since_revision=0, size=25))
    assert (first_page.revision, len(first_page.content)) == (LOADED, 25)
    assert sum(1 for _ in api.iter_product_changes(since_revision=0, size=200)) == len(SANDBOX)

    api.register_product("MED-042", options=RequestOptions(idempotency_key="sync-key"))
    assert api.register_product(
        "MED-042", options=RequestOptions(idempotency_key="sync-key")
    ).product_code == ("MED-042")
    assert [r.registered for r in api.validate_products(["MED-042", "CONS-GEN"]).results] == [True, False]
    assert len(api.get_provider_product_history("MED-042").periods) == 1

    filed = api.create_prescription(
        patient_id="pat_sync",
        diagnosis_codes=["J06.9"],
        medications=[{"product_code": "MED-042", "quantity": 2}],
    )
    assert api.get_prescription(filed.prescription_id) == filed
    with pytest.raises(errors.NotFound):
        api.get_claim("clm_0000000000000000")
    assert api.rate_limit is not None
    assert api.rate_limit.remaining >= 0
    assert isinstance(api.access_token(), str)


async def test_with_options_copy_shares_the_token_and_keeps_its_own_defaults(connect: Connect) -> None:
    h = await connect(rate_limit="2/minute")
    impatient = h.api.with_options(max_retries=0, timeout=3.0)
    await h.api.get_product("MED-042")
    await impatient.get_product("MED-042")

    with pytest.raises(errors.RateLimited):
        await impatient.get_product("MED-042")

    assert h.sleeps == []
    assert h.sent("/v1/oauth/token", "POST") == 1
    assert h.requests[-1].extensions["timeout"]["read"] == 3.0
    await impatient.aclose()
    assert (await h.api.get_product("MED-042")).product_code == "MED-042"  # waited out, still open
    assert len(h.sleeps) == 1
