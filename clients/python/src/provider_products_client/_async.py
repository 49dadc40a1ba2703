"""The asyncio client (``_sync.py`` is the same API, blocking, method for method)."""

from __future__ import annotations

import asyncio
import copy as _copy
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from provider_products_client import _core, errors, models
from provider_products_client._core import NO_OPTIONS, RequestOptions

T = TypeVar("T")


class AsyncClient:
    """Call the provider-products API from asyncio: tokens, retries and errors are handled for you.

    Settings not passed are read from ``PROVIDER_PRODUCTS_BASE_URL``, ``PROVIDER_PRODUCTS_CLIENT_ID``
    and ``PROVIDER_PRODUCTS_CLIENT_SECRET``; ``scope`` narrows the token to some of the client's
    scopes. An ``http_client`` passed in is used as is and left open by ``aclose``. ``sleep`` and
    ``clock`` (monotonic seconds) replace ``asyncio.sleep`` and ``time.monotonic``, for tests. Every
    method takes ``options=RequestOptions(...)`` (timeout, retries, idempotency key, extra headers).
    One instance may be shared by the tasks of one event loop.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        scope: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 5,
        http_client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        _core.check_settings(max_retries, timeout)
        self._config = _core.resolve_config(base_url, client_id, client_secret, scope)
        self._timeout = timeout
        self._max_retries = max_retries
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.AsyncClient(timeout=timeout)
        self._sleep = sleep or asyncio.sleep
        self._clock = clock or time.monotonic
        self._tokens = _core.TokenCache()
        # Held while fetching a token, so that tasks needing one at once share a single request.
        self._token_lock = asyncio.Lock()
        # The API budget as last advertised; token requests have a budget of their own, not shown here.
        self.last_rate_limit: models.RateLimitState | None = None

    @property
    def rate_limit(self) -> models.RateLimitState | None:
        """The rate-limit budget (limit, remaining, reset_after) the latest API answer advertised."""
        return self.last_rate_limit

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release the HTTP connections, unless the HTTP client was passed in."""
        if self._owns_http:
            await self._http.aclose()

    def with_options(self, *, timeout: float | None = None, max_retries: int | None = None) -> Self:
        """Return a client with other defaults that shares this one's connections and token.

        Closing the copy leaves the connections open: ``aclose`` this one when done.
        """
        copy = _copy.copy(self)
        _core.check_settings(
            max_retries if max_retries is not None else self._max_retries,
            timeout if timeout is not None else self._timeout,
        )
        copy._timeout = timeout if timeout is not None else self._timeout
        copy._max_retries = max_retries if max_retries is not None else self._max_retries
        copy._owns_http = False
        return copy

    # Tokens

    async def access_token(self, *, options: RequestOptions | None = None) -> str:
        """Return a bearer token good for a while (the cached one, or a new one), e.g. for another tool."""
        return await self._token(options or NO_OPTIONS)

    # Catalogue

    async def list_medications(
        self,
        *,
        query: str | None = None,
        page: int = 0,
        size: int = 15,
        options: RequestOptions | None = None,
    ) -> models.Page[models.Medication]:
        """Return one page of the global medication catalogue, searched by ``query``."""
        return await self._call(_core.list_medications_call(query, page, size), options)

    def iter_medications(
        self, *, query: str | None = None, size: int = 200, options: RequestOptions | None = None
    ) -> AsyncIterator[models.Medication]:
        """Yield every matching medication, fetching each page only when the previous one is used up."""
        return _items(_walk(lambda n: self.list_medications(query=query, page=n, size=size, options=options)))

    async def get_medication(
        self, product_code: str, *, options: RequestOptions | None = None
    ) -> models.Medication:
        """Return one medication of the global catalogue."""
        return await self._call(_core.get_medication_call(product_code), options)

    async def list_products(
        self,
        *,
        product_type: str | None = None,
        query: str | None = None,
        page: int = 0,
        size: int = 15,
        options: RequestOptions | None = None,
    ) -> models.Page[models.CatalogueProduct]:
        """Return one page of the global catalogue of every product type."""
        return await self._call(_core.list_products_call(product_type, query, page, size), options)

    def iter_products(
        self,
        *,
        product_type: str | None = None,
        query: str | None = None,
        size: int = 200,
        options: RequestOptions | None = None,
    ) -> AsyncIterator[models.CatalogueProduct]:
        """Yield every matching catalogue product, page by page as they are consumed."""
        return _items(
            _walk(
                lambda n: self.list_products(
                    product_type=product_type, query=query, page=n, size=size, options=options
                )
            )
        )

    async def get_product(
        self, product_code: str, *, options: RequestOptions | None = None
    ) -> models.CatalogueProduct:
        """Return one product of the global catalogue, whatever its type."""
        return await self._call(_core.get_product_call(product_code), options)

    async def lookup_products(
        self, product_codes: Sequence[str], *, options: RequestOptions | None = None
    ) -> models.LookupResult:
        """Look up to 500 codes in the catalogue at once (extension): one answer per code, in order."""
        return await self._call(_core.lookup_call(product_codes), options)

    async def list_product_changes(
        self, *, since_revision: int, page: int = 0, size: int = 200, options: RequestOptions | None = None
    ) -> models.CatalogueChanges:
        """Return one page of the catalogue entries changed since ``since_revision`` (0: all of them)."""
        return await self._call(_core.changes_call(since_revision, page, size), options)

    def iter_product_change_pages(
        self, *, since_revision: int, size: int = 200, options: RequestOptions | None = None
    ) -> AsyncIterator[models.CatalogueChanges]:
        """Yield the change feed's pages, each fetched when needed; keep the first page's ``revision``."""
        return _walk(
            lambda n: self.list_product_changes(
                since_revision=since_revision, page=n, size=size, options=options
            )
        )

    def iter_product_changes(
        self, *, since_revision: int, size: int = 200, options: RequestOptions | None = None
    ) -> AsyncIterator[models.CatalogueProduct]:
        """Yield every catalogue entry changed since ``since_revision``, page by page as consumed."""
        return _items(
            self.iter_product_change_pages(since_revision=since_revision, size=size, options=options)
        )

    # Registry of the calling provider

    async def register_product(
        self, product_code: str, *, options: RequestOptions | None = None
    ) -> models.Registration:
        """Register a catalogue product for the calling provider."""
        return await self._call(_core.register_call(product_code), options)

    async def register_products(
        self, product_codes: Sequence[str], *, options: RequestOptions | None = None
    ) -> models.BatchResult:
        """Register many catalogue products at once; each code gets its own outcome."""
        return await self._call(_core.batch_call(product_codes), options)

    async def validate_products(
        self,
        product_codes: Sequence[str],
        *,
        at: datetime | None = None,
        options: RequestOptions | None = None,
    ) -> models.ValidationResult:
        """Say whether each code is registered by the calling provider now, or at the moment ``at``."""
        return await self._call(_core.validate_call(product_codes, at), options)

    async def list_provider_products(
        self,
        *,
        product_type: str | None = None,
        query: str | None = None,
        page: int = 0,
        size: int = 15,
        options: RequestOptions | None = None,
    ) -> models.Page[models.ProviderProduct]:
        """Return one page of the calling provider's registered products."""
        return await self._call(_core.list_provider_products_call(product_type, query, page, size), options)

    def iter_provider_products(
        self,
        *,
        product_type: str | None = None,
        query: str | None = None,
        size: int = 200,
        options: RequestOptions | None = None,
    ) -> AsyncIterator[models.ProviderProduct]:
        """Yield every registered product of the calling provider, page by page as they are consumed."""
        return _items(
            _walk(
                lambda n: self.list_provider_products(
                    product_type=product_type, query=query, page=n, size=size, options=options
                )
            )
        )

    async def get_provider_product(
        self, product_code: str, *, options: RequestOptions | None = None
    ) -> models.ProviderProduct:
        """Return one of the calling provider's registered products."""
        return await self._call(_core.get_provider_product_call(product_code), options)

    async def get_provider_product_history(
        self, product_code: str, *, options: RequestOptions | None = None
    ) -> models.History:
        """Return every period during which the calling provider had ``product_code`` registered."""
        return await self._call(_core.history_call(product_code), options)

    async def delete_provider_product(
        self, product_code: str, *, options: RequestOptions | None = None
    ) -> None:
        """Remove a registration of the calling provider."""
        await self._call(_core.delete_provider_product_call(product_code), options)

    # Downstream records

    async def create_prescription(
        self,
        *,
        patient_id: str,
        diagnosis_codes: Sequence[str],
        medications: Sequence[models.PrescribedMedication | Mapping[str, Any]],
        options: RequestOptions | None = None,
    ) -> models.Prescription:
        """File a prescription of registered medications (scope ``ehr:write``)."""
        return await self._call(
            _core.create_prescription_call(patient_id, diagnosis_codes, medications), options
        )

    async def get_prescription(
        self, prescription_id: str, *, options: RequestOptions | None = None
    ) -> models.Prescription:
        """Return one of the calling provider's prescriptions (scope ``ehr:read``)."""
        return await self._call(_core.get_prescription_call(prescription_id), options)

    async def create_authorization_request(
        self,
        *,
        beneficiary_id: str,
        sponsor_slug: str,
        diagnosis_code: str,
        products: Sequence[models.AuthorizationProduct | Mapping[str, Any]],
        options: RequestOptions | None = None,
    ) -> models.AuthorizationRequest:
        """File a pre-authorization request for registered products."""
        call = _core.create_authorization_call(beneficiary_id, sponsor_slug, diagnosis_code, products)
        return await self._call(call, options)

    async def get_authorization_request(
        self, authorization_id: str, *, options: RequestOptions | None = None
    ) -> models.AuthorizationRequest:
        """Return one of the calling provider's pre-authorization requests."""
        return await self._call(_core.get_authorization_call(authorization_id), options)

    async def complete_authorization_request(
        self, authorization_id: str, *, options: RequestOptions | None = None
    ) -> models.AuthorizationRequest:
        """Mark a pre-authorization request as completed."""
        return await self._call(_core.complete_authorization_call(authorization_id), options)

    async def create_claim(
        self,
        *,
        beneficiary_id: str,
        sponsor_slug: str,
        diagnosis_code: str,
        line_items: Sequence[models.ClaimLine | Mapping[str, Any]],
        authorization_id: str | None = None,
        options: RequestOptions | None = None,
    ) -> models.ClaimCreated:
        """File an outpatient-care claim for registered products."""
        call = _core.create_claim_call(
            beneficiary_id, sponsor_slug, diagnosis_code, line_items, authorization_id
        )
        return await self._call(call, options)

    async def get_claim(self, claim_id: str, *, options: RequestOptions | None = None) -> models.Claim:
        """Return one of the calling provider's outpatient-care claims."""
        return await self._call(_core.get_claim_call(claim_id), options)

    # Plumbing

    async def _call(self, call: _core.Call[T], options: RequestOptions | None) -> T:
        """Send one operation and read its answer."""
        response = await self._request(call, options or NO_OPTIONS)
        return call.parse(response.content)

    async def _request(self, call: _core.Call[Any], options: RequestOptions) -> httpx.Response:
        """Send an API request with a valid token; retry what may succeed later; raise the mapped error."""
        url = self._config.base_url + call.path
        key = _core.idempotency_key(call.method, options.idempotency_key)
        timeout = options.timeout if options.timeout is not None else self._timeout
        reauthenticated = False
        while True:
            token = await self._token(options)

            async def send(token: str = token) -> httpx.Response:
                response = await self._http.request(
                    call.method,
                    url,
                    params=call.params,
                    json=call.json,
                    headers=_core.api_headers(token, key, options.extra_headers),
                    timeout=timeout,
                )
                state = _core.record_rate_limit(response)
                if state is not None:
                    self.last_rate_limit = state
                return response

            response = await self._with_retries(send, options)
            if response.status_code == 401 and not reauthenticated:
                # The token may have been revoked or expired early (server clock ahead): get a new one once.
                reauthenticated = True
                self._tokens.discard(token)
                continue
            if response.status_code >= 400:
                raise errors.error_from_response(response)
            return response

    async def _token(self, options: RequestOptions) -> str:
        """Return a token that is good for a while, fetching one if needed (one fetch at a time)."""
        token = self._tokens.fresh(self._clock())
        if token is not None:
            return token
        async with self._token_lock:
            token = self._tokens.fresh(self._clock())
            if token is not None:
                return token
            requested_at = self._clock()
            request = _core.token_request(self._config)
            timeout = options.timeout if options.timeout is not None else self._timeout
            response = await self._with_retries(
                lambda: self._http.request(**request, timeout=timeout), options
            )
            return self._tokens.store(_core.parse_token(response), requested_at)

    async def _with_retries(
        self, send: Callable[[], Awaitable[httpx.Response]], options: RequestOptions
    ) -> httpx.Response:
        """Send until the answer is final or the retries are used up; return the last response."""
        max_retries = options.max_retries if options.max_retries is not None else self._max_retries
        attempt = 0
        while True:
            try:
                response = await send()
            except _core.RETRYABLE_TRANSPORT_ERRORS as exc:
                if attempt >= max_retries:
                    raise _core.transport_error(exc, attempt + 1) from exc
                await self._sleep(_core.backoff(attempt))
                attempt += 1
                continue
            except httpx.TransportError as exc:
                raise _core.transport_error(exc, attempt + 1) from exc
            delay = _core.retry_delay(response, attempt)
            if delay is None or attempt >= max_retries:
                return response
            await self._sleep(delay)
            attempt += 1


async def _walk(fetch: Callable[[int], Awaitable[_core.P]]) -> AsyncIterator[_core.P]:
    """Yield pages 0, 1, ... until the last page; each page is fetched when the previous one is used up."""
    number = 0
    while True:
        page = await fetch(number)
        yield page
        number += 1
        # An empty page also ends the walk, so a list that shrinks meanwhile cannot loop forever.
        if not page.content or number >= page.page.total_pages:
            return


async def _items(pages: AsyncIterator[_core.PageLike[T]]) -> AsyncIterator[T]:
    """Yield the items of each page in turn."""
    async for page in pages:
        for item in page.content:
            yield item
