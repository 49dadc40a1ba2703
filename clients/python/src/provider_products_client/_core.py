"""What the sync and async clients share: configuration, paths, retry policy and token bookkeeping."""

from __future__ import annotations

import os
import random
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
from pydantic import TypeAdapter

from provider_products_client import errors, models

VERSION = "0.1.0"
USER_AGENT = f"provider-products-python/{VERSION}"

ENV_BASE_URL = "PROVIDER_PRODUCTS_BASE_URL"
ENV_CLIENT_ID = "PROVIDER_PRODUCTS_CLIENT_ID"
ENV_CLIENT_SECRET = "PROVIDER_PRODUCTS_CLIENT_SECRET"  # noqa: S105 - a variable name, not a secret

TOKEN_PATH = "/v1/oauth/token"  # noqa: S105 - a path, not a secret
MEDICATIONS_PATH = "/medical-catalogs/v1/medications"
PRODUCTS_PATH = "/arc/v1/products"
PROVIDER_PRODUCTS_PATH = "/arc/v1/providers/products"
BATCH_PATH = "/arc/v1/providers/products/batch"
LOOKUP_PATH = "/arc/v1/products/lookup"

BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
# Failures where the request may not have reached the service or its answer was lost; others
# (an unsupported URL scheme, a malformed request) would fail the same way again.
RETRYABLE_TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)

CATALOGUE_PRODUCT: TypeAdapter[models.CatalogueProduct] = TypeAdapter(models.CatalogueProduct)


@dataclass(frozen=True)
class Config:
    """Where the service is and who the client is."""

    base_url: str
    client_id: str
    client_secret: str


def resolve_config(base_url: str | None, client_id: str | None, client_secret: str | None) -> Config:
    """Take each setting from its argument, else its environment variable; raise naming what is missing."""

    def pick(value: str | None, variable: str, argument: str) -> str:
        chosen = value if value is not None else os.environ.get(variable)
        if not chosen:
            raise ValueError(f"{argument} is required: pass {argument}= or set {variable}")
        return chosen

    return Config(
        base_url=pick(base_url, ENV_BASE_URL, "base_url").rstrip("/"),
        client_id=pick(client_id, ENV_CLIENT_ID, "client_id"),
        client_secret=pick(client_secret, ENV_CLIENT_SECRET, "client_secret"),
    )


def check_settings(max_retries: int, timeout: float) -> None:
    """Refuse settings that cannot work."""
    if max_retries < 0:
        raise ValueError("max_retries must be 0 or more")
    if timeout <= 0:
        raise ValueError("timeout must be positive")


def code_path(collection: str, product_code: str) -> str:
    """Return the path of one entry; the code is quoted so that no character can change the route."""
    return f"{collection}/{quote(product_code, safe='')}"


def list_params(
    *, query: str | None, page: int, size: int, product_type: str | None = None
) -> dict[str, str | int]:
    """Return the query parameters of a list request, leaving out the unset filters."""
    params: dict[str, str | int] = {"page": page, "size": size}
    if product_type is not None:
        params["product_type"] = product_type
    if query is not None:
        params["query"] = query
    return params


def token_request(config: Config) -> dict[str, Any]:
    """Return the keyword arguments of the token request (client credentials over HTTP Basic)."""
    # RFC 6749 section 2.3.1: the id and secret are form-encoded before the Basic encoding.
    auth = (quote_plus(config.client_id), quote_plus(config.client_secret))
    return {
        "method": "POST",
        "url": config.base_url + TOKEN_PATH,
        "data": {"grant_type": "client_credentials"},
        "auth": auth,
        "headers": {"Accept": "application/json", "User-Agent": USER_AGENT},
    }


def api_headers(token: str, idempotency_key: str | None) -> dict[str, str]:
    """Return the headers of an API request."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "User-Agent": USER_AGENT}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return headers


def idempotency_key(method: str) -> str | None:
    """Return a fresh key for a POST (kept across its retries), nothing for other methods."""
    return str(uuid.uuid4()) if method == "POST" else None


def backoff(attempt: int) -> float:
    """Return the pause before retry number ``attempt`` (0-based) after a failure.

    Equal jitter: half of the exponential step is fixed and half random, so that clients that
    failed together spread out while each client's pauses never shrink from one retry to the next.
    """
    # The exponent is bounded: the cap is reached long before, and a float power could overflow.
    step = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** min(attempt, 32))
    return step / 2 + random.uniform(0, step / 2)


def retry_delay(response: httpx.Response, attempt: int) -> float | None:
    """Return how long to wait before retrying after ``response``, or ``None`` if it must not be retried."""
    status = response.status_code
    retry_after = errors.retry_after_seconds(response)
    if status == 429:
        if retry_after is not None:
            return float(retry_after)
        error = errors.error_from_response(response)
        if isinstance(error, errors.RateLimited) and error.retry_after > 0:
            return float(error.retry_after)
        return backoff(attempt)
    if status == 409 and isinstance(errors.error_from_response(response), errors.IdempotencyKeyInProgress):
        # The first request with this key is still running: wait, then ask again with the same key.
        return max(backoff(attempt), float(retry_after if retry_after is not None else 1))
    if status in RETRYABLE_STATUSES:
        # The service's own estimate, when it gives one, is a floor under the backoff.
        return max(backoff(attempt), float(retry_after or 0))
    return None


def transport_error(exc: Exception, attempts: int) -> errors.TransportError:
    """Describe a connection failure that outlasted the retries."""
    return errors.TransportError(f"request failed after {attempts} attempt(s): {exc!r}")


class TokenCache:
    """The current access token and when to stop using it."""

    def __init__(self) -> None:
        self.token: str | None = None
        self.refresh_at = 0.0

    def fresh(self, now: float) -> str | None:
        """Return the token while it is comfortably within its lifetime."""
        return self.token if self.token is not None and now < self.refresh_at else None

    def store(self, token: models.Token, requested_at: float) -> str:
        """Remember a new token; it is replaced when 60 seconds or a tenth of its lifetime remain."""
        # Timed from before the request, so clock skew and latency only make the refresh earlier.
        margin = min(60.0, token.expires_in / 10)
        self.token = token.access_token
        self.refresh_at = requested_at + token.expires_in - margin
        return token.access_token

    def discard(self, token: str) -> None:
        """Forget ``token`` after the service refused it, unless another caller already replaced it."""
        if self.token == token:
            self.token = None


def parse_token(response: httpx.Response) -> models.Token:
    """Read a token response, or raise the error it carries."""
    if response.status_code != 200:
        raise errors.error_from_response(response)
    return models.Token.model_validate_json(response.content)


def record_rate_limit(response: httpx.Response) -> models.RateLimitState | None:
    """Return the rate-limit state a response advertises, if any."""
    return models.RateLimitState.from_headers(response.headers)
