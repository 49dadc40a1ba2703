"""Service settings, read from ``PROVIDER_PRODUCTS_*`` environment variables."""

from __future__ import annotations

import functools
import json
import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SANDBOX_JWT_SECRET = "sandbox-only-secret-change-me-in-production-0123456789"  # noqa: S105

_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)?\s*(second|minute|hour|day)s?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_URL_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres")
_ORIGIN_RE = re.compile(r"^https?://[^\s/?#]+$")


@functools.lru_cache(maxsize=1024)
def parse_rate(text: str) -> tuple[int, int]:
    """Parse ``"50/minute"`` or ``"100/30 seconds"`` into ``(limit, window_seconds)``."""
    match = _RATE_RE.match(text)
    if match is None:
        raise ValueError(f"invalid rate limit {text!r}; expected e.g. '50/minute' or '10/30 seconds'")
    limit = int(match.group(1))
    window = int(match.group(2) or 1) * _UNIT_SECONDS[match.group(3).lower()]
    if limit < 1 or window < 1:
        raise ValueError(f"invalid rate limit {text!r}; limit and window must be positive")
    return limit, window


class Settings(BaseSettings):
    """Everything the service can be configured with; unsafe production values are refused."""

    model_config = SettingsConfigDict(env_prefix="PROVIDER_PRODUCTS_", extra="ignore")

    environment: Literal["sandbox", "production"] = "sandbox"
    database_url: str = "sqlite:///./provider-products.db"
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL"] = "NORMAL"
    db_pool_size: int = Field(default=20, ge=1, le=500)

    jwt_secret: str = SANDBOX_JWT_SECRET
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    jwt_issuer: str = "provider-products"
    jwt_audience: str = "provider-products"
    token_ttl_seconds: int = Field(default=3600, ge=60, le=86400)

    redis_url: str | None = None
    rate_limit_failure_mode: Literal["open", "closed"] = "open"
    workers: int = Field(default=1, ge=1, le=64)
    rate_limit: str = "50/minute"
    token_rate_limit: str = "10/minute"  # noqa: S105
    client_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    catalogue_refresh_seconds: float = Field(default=2.0, ge=0, le=3600)

    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Read by the connection protocol (provider_products.http.protocol); ``serve`` options set them.
    max_header_bytes: int = Field(default=32 * 1024, ge=1024, le=1024 * 1024)
    request_timeout: float = Field(default=20.0, gt=0, le=3600)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_format: Literal["auto", "json", "text"] = "auto"
    log_requests: bool = True
    # Log where the event loop was held longer than this (provider_products.stallwatch); 0: off.
    loop_stall_report_ms: float = Field(default=0, ge=0, le=60_000)
    seed_sandbox: bool = True
    # The portal: how long a sign-in lasts, and login attempts allowed per address and per account.
    portal_session_hours: float = Field(default=8.0, gt=0, le=24 * 30)
    portal_login_rate_limit: str = "20/minute"
    portal_account_rate_limit: str = "5/minute"
    # OpenTelemetry (the otel extra): auto traces when an OTLP endpoint is configured (OTEL_* variables).
    tracing: Literal["auto", "on", "off"] = "auto"

    @field_validator("rate_limit", "token_rate_limit", "portal_login_rate_limit", "portal_account_rate_limit")
    @classmethod
    def _valid_rate(cls, value: str) -> str:
        parse_rate(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        match = _URL_SCHEME_RE.match(value)
        scheme = match.group(1).lower().split("+")[0] if match else ""
        if scheme not in _DATABASE_SCHEMES:
            shown = f"{scheme!r}" if scheme else "none"
            raise ValueError(
                f"unsupported database URL scheme {shown}; use sqlite:///PATH or postgresql://HOST/NAME"
            )
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _parse_origins(cls, value: object) -> object:
        """Accept a JSON list or comma-separated origins; each is ``scheme://host[:port]`` or ``*``."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    value = json.loads(text)
                except ValueError:
                    raise ValueError(
                        'not a JSON list; expected e.g. ["https://app.example"] or '
                        "https://app.example,https://admin.example"
                    ) from None
            else:
                value = [part.strip() for part in text.split(",") if part.strip()]
        if isinstance(value, list):
            for origin in value:
                if not isinstance(origin, str) or not (origin == "*" or _ORIGIN_RE.match(origin)):
                    raise ValueError(
                        f"invalid origin {origin!r}; expected scheme://host[:port], e.g. https://app.example"
                    )
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _strong_secret(cls, value: str) -> str:
        if len(value) < 32:
            raise ValueError("jwt_secret must be at least 32 characters")
        return value

    @model_validator(mode="after")
    def _tracing_installed(self) -> Settings:
        from provider_products import tracing

        if tracing.wanted(self.tracing) and tracing.missing_modules():
            why = "is on" if self.tracing == "on" else "is auto and an OTLP endpoint is set"
            raise ValueError(
                f"tracing {why}, but the otel extra is not installed: run {tracing.INSTALL_HINT}, "
                "or set PROVIDER_PRODUCTS_TRACING=off"
            )
        return self

    @model_validator(mode="after")
    def _safe_for_production(self) -> Settings:
        if self.redis_url is None and not (self.is_sqlite and self.workers == 1):
            # Each process would keep its own counters and multiply the limit.
            raise ValueError(
                "the in-process rate limiter serves one SQLite process only; set "
                "PROVIDER_PRODUCTS_REDIS_URL for PostgreSQL or several workers"
            )
        if self.jwt_secret == SANDBOX_JWT_SECRET and not self.is_embedded_sandbox:
            raise ValueError(
                "PROVIDER_PRODUCTS_JWT_SECRET must be set to a private value outside the embedded "
                "sandbox (production environment, PostgreSQL, or several workers)"
            )
        return self

    @property
    def is_embedded_sandbox(self) -> bool:
        """Whether this is the one-process SQLite sandbox, where the demo JWT secret is acceptable."""
        return self.environment == "sandbox" and self.is_sqlite and self.workers == 1

    @property
    def is_sqlite(self) -> bool:
        """Whether the configured database is SQLite."""
        return self.database_url.startswith("sqlite")
