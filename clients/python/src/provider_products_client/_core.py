"""What the sync and async clients share: configuration, paths, retry policy and token bookkeeping."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import quote, quote_plus

import httpx
from pydantic import BaseModel, TypeAdapter

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
CHANGES_PATH = "/arc/v1/products/changes"
VALIDATE_PATH = "/arc/v1/providers/products/validate"
AUTHORIZATIONS_PATH = "/arc/v1/authorization-requests"
PRESCRIPTIONS_PATH = "/ehr/v1/prescriptions"
CLAIMS_PATH = "/arc/v1/outpatient-care-claim"

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

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
M = TypeVar("M", bound=BaseModel)


class PageLike(Protocol[T_co]):
    """A page of any list: its items and where it sits in the whole list."""

    @property
    def content(self) -> Sequence[T_co]: ...

    @property
    def page(self) -> models.PageMeta: ...


P = TypeVar("P", bound=PageLike[Any])


@dataclass(frozen=True)
class RequestOptions:
    """Settings of one call that override the client's: pass ``options=RequestOptions(...)``.

    ``idempotency_key`` replaces the key the SDK makes for each POST (kept across its retries): pass
    your own to make a call safe to repeat from another process or after a crash. ``extra_headers``
    are added to the request (they cannot replace ``Authorization``).
    """

    timeout: float | None = None
    max_retries: int | None = None
    idempotency_key: str | None = None
    extra_headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError("timeout must be positive")
        if self.max_retries is not None and self.max_retries < 0:
            raise ValueError("max_retries must be 0 or more")


NO_OPTIONS = RequestOptions()


@dataclass(frozen=True)
class Call(Generic[T]):
    """One operation of the API: what to send and how to read a successful answer."""

    method: str
    path: str
    parse: Callable[[bytes], T]
    params: Mapping[str, str | int] | None = None
    json: Any = None


def _model(cls: type[M]) -> Callable[[bytes], M]:
    return cls.model_validate_json


def _nothing(_: bytes) -> None:
    return None


def _item(value: BaseModel | Mapping[str, Any]) -> Any:
    """Return a line of a request body: a model without its unset fields, or a mapping as given."""
    return value.model_dump(mode="json", exclude_none=True) if isinstance(value, BaseModel) else dict(value)


# The operations, one builder each; the sync and async clients only send them.


def list_medications_call(query: str | None, page: int, size: int) -> Call[models.Page[models.Medication]]:
    params = list_params(query=query, page=page, size=size)
    return Call("GET", MEDICATIONS_PATH, _model(models.Page[models.Medication]), params)


def get_medication_call(product_code: str) -> Call[models.Medication]:
    return Call("GET", code_path(MEDICATIONS_PATH, product_code), _model(models.Medication))


def list_products_call(
    product_type: str | None, query: str | None, page: int, size: int
) -> Call[models.Page[models.CatalogueProduct]]:
    params = list_params(query=query, page=page, size=size, product_type=product_type)
    return Call("GET", PRODUCTS_PATH, _model(models.Page[models.CatalogueProduct]), params)


def get_product_call(product_code: str) -> Call[models.CatalogueProduct]:
    return Call("GET", code_path(PRODUCTS_PATH, product_code), CATALOGUE_PRODUCT.validate_json)


def lookup_call(product_codes: Sequence[str]) -> Call[models.LookupResult]:
    body = {"product_codes": list(product_codes)}
    return Call("POST", LOOKUP_PATH, _model(models.LookupResult), json=body)


def changes_call(since_revision: int, page: int, size: int) -> Call[models.CatalogueChanges]:
    params: dict[str, str | int] = {"since_revision": since_revision, "page": page, "size": size}
    return Call("GET", CHANGES_PATH, _model(models.CatalogueChanges), params)


def register_call(product_code: str) -> Call[models.Registration]:
    body = {"product_code": product_code}
    return Call("POST", PROVIDER_PRODUCTS_PATH, _model(models.Registration), json=body)


def batch_call(product_codes: Sequence[str]) -> Call[models.BatchResult]:
    body = {"product_codes": list(product_codes)}
    return Call("POST", BATCH_PATH, _model(models.BatchResult), json=body)


def validate_call(product_codes: Sequence[str], at: datetime | None) -> Call[models.ValidationResult]:
    body: dict[str, Any] = {"product_codes": list(product_codes)}
    if at is not None:
        body["at"] = at.isoformat()
    return Call("POST", VALIDATE_PATH, _model(models.ValidationResult), json=body)


def list_provider_products_call(
    product_type: str | None, query: str | None, page: int, size: int
) -> Call[models.Page[models.ProviderProduct]]:
    params = list_params(query=query, page=page, size=size, product_type=product_type)
    return Call("GET", PROVIDER_PRODUCTS_PATH, _model(models.Page[models.ProviderProduct]), params)


def get_provider_product_call(product_code: str) -> Call[models.ProviderProduct]:
    return Call("GET", code_path(PROVIDER_PRODUCTS_PATH, product_code), _model(models.ProviderProduct))


def history_call(product_code: str) -> Call[models.History]:
    return Call("GET", code_path(PROVIDER_PRODUCTS_PATH, product_code) + "/history", _model(models.History))


def delete_provider_product_call(product_code: str) -> Call[None]:
    return Call("DELETE", code_path(PROVIDER_PRODUCTS_PATH, product_code), _nothing)


def create_prescription_call(
    patient_id: str,
    diagnosis_codes: Sequence[str],
    medications: Sequence[models.PrescribedMedication | Mapping[str, Any]],
) -> Call[models.Prescription]:
    body = {
        "patient_id": patient_id,
        "diagnoses": [{"diagnosis_code": code} for code in diagnosis_codes],
        "medications": [_item(m) for m in medications],
    }
    return Call("POST", PRESCRIPTIONS_PATH, _model(models.Prescription), json=body)


def get_prescription_call(prescription_id: str) -> Call[models.Prescription]:
    return Call("GET", code_path(PRESCRIPTIONS_PATH, prescription_id), _model(models.Prescription))


def create_authorization_call(
    beneficiary_id: str,
    sponsor_slug: str,
    diagnosis_code: str,
    products: Sequence[models.AuthorizationProduct | Mapping[str, Any]],
) -> Call[models.AuthorizationRequest]:
    body = {
        "beneficiary_id": beneficiary_id,
        "sponsor_slug": sponsor_slug,
        "diagnosis_code": diagnosis_code,
        "products": [_item(p) for p in products],
    }
    return Call("POST", AUTHORIZATIONS_PATH, _model(models.AuthorizationRequest), json=body)


def get_authorization_call(authorization_id: str) -> Call[models.AuthorizationRequest]:
    path = code_path(AUTHORIZATIONS_PATH, authorization_id)
    return Call("GET", path, _model(models.AuthorizationRequest))


def complete_authorization_call(authorization_id: str) -> Call[models.AuthorizationRequest]:
    path = code_path(AUTHORIZATIONS_PATH, authorization_id) + "/complete"
    return Call("POST", path, _model(models.AuthorizationRequest))


def create_claim_call(
    beneficiary_id: str,
    sponsor_slug: str,
    diagnosis_code: str,
    line_items: Sequence[models.ClaimLine | Mapping[str, Any]],
    authorization_id: str | None,
) -> Call[models.ClaimCreated]:
    body: dict[str, Any] = {
        "beneficiary_id": beneficiary_id,
        "sponsor_slug": sponsor_slug,
        "diagnosis_code": diagnosis_code,
        "line_items": [_item(line) for line in line_items],
    }
    if authorization_id is not None:
        body["authorization_id"] = authorization_id
    return Call("POST", CLAIMS_PATH, _model(models.ClaimCreated), json=body)


def get_claim_call(claim_id: str) -> Call[models.Claim]:
    return Call("GET", code_path(CLAIMS_PATH, claim_id), _model(models.Claim))


@dataclass(frozen=True)
class Config:
    """Where the service is and who the client is."""

    base_url: str
    client_id: str
    client_secret: str
    # The scopes to ask for (space-separated); None: every scope the client holds.
    scope: str | None = None


def resolve_config(
    base_url: str | None, client_id: str | None, client_secret: str | None, scope: str | None = None
) -> Config:
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
        scope=scope,
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
    data = {"grant_type": "client_credentials"}
    if config.scope is not None:
        data["scope"] = config.scope
    return {
        "method": "POST",
        "url": config.base_url + TOKEN_PATH,
        "data": data,
        "auth": auth,
        "headers": {"Accept": "application/json", "User-Agent": USER_AGENT},
    }


def api_headers(
    token: str, idempotency_key: str | None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Return the headers of an API request; ``extra`` ones are added but cannot replace the token."""
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    for name, value in (extra or {}).items():
        if name.lower() != "authorization":
            headers[name] = value
    headers["Authorization"] = f"Bearer {token}"
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return headers


def idempotency_key(method: str, given: str | None = None) -> str | None:
    """Return the key of a call: the one given, else a fresh one for a POST (kept across its retries)."""
    if given is not None:
        return given
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
    """Describe a connection failure or timeout that outlasted the retries."""
    cls = errors.ApiTimeoutError if isinstance(exc, httpx.TimeoutException) else errors.TransportError
    return cls(f"request failed after {attempts} attempt(s): {exc!r}")


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
