"""The SDK (``provider_products_client``) against the real application, on every backend."""

from __future__ import annotations

import asyncio
import pickle
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from provider_products.app import create_app
from provider_products.auth import service as auth_service
from provider_products.auth.security import TokenVerifier
from provider_products.config import Settings
from provider_products.db.engine import Database
from provider_products.ratelimit.base import RateLimiter
from provider_products.registry import service as registry_service
from provider_products_client import AsyncClient, Client, errors, models
from tests.client.conftest import BASE_URL, TOKEN, Connect, SyncConnect
from tests.conftest import ApiClient

if TYPE_CHECKING:
    from starlette.testclient import TestClient

# TestClient ignores timeouts and says so on every request that sets one; the SDK always does.
# Starlette also nudges its users from httpx to httpx2; the SDK is built on httpx, which it still serves.
pytestmark = [
    pytest.mark.filterwarnings("ignore:You should not use the 'timeout' argument with the TestClient"),
    pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient` is deprecated"),
]

MEDICATIONS = "/medical-catalogs/v1/medications"
PRODUCTS = "/arc/v1/products"
PROVIDER_PRODUCTS = "/arc/v1/providers/products"
BATCH = "/arc/v1/providers/products/batch"
SANDBOX_MEDICATIONS = 622
SANDBOX_LABS = 233


def behind_gateway(app: FastAPI, status: int, body: bytes, content_type: str) -> Any:
    """Put the app behind a gateway that answers every API request itself (tokens still reach the app)."""

    async def gateway(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == TOKEN:
            await app(scope, receive, send)
            return
        headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return gateway


@pytest.fixture
def unreachable_database(app: FastAPI) -> Iterator[Callable[[], None]]:
    """Point the app at a database that cannot be opened (503 071-503); restore it afterwards."""
    runtime = app.state.runtime
    original = runtime.database

    def break_it() -> None:
        unreachable = Database("sqlite:////nonexistent-dir/x.db")
        runtime.database = unreachable
        runtime.directory._database = unreachable

    yield break_it
    runtime.database = original
    runtime.directory._database = original


# Typed results, one per method


async def test_list_medications_with_query_returns_page_of_medications(connect: Connect) -> None:
    h = await connect()
    page = await h.api.list_medications(query="paracetamol", size=5)
    assert isinstance(page, models.Page)
    assert isinstance(page.page, models.PageMeta)
    assert page.page.size == 5
    assert page.content
    assert all(isinstance(m, models.Medication) for m in page.content)
    assert page.content[0].active_ingredient == "Paracetamol"


async def test_get_medication_returns_medication(connect: Connect) -> None:
    h = await connect()
    medication = await h.api.get_medication("med-042")
    assert isinstance(medication, models.Medication)
    assert medication.product_code == "MED-042"
    assert medication.name == "Paracetamol 500 mg Tableta"
    assert medication.atc_code == "N02BE01"


async def test_list_products_by_type_returns_service_products(connect: Connect) -> None:
    h = await connect()
    page = await h.api.list_products(product_type="LAB", size=10)
    assert page.page.total_elements == SANDBOX_LABS
    assert all(isinstance(p, models.ServiceProduct) and p.product_type == "LAB" for p in page.content)


async def test_get_product_returns_model_of_its_type(connect: Connect) -> None:
    h = await connect()
    medication = await h.api.get_product("MED-042")
    lab = await h.api.get_product("LAB-HEMO")
    assert isinstance(medication, models.Medication)
    assert isinstance(lab, models.ServiceProduct)
    assert lab.coding_system == "LOINC"


async def test_register_product_returns_registration(connect: Connect) -> None:
    h = await connect()
    registration = await h.api.register_product("med-042")
    assert isinstance(registration, models.Registration)
    assert registration.product_code == "MED-042"
    assert isinstance(registration.registered_at, datetime)
    assert registration.registered_at.utcoffset() is not None


async def test_register_products_returns_outcome_per_code(connect: Connect) -> None:
    h = await connect()
    await h.api.register_product("LAB-HEMO")
    result = await h.api.register_products(["med-042", "LAB-HEMO", "NOPE-1", "bad code"])
    assert h.sent(BATCH, "POST") == 1
    assert isinstance(result, models.BatchResult)
    assert [(i.product_code, i.outcome, i.error_code) for i in result.results] == [
        ("MED-042", "registered", None),
        ("LAB-HEMO", "already_registered", "071-102"),
        ("NOPE-1", "not_in_catalogue", "071-101"),
        ("bad code", "invalid", "071-105"),
    ]
    assert isinstance(result.results[0].registered_at, datetime)
    assert result.counts["registered"] == 1


async def test_list_provider_products_returns_registered_products(connect: Connect) -> None:
    h = await connect()
    await h.api.register_product("MED-042")
    await h.api.register_product("LAB-HEMO")
    page = await h.api.list_provider_products(product_type="LAB")
    assert [type(p) for p in page.content] == [models.ProviderProduct]
    assert page.content[0].product_code == "LAB-HEMO"
    assert page.content[0].product_type == "LAB"
    assert page.page.total_elements == 1


async def test_get_provider_product_returns_provider_product(connect: Connect) -> None:
    h = await connect()
    registered = await h.api.register_product("MED-042")
    product = await h.api.get_provider_product("med-042")
    assert isinstance(product, models.ProviderProduct)
    assert product.name == "Paracetamol 500 mg Tableta"
    assert product.registered_at == registered.registered_at


async def test_delete_provider_product_removes_registration(connect: Connect) -> None:
    h = await connect()
    await h.api.register_product("MED-042")
    assert await h.api.delete_provider_product("MED-042") is None
    with pytest.raises(errors.ProductNotRegistered):
        await h.api.get_provider_product("MED-042")


# Errors


async def test_get_product_unknown_code_raises_product_not_in_catalogue_with_fields(connect: Connect) -> None:
    h = await connect()
    with pytest.raises(errors.ProductNotInCatalogue) as raised:
        await h.api.get_product("NOPE-1")
    error = raised.value
    assert error.status_code == 404
    assert error.error_code == "071-101"
    assert error.message
    assert error.additional_information == {"product_code": "NOPE-1"}
    assert error.request_id
    assert isinstance(error, errors.ApiError)


async def test_register_product_twice_raises_product_already_registered(connect: Connect) -> None:
    h = await connect()
    await h.api.register_product("MED-042")
    with pytest.raises(errors.ProductAlreadyRegistered) as raised:
        await h.api.register_product("MED-042")
    assert raised.value.status_code == 409
    assert raised.value.error_code == "071-102"


async def test_get_provider_product_unregistered_raises_product_not_registered(connect: Connect) -> None:
    h = await connect()
    with pytest.raises(errors.ProductNotRegistered) as raised:
        await h.api.get_provider_product("MED-042")
    assert raised.value.status_code == 404
    assert raised.value.error_code == "071-103"


async def test_register_product_read_only_client_raises_permission_denied(connect: Connect) -> None:
    h = await connect(scopes="arc:read")
    with pytest.raises(errors.PermissionDenied) as raised:
        await h.api.register_product("MED-042")
    assert raised.value.status_code == 403
    assert raised.value.error_code == "071-403"
    assert raised.value.additional_information == {"required_scopes": ["arc:write"]}


async def test_register_product_bad_code_raises_validation_failed_with_errors(connect: Connect) -> None:
    h = await connect()
    with pytest.raises(errors.ValidationFailed) as raised:
        await h.api.register_product("bad code!")
    assert raised.value.status_code == 422
    assert raised.value.error_code == "071-105"
    assert [e["field"] for e in raised.value.errors] == ["product_code"]


async def test_get_product_code_with_reserved_characters_is_quoted_into_path(connect: Connect) -> None:
    h = await connect()
    # Unquoted, "?size=1" would become a query string and MED-042 would be answered.
    with pytest.raises(errors.ValidationFailed):
        await h.api.get_product("MED-042?size=1")
    assert h.requests[-1].url.raw_path == b"/arc/v1/products/MED-042%3Fsize%3D1"


async def test_wrong_secret_raises_authentication_failed_without_retry(
    connect: Connect, make_client: Any
) -> None:
    creds: ApiClient = await make_client()
    h = await connect(ApiClient(creds.client_id, "wrong", creds.provider_slug, ""))
    with pytest.raises(errors.AuthenticationFailed) as raised:
        await h.api.list_medications()
    assert raised.value.status_code == 401
    assert h.sent(TOKEN, "POST") == 1
    assert h.sleeps == []


async def test_gateway_html_error_raises_api_error_with_status(app: FastAPI, connect: Connect) -> None:
    gateway = behind_gateway(app, 502, b"<html>Bad gateway</html>", "text/html")
    h = await connect(asgi=gateway, max_retries=1)
    with pytest.raises(errors.ApiError) as raised:
        await h.api.list_medications()
    assert type(raised.value) is errors.ApiError
    assert raised.value.status_code == 502
    assert raised.value.error_code is None
    assert "Bad gateway" in raised.value.message


async def test_unknown_error_code_raises_base_api_error(app: FastAPI, connect: Connect) -> None:
    body = b'{"error_code": "071-999", "message": "Newer error", "additional_information": {"x": 1}}'
    h = await connect(asgi=behind_gateway(app, 418, body, "application/json"))
    with pytest.raises(errors.ApiError) as raised:
        await h.api.list_medications()
    assert type(raised.value) is errors.ApiError
    assert (raised.value.status_code, raised.value.error_code) == (418, "071-999")
    assert raised.value.additional_information == {"x": 1}


async def test_pickled_error_keeps_every_field(connect: Connect) -> None:
    h = await connect()
    with pytest.raises(errors.ProductNotInCatalogue) as raised:
        await h.api.get_medication("LAB-HEMO")
    copy = pickle.loads(pickle.dumps(raised.value))  # noqa: S301 - our own bytes
    assert type(copy) is errors.ProductNotInCatalogue
    assert vars(copy) == vars(raised.value)


# Iterators


async def test_iter_medications_visits_every_item_exactly_once(connect: Connect) -> None:
    h = await connect()
    codes = [m.product_code async for m in h.api.iter_medications(size=200)]
    assert len(codes) == SANDBOX_MEDICATIONS
    assert len(set(codes)) == SANDBOX_MEDICATIONS
    assert h.sent(MEDICATIONS) == 4


async def test_iter_medications_fetches_next_page_only_when_page_is_consumed(connect: Connect) -> None:
    h = await connect()
    medications = h.api.iter_medications(size=200)
    assert h.sent(MEDICATIONS) == 0
    for _ in range(200):
        await anext(medications)
    assert h.sent(MEDICATIONS) == 1
    await anext(medications)
    assert h.sent(MEDICATIONS) == 2
    assert h.requests[-1].url.params["page"] == "1"


async def test_iter_products_with_type_visits_every_product_of_type_once(connect: Connect) -> None:
    h = await connect()
    products = [p async for p in h.api.iter_products(product_type="LAB", size=100)]
    assert len({p.product_code for p in products}) == len(products) == SANDBOX_LABS
    assert all(isinstance(p, models.ServiceProduct) for p in products)
    assert h.sent(PRODUCTS) == 3


async def test_iter_provider_products_visits_every_registration_once(connect: Connect) -> None:
    h = await connect()
    codes = ["MED-042", "LAB-HEMO", "MED-SBX-0001", "MED-SBX-0002", "MED-SBX-0003"]
    await h.api.register_products(codes)
    listed = [p.product_code async for p in h.api.iter_provider_products(size=2)]
    assert sorted(listed) == sorted(codes)
    assert h.sent(PROVIDER_PRODUCTS) == 3


async def test_iter_provider_products_with_none_registered_sends_one_request(connect: Connect) -> None:
    h = await connect()
    assert [p async for p in h.api.iter_provider_products()] == []
    assert h.sent(PROVIDER_PRODUCTS) == 1


# Tokens


async def test_many_calls_use_one_cached_token(connect: Connect) -> None:
    h = await connect()
    for _ in range(5):
        await h.api.get_medication("MED-042")
    assert h.sent(TOKEN, "POST") == 1


async def test_concurrent_first_calls_share_one_token_request(connect: Connect) -> None:
    h = await connect()
    await asyncio.gather(*(h.api.get_medication("MED-042") for _ in range(10)))
    assert h.sent(TOKEN, "POST") == 1


async def test_call_near_token_expiry_refreshes_token_first(connect: Connect) -> None:
    now = [0.0]
    h = await connect(client_clock=lambda: now[0])
    await h.api.get_medication("MED-042")
    now[0] = 3600 - 61  # a token of 3600 s is replaced when 60 s remain
    await h.api.get_medication("MED-042")
    assert h.sent(TOKEN, "POST") == 1
    now[0] = 3600 - 59
    await h.api.get_medication("MED-042")
    assert h.sent(TOKEN, "POST") == 2


async def test_short_lived_token_is_refreshed_within_tenth_of_lifetime(
    settings: Settings, limiter: RateLimiter, connect: Connect, make_client: Any
) -> None:
    short = create_app(settings.model_copy(update={"token_ttl_seconds": 60}), limiter=limiter)
    now = [0.0]
    try:
        h = await connect(await make_client(), asgi=short, client_clock=lambda: now[0])
        await h.api.get_medication("MED-042")
        now[0] = 53.0  # 60 s tokens are replaced when 6 s remain
        await h.api.get_medication("MED-042")
        assert h.sent(TOKEN, "POST") == 1
        now[0] = 55.0
        await h.api.get_medication("MED-042")
        assert h.sent(TOKEN, "POST") == 2
    finally:
        await short.state.runtime.database.dispose()


async def test_call_with_refused_token_refreshes_token_and_retries_once(
    app: FastAPI, settings: Settings, connect: Connect
) -> None:
    h = await connect()
    await h.api.get_medication("MED-042")
    # The server rotates its signing key: the cached token is now refused with 401.
    runtime = app.state.runtime
    runtime.settings = settings.model_copy(update={"jwt_secret": "rotated-secret-" + "r" * 40})
    runtime.verifier = TokenVerifier(runtime.settings)
    medication = await h.api.get_medication("MED-042")
    assert medication.product_code == "MED-042"
    assert h.sent(TOKEN, "POST") == 2
    assert h.sent(f"{MEDICATIONS}/MED-042") == 3


async def test_call_of_disabled_client_raises_authentication_failed_after_one_refresh(
    app: FastAPI, connect: Connect, make_client: Any
) -> None:
    creds: ApiClient = await make_client()
    h = await connect(creds)
    await h.api.get_medication("MED-042")
    async with app.state.runtime.database.transaction(write=True) as conn:
        await auth_service.set_active(conn, client_id=creds.client_id, active=False)
    with pytest.raises(errors.AuthenticationFailed):
        await h.api.get_medication("MED-042")
    assert h.sent(TOKEN, "POST") == 2
    assert h.sent(f"{MEDICATIONS}/MED-042") == 2


async def test_token_request_rate_limited_waits_retry_after(
    http: httpx.AsyncClient, connect: Connect, make_client: Any
) -> None:
    creds: ApiClient = await make_client()
    for _ in range(9):  # make_client used the first of the 10 token requests a minute
        await http.post(
            TOKEN, data={"grant_type": "client_credentials"}, auth=(creds.client_id, creds.client_secret)
        )
    h = await connect(creds)
    await h.api.get_medication("MED-042")
    assert h.sleeps == [60.0]
    assert h.sent(TOKEN, "POST") == 2


# Retries


async def test_rate_limited_call_waits_retry_after_then_succeeds(connect: Connect) -> None:
    h = await connect(rate_limit="2/minute")
    await h.api.get_medication("MED-042")
    await h.api.get_medication("MED-042")
    medication = await h.api.get_medication("MED-042")
    assert medication.product_code == "MED-042"
    assert h.sleeps == [60.0]
    assert h.sent(f"{MEDICATIONS}/MED-042") == 4


async def test_rate_limited_call_out_of_retries_raises_rate_limited_with_retry_after(
    connect: Connect,
) -> None:
    h = await connect(rate_limit="2/minute", max_retries=2, advance_clock=False)
    await h.api.get_medication("MED-042")
    await h.api.get_medication("MED-042")
    with pytest.raises(errors.RateLimited) as raised:
        await h.api.get_medication("MED-042")
    assert raised.value.status_code == 429
    assert raised.value.error_code == "071-429"
    assert raised.value.retry_after == 60
    assert h.sleeps == [60.0, 60.0]
    assert h.sent(f"{MEDICATIONS}/MED-042") == 5


async def test_unavailable_service_is_retried_with_growing_pauses_then_raises(
    connect: Connect, unreachable_database: Callable[[], None]
) -> None:
    h = await connect(max_retries=4)
    await h.api.list_provider_products()
    unreachable_database()
    with pytest.raises(errors.ServiceUnavailable) as raised:
        await h.api.list_provider_products()
    assert raised.value.status_code == 503
    assert h.sent(PROVIDER_PRODUCTS) == 1 + 5
    assert len(h.sleeps) == 4
    assert h.sleeps == sorted(h.sleeps)
    assert h.sleeps[-1] > h.sleeps[0]
    assert all(s >= 1 for s in h.sleeps)  # never sooner than the server's Retry-After


async def test_unexpected_failure_is_retried_then_raises_server_error(
    connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = await connect(max_retries=2)

    async def explode(*_: Any, **__: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(registry_service, "get", explode)
    with pytest.raises(errors.ServerError) as raised:
        await h.api.get_provider_product("MED-042")
    assert raised.value.status_code == 500
    assert raised.value.request_id == raised.value.additional_information["request_id"]
    assert h.sent(f"{PROVIDER_PRODUCTS}/MED-042") == 3
    assert len(h.sleeps) == 2


async def test_client_error_is_never_retried(connect: Connect) -> None:
    h = await connect()
    with pytest.raises(errors.ProductNotInCatalogue):
        await h.api.get_product("NOPE-1")
    assert h.sent(f"{PRODUCTS}/NOPE-1") == 1
    assert h.sleeps == []


async def test_connection_failures_are_retried_then_call_succeeds(connect: Connect) -> None:
    h = await connect(flaky=2)
    medication = await h.api.get_medication("MED-042")
    assert medication.product_code == "MED-042"
    assert len(h.sleeps) == 2
    assert h.sleeps[1] >= h.sleeps[0]


async def test_connection_failures_out_of_retries_raise_transport_error(connect: Connect) -> None:
    h = await connect(flaky=10, max_retries=3)
    with pytest.raises(errors.TransportError):
        await h.api.get_medication("MED-042")
    assert len(h.sleeps) == 3
    assert not issubclass(errors.TransportError, errors.ApiError)


async def test_post_retries_reuse_one_idempotency_key(
    connect: Connect, unreachable_database: Callable[[], None]
) -> None:
    h = await connect(max_retries=2)
    await h.api.get_medication("MED-042")
    unreachable_database()
    for _ in range(2):
        with pytest.raises(errors.ServiceUnavailable):
            await h.api.register_product("MED-042")
    keys = [r.headers["idempotency-key"] for r in h.requests if r.method == "POST" and r.url.path != TOKEN]
    assert len(keys) == 6
    assert len(set(keys[:3])) == 1
    assert len(set(keys[3:])) == 1
    assert keys[0] != keys[3]
    uuid.UUID(keys[0])


async def test_register_product_with_lost_answer_is_retried_and_replayed(connect: Connect) -> None:
    h = await connect(lost=1)
    registration = await h.api.register_product("MED-042")
    # The retry carried the first attempt's key, so the server answered it with the first 201, not 409.
    assert registration.product_code == "MED-042"
    assert h.sent(PROVIDER_PRODUCTS, "POST") == 2
    assert len(h.sleeps) == 1


# Rate-limit state and configuration


async def test_last_rate_limit_reflects_latest_response_headers(connect: Connect) -> None:
    h = await connect(rate_limit="5/minute")
    assert h.api.last_rate_limit is None
    await h.api.get_medication("MED-042")
    await h.api.get_medication("MED-042")
    assert h.api.last_rate_limit == models.RateLimitState(limit=5, remaining=3, reset_after=60, window=60)


def test_rate_limit_state_from_ietf_headers_only_is_parsed() -> None:
    headers = {"RateLimit-Policy": '"default";q=50;w=60', "RateLimit": '"default";r=7;t=12'}
    state = models.RateLimitState.from_headers(headers)
    assert state == models.RateLimitState(limit=50, remaining=7, reset_after=12, window=60)
    assert models.RateLimitState.from_headers({}) is None


async def test_settings_missing_from_arguments_are_read_from_environment(
    app: FastAPI, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds: ApiClient = await make_client()
    monkeypatch.setenv("PROVIDER_PRODUCTS_BASE_URL", BASE_URL + "/")
    monkeypatch.setenv("PROVIDER_PRODUCTS_CLIENT_ID", creds.client_id)
    monkeypatch.setenv("PROVIDER_PRODUCTS_CLIENT_SECRET", creds.client_secret)
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http,
        AsyncClient(http_client=http) as api,
    ):
        assert (await api.get_medication("MED-042")).product_code == "MED-042"


@pytest.mark.parametrize(
    ("missing", "variable"),
    [
        ("base_url", "PROVIDER_PRODUCTS_BASE_URL"),
        ("client_id", "PROVIDER_PRODUCTS_CLIENT_ID"),
        ("client_secret", "PROVIDER_PRODUCTS_CLIENT_SECRET"),
    ],
)
def test_client_without_setting_or_variable_raises_value_error_naming_variable(
    missing: str, variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = {"base_url": BASE_URL, "client_id": "cli_x", "client_secret": "s"}
    del given[missing]
    monkeypatch.delenv(variable, raising=False)
    with pytest.raises(ValueError, match=variable):
        Client(**given)
    with pytest.raises(ValueError, match=variable):
        AsyncClient(**given)


# The blocking client, against the app served by Starlette's TestClient in its own thread and loop


def test_sync_register_then_read_back_returns_typed_models(sync_connect: SyncConnect) -> None:
    h = sync_connect()
    registration = h.api.register_product("med-042")
    assert isinstance(registration, models.Registration)
    assert isinstance(h.api.get_provider_product("MED-042"), models.ProviderProduct)
    assert isinstance(h.api.get_medication("MED-042"), models.Medication)
    assert isinstance(h.api.get_product("LAB-HEMO"), models.ServiceProduct)
    page = h.api.list_provider_products()
    assert [p.product_code for p in page.content] == ["MED-042"]
    assert h.api.list_products(query="hemograma").content[0].product_code == "LAB-HEMO"
    assert h.api.register_products(["LAB-HEMO"]).counts["registered"] == 1
    h.api.delete_provider_product("MED-042")
    assert [p.product_code for p in h.api.iter_provider_products()] == ["LAB-HEMO"]


def test_sync_iter_medications_visits_every_item_once_lazily(sync_connect: SyncConnect) -> None:
    h = sync_connect()
    medications = h.api.iter_medications(size=200)
    assert h.sent(MEDICATIONS) == 0
    first = next(medications)
    assert h.sent(MEDICATIONS) == 1
    codes = [first.product_code, *(m.product_code for m in medications)]
    assert len(set(codes)) == len(codes) == SANDBOX_MEDICATIONS
    assert h.sent(MEDICATIONS) == 4


def test_sync_iter_products_visits_every_product_once(sync_connect: SyncConnect) -> None:
    h = sync_connect()
    codes = [p.product_code for p in h.api.iter_products(product_type="LAB", size=100)]
    assert len(set(codes)) == len(codes) == SANDBOX_LABS


def test_sync_unknown_medication_raises_product_not_in_catalogue(sync_connect: SyncConnect) -> None:
    h = sync_connect()
    with pytest.raises(errors.ProductNotInCatalogue) as raised:
        h.api.get_medication("NOPE-1")
    assert (raised.value.status_code, raised.value.error_code) == (404, "071-101")
    assert raised.value.request_id


def test_sync_many_calls_use_one_cached_token(sync_connect: SyncConnect) -> None:
    h = sync_connect()
    for _ in range(5):
        h.api.get_medication("MED-042")
    assert h.sent(TOKEN, "POST") == 1


def test_sync_rate_limited_call_waits_retry_after_then_succeeds(sync_connect: SyncConnect) -> None:
    h = sync_connect(rate_limit="2/minute")
    for _ in range(3):
        h.api.get_medication("MED-042")
    assert h.sleeps == [60.0]
    assert h.api.last_rate_limit is not None
    assert h.api.last_rate_limit.limit == 2


def test_sync_rate_limited_call_out_of_retries_raises_rate_limited(sync_connect: SyncConnect) -> None:
    h = sync_connect(rate_limit="2/minute", max_retries=1, advance_clock=False)
    h.api.get_medication("MED-042")
    h.api.get_medication("MED-042")
    with pytest.raises(errors.RateLimited) as raised:
        h.api.get_medication("MED-042")
    assert raised.value.retry_after == 60
    assert h.sleeps == [60.0]


def test_sync_unavailable_service_is_retried_with_growing_pauses_then_raises(
    sync_connect: SyncConnect, unreachable_database: Callable[[], None]
) -> None:
    h = sync_connect(max_retries=4)
    h.api.list_provider_products()
    unreachable_database()
    with pytest.raises(errors.ServiceUnavailable):
        h.api.list_provider_products()
    assert h.sent(PROVIDER_PRODUCTS) == 1 + 5
    assert h.sleeps == sorted(h.sleeps)
    assert h.sleeps[-1] > h.sleeps[0]


def test_sync_read_only_client_registering_raises_permission_denied(sync_connect: SyncConnect) -> None:
    h = sync_connect(scopes="arc:read")
    with pytest.raises(errors.PermissionDenied):
        h.api.register_product("MED-042")
    assert h.sleeps == []


def test_sync_close_leaves_passed_http_client_open(sync_connect: SyncConnect, served: TestClient) -> None:
    h = sync_connect()
    with h.api as api:
        api.get_medication("MED-042")
    assert not served.is_closed


def _idempotency_refusal(app: FastAPI, status: int, reason: str, times: int) -> Any:
    """Answer the first ``times`` registrations with a 071-106 refusal, then let them through."""
    body = orjson.dumps(
        {"error_code": "071-106", "message": "refused", "additional_information": {"reason": reason}}
    )
    left = times

    async def refusing(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal left
        if scope["type"] != "http" or scope["path"] != PROVIDER_PRODUCTS or left == 0:
            await app(scope, receive, send)
            return
        left -= 1
        headers = [(b"content-type", b"application/json"), (b"retry-after", b"2")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return refusing


async def test_register_in_progress_409_waits_and_retries_with_the_same_key(
    connect: Connect, app: FastAPI
) -> None:
    h = await connect(asgi=_idempotency_refusal(app, 409, "in_progress", 2))
    registration = await h.api.register_product("MED-042")
    assert registration.product_code == "MED-042"
    keys = [r.headers["idempotency-key"] for r in h.requests if r.url.path == PROVIDER_PRODUCTS]
    assert len(keys) == 3
    assert len(set(keys)) == 1
    assert h.sleeps[-2:] >= [2.0, 2.0]


async def test_register_in_progress_out_of_retries_raises_in_progress(connect: Connect, app: FastAPI) -> None:
    h = await connect(asgi=_idempotency_refusal(app, 409, "in_progress", 10), max_retries=2)
    with pytest.raises(errors.IdempotencyKeyInProgress) as raised:
        await h.api.register_product("MED-042")
    assert raised.value.status_code == 409
    assert isinstance(raised.value, errors.IdempotencyConflict)


async def test_register_payload_mismatch_422_raises_without_retry(connect: Connect, app: FastAPI) -> None:
    h = await connect(asgi=_idempotency_refusal(app, 422, "payload_mismatch", 10))
    with pytest.raises(errors.IdempotencyKeyMismatch) as raised:
        await h.api.register_product("MED-042")
    assert raised.value.additional_information == {"reason": "payload_mismatch"}
    assert h.sent(PROVIDER_PRODUCTS, "POST") == 1
