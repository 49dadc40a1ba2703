"""The blocking client."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from provider_products_client import _core, errors, models

T = TypeVar("T")


class Client:
    """Call the provider-products API: tokens, retries and errors are handled for you.

    Settings not passed are read from ``PROVIDER_PRODUCTS_BASE_URL``, ``PROVIDER_PRODUCTS_CLIENT_ID``
    and ``PROVIDER_PRODUCTS_CLIENT_SECRET``. An ``http_client`` passed in is used as is and left
    open by ``close``. ``sleep`` and ``clock`` (monotonic seconds) replace ``time.sleep`` and
    ``time.monotonic``, for tests. One instance may be shared by threads.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 5,
        http_client: httpx.Client | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        _core.check_settings(max_retries, timeout)
        self._config = _core.resolve_config(base_url, client_id, client_secret)
        self._timeout = timeout
        self._max_retries = max_retries
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.Client(timeout=timeout)
        self._sleep = sleep or time.sleep
        self._clock = clock or time.monotonic
        self._tokens = _core.TokenCache()
        # Held while fetching a token, so that threads needing one at once share a single request.
        self._token_lock = threading.Lock()
        # The API budget as last advertised; token requests have a budget of their own, not shown here.
        self.last_rate_limit: models.RateLimitState | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the HTTP connections, unless the HTTP client was passed in."""
        if self._owns_http:
            self._http.close()

    # Catalogue

    def list_medications(
        self, *, query: str | None = None, page: int = 0, size: int = 15
    ) -> models.Page[models.Medication]:
        """Return one page of the global medication catalogue, searched by ``query``."""
        params = _core.list_params(query=query, page=page, size=size)
        response = self._request("GET", _core.MEDICATIONS_PATH, params=params)
        return models.Page[models.Medication].model_validate_json(response.content)

    def iter_medications(self, *, query: str | None = None, size: int = 200) -> Iterator[models.Medication]:
        """Yield every matching medication, fetching each page only when the previous one is used up."""
        return _walk(lambda number: self.list_medications(query=query, page=number, size=size))

    def get_medication(self, product_code: str) -> models.Medication:
        """Return one medication of the global catalogue."""
        response = self._request("GET", _core.code_path(_core.MEDICATIONS_PATH, product_code))
        return models.Medication.model_validate_json(response.content)

    def list_products(
        self, *, product_type: str | None = None, query: str | None = None, page: int = 0, size: int = 15
    ) -> models.Page[models.CatalogueProduct]:
        """Return one page of the global catalogue of every product type."""
        params = _core.list_params(query=query, page=page, size=size, product_type=product_type)
        response = self._request("GET", _core.PRODUCTS_PATH, params=params)
        return models.Page[models.CatalogueProduct].model_validate_json(response.content)

    def iter_products(
        self, *, product_type: str | None = None, query: str | None = None, size: int = 200
    ) -> Iterator[models.CatalogueProduct]:
        """Yield every matching catalogue product, page by page as they are consumed."""
        return _walk(
            lambda number: self.list_products(product_type=product_type, query=query, page=number, size=size)
        )

    def get_product(self, product_code: str) -> models.CatalogueProduct:
        """Return one product of the global catalogue, whatever its type."""
        response = self._request("GET", _core.code_path(_core.PRODUCTS_PATH, product_code))
        return _core.CATALOGUE_PRODUCT.validate_json(response.content)

    # Provider products

    def lookup_products(self, product_codes: Sequence[str]) -> models.LookupResult:
        """Look up to 500 codes in the catalogue at once (extension): one answer per code, in order."""
        response = self._request("POST", _core.LOOKUP_PATH, json={"product_codes": list(product_codes)})
        return models.LookupResult.model_validate_json(response.content)

    def register_product(self, product_code: str) -> models.Registration:
        """Register a catalogue product for the calling provider."""
        response = self._request("POST", _core.PROVIDER_PRODUCTS_PATH, json={"product_code": product_code})
        return models.Registration.model_validate_json(response.content)

    def register_products(self, product_codes: Sequence[str]) -> models.BatchResult:
        """Register many catalogue products at once; each code gets its own outcome."""
        response = self._request("POST", _core.BATCH_PATH, json={"product_codes": list(product_codes)})
        return models.BatchResult.model_validate_json(response.content)

    def list_provider_products(
        self, *, product_type: str | None = None, query: str | None = None, page: int = 0, size: int = 15
    ) -> models.Page[models.ProviderProduct]:
        """Return one page of the calling provider's registered products."""
        params = _core.list_params(query=query, page=page, size=size, product_type=product_type)
        response = self._request("GET", _core.PROVIDER_PRODUCTS_PATH, params=params)
        return models.Page[models.ProviderProduct].model_validate_json(response.content)

    def iter_provider_products(
        self, *, product_type: str | None = None, query: str | None = None, size: int = 200
    ) -> Iterator[models.ProviderProduct]:
        """Yield every registered product of the calling provider, page by page as they are consumed."""
        return _walk(
            lambda number: self.list_provider_products(
                product_type=product_type, query=query, page=number, size=size
            )
        )

    def get_provider_product(self, product_code: str) -> models.ProviderProduct:
        """Return one of the calling provider's registered products."""
        response = self._request("GET", _core.code_path(_core.PROVIDER_PRODUCTS_PATH, product_code))
        return models.ProviderProduct.model_validate_json(response.content)

    def delete_provider_product(self, product_code: str) -> None:
        """Remove a registration of the calling provider."""
        self._request("DELETE", _core.code_path(_core.PROVIDER_PRODUCTS_PATH, product_code))

    # Plumbing

    def _request(
        self, method: str, path: str, *, params: dict[str, str | int] | None = None, json: Any = None
    ) -> httpx.Response:
        """Send an API request with a valid token; retry what may succeed later; raise the mapped error."""
        url = self._config.base_url + path
        key = _core.idempotency_key(method)
        reauthenticated = False
        while True:
            token = self._token()

            def send(token: str = token) -> httpx.Response:
                response = self._http.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers=_core.api_headers(token, key),
                    timeout=self._timeout,
                )
                state = _core.record_rate_limit(response)
                if state is not None:
                    self.last_rate_limit = state
                return response

            response = self._with_retries(send)
            if response.status_code == 401 and not reauthenticated:
                # The token may have been revoked or expired early (server clock ahead): get a new one once.
                reauthenticated = True
                self._tokens.discard(token)
                continue
            if response.status_code >= 400:
                raise errors.error_from_response(response)
            return response

    def _token(self) -> str:
        """Return a token that is good for a while, fetching one if needed (one fetch at a time)."""
        token = self._tokens.fresh(self._clock())
        if token is not None:
            return token
        with self._token_lock:
            token = self._tokens.fresh(self._clock())
            if token is not None:
                return token
            requested_at = self._clock()
            request = _core.token_request(self._config)
            response = self._with_retries(lambda: self._http.request(**request, timeout=self._timeout))
            return self._tokens.store(_core.parse_token(response), requested_at)

    def _with_retries(self, send: Callable[[], httpx.Response]) -> httpx.Response:
        """Send until the answer is final or the retries are used up; return the last response."""
        attempt = 0
        while True:
            try:
                response = send()
            except _core.RETRYABLE_TRANSPORT_ERRORS as exc:
                if attempt >= self._max_retries:
                    raise _core.transport_error(exc, attempt + 1) from exc
                self._sleep(_core.backoff(attempt))
                attempt += 1
                continue
            except httpx.TransportError as exc:
                raise _core.transport_error(exc, attempt + 1) from exc
            delay = _core.retry_delay(response, attempt)
            if delay is None or attempt >= self._max_retries:
                return response
            self._sleep(delay)
            attempt += 1


def _walk(fetch: Callable[[int], models.Page[T]]) -> Iterator[T]:
    """Yield the items of pages 0, 1, ... until the last page; each page is fetched when needed."""
    number = 0
    while True:
        page = fetch(number)
        yield from page.content
        number += 1
        # An empty page also ends the walk, so a list that shrinks meanwhile cannot loop forever.
        if not page.content or number >= page.page.total_pages:
            return
