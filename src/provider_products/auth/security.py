"""Secrets and tokens: argon2 hashing of client secrets, JWT issue and verification."""

from __future__ import annotations

import secrets
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from provider_products.config import Settings

_hasher = PasswordHasher()

ALL_SCOPES = ("arc:read", "arc:write", "ehr:read", "ehr:write", "dispensing:read", "dispensing:write")
DEFAULT_SCOPES = ("arc:read", "arc:write")


def new_client_id() -> str:
    """Return a fresh, unguessable client id."""
    return "cli_" + secrets.token_hex(12)


def new_secret() -> str:
    """Return a fresh client secret (shown once, stored only hashed)."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """Hash a secret with argon2id."""
    return _hasher.hash(secret)


@cache
def _dummy_hash() -> str:
    """Return the hash verified for unknown client ids, so that they cost what a wrong secret costs."""
    # Made on first use rather than at import: hashing takes most of a second, which every CLI
    # command (``--help`` included) paid. Same parameters as ``_hasher``, the defaults.
    return PasswordHasher().hash(secrets.token_urlsafe(32))


def verify_secret(secret_hash: str | None, secret: str) -> bool:
    """Check a secret against its hash; with no hash, spend the same time and say no."""
    try:
        return _hasher.verify(secret_hash or _dummy_hash(), secret) and secret_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class TokenClaims:
    """What a verified access token says."""

    client_id: str
    provider_slug: str
    scopes: frozenset[str]
    expires_at: int
    issued_at: int = 0


class TokenInvalid(Exception):
    """The token is missing, malformed, expired, not yet valid or forged."""


def issue_token(settings: Settings, *, client_id: str, provider_slug: str, scopes: list[str]) -> str:
    """Sign an access token for a client."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": client_id,
        "provider_slug": provider_slug,
        "scope": " ".join(scopes),
        "iat": now,
        "nbf": now,
        "exp": now + settings.token_ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm=settings.jwt_algorithm)


class TokenVerifier:
    """Verify access tokens with the configured key and algorithm only.

    A client reuses its token for up to an hour, so verified tokens are remembered (bounded, per
    process) and only their expiry is checked again: the signature check is a sizeable share of a
    simple request's cost.
    """

    _CACHE_SIZE = 10_000

    def __init__(self, settings: Settings) -> None:
        self._key = settings.jwt_secret
        self._algorithms = [settings.jwt_algorithm]
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        self._verified: OrderedDict[str, TokenClaims] = OrderedDict()

    def verify(self, token: str) -> TokenClaims:
        """Return the claims of a valid token, or raise ``TokenInvalid``."""
        claims = self._verified.get(token)
        if claims is not None:
            if claims.expires_at > time.time():
                return claims
            del self._verified[token]
            raise TokenInvalid("expired")
        claims = self._decode(token)
        self._verified[token] = claims
        if len(self._verified) > self._CACHE_SIZE:
            self._verified.popitem(last=False)
        return claims

    def _decode(self, token: str) -> TokenClaims:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "scope", "provider_slug", "jti"]},
                leeway=5,
            )
        except jwt.PyJWTError as exc:
            raise TokenInvalid(str(exc)) from None
        scope, sub, slug = claims.get("scope"), claims.get("sub"), claims.get("provider_slug")
        if not isinstance(scope, str) or not isinstance(sub, str) or not isinstance(slug, str):
            raise TokenInvalid("malformed claims")
        return TokenClaims(
            client_id=sub,
            provider_slug=slug,
            scopes=frozenset(scope.split()),
            expires_at=int(claims["exp"]),
            issued_at=int(claims["iat"]),
        )
