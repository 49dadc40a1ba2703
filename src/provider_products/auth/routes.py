"""The OAuth2 token endpoint (client-credentials grant, RFC 6749 section 4.4)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from provider_products.auth import repository as auth_repository
from provider_products.auth import security
from provider_products.auth import service as auth_service
from provider_products.errors import RateLimited, TokenError
from provider_products.http.errors import ErrorBody, error_response
from provider_products.observability import RATE_LIMITED
from provider_products.runtime import runtime

router = APIRouter(tags=["OAuth2"])


class TokenRead(BaseModel):
    """An access token."""

    access_token: str
    token_type: str = Field(examples=["bearer"])
    expires_in: int = Field(examples=[3600])
    scope: str = Field(examples=["arc:read arc:write"])


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    authorization = request.headers.get("authorization")
    if not authorization:
        return None
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise TokenError("invalid_client", "Use HTTP Basic client authentication", 401, "071-401")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeError):  # binascii.Error is a ValueError; so are non-ASCII bytes
        raise TokenError("invalid_client", "Malformed Basic credentials", 401, "071-401") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise TokenError("invalid_client", "Malformed Basic credentials", 401, "071-401")
    # RFC 6749 section 2.3.1: both parts are form-urlencoded before Basic encoding.
    return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))


_FORM_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "scope": {"type": "string", "description": "Space-separated scopes to narrow to"},
                        "client_id": {"type": "string", "description": "Only without HTTP Basic"},
                        "client_secret": {"type": "string", "description": "Only without HTTP Basic"},
                    },
                }
            }
        },
    }
}


@router.post(
    "/v1/oauth/token",
    operation_id="issueToken",
    response_model=TokenRead,
    openapi_extra=_FORM_SCHEMA,
    responses={
        400: {"model": ErrorBody, "description": "invalid_request, unsupported_grant_type or invalid_scope"},
        401: {"model": ErrorBody, "description": "invalid_client (071-401)"},
        429: {"model": ErrorBody, "description": "Too many token requests (071-429)"},
        503: {"model": ErrorBody, "description": "A store is unavailable (071-503)"},
    },
)
async def issue_token(request: Request) -> Response:
    """Issue an access token for a client's credentials (HTTP Basic, or form fields)."""
    rt = runtime(request)
    headers: dict[str, str] = {}
    try:
        fields, client_id, secret = await _read_token_request(request)
        headers = await _count_token_request(request, client_id)
        grant_type = fields.get("grant_type")
        if not grant_type:
            raise TokenError("invalid_request", "grant_type is required")
        if grant_type != "client_credentials":
            raise TokenError("unsupported_grant_type", "Only grant_type=client_credentials is supported")
        client = await auth_service.verify_client(await _find_client(request, client_id), secret=secret)
        if client is None:
            raise TokenError("invalid_client", "Client authentication failed", 401, "071-401")
        granted = _granted_scopes(fields.get("scope", ""), client.scopes)
    except TokenError as exc:
        return error_response(exc, headers)
    token = security.issue_token(
        rt.settings, client_id=client.client_id, provider_slug=client.provider_slug, scopes=granted
    )
    body = TokenRead(
        access_token=token,
        token_type="bearer",  # noqa: S106
        expires_in=rt.settings.token_ttl_seconds,
        scope=" ".join(granted),
    )
    return Response(
        body.model_dump_json(),
        media_type="application/json",
        headers={**headers, "Cache-Control": "no-store", "Pragma": "no-cache"},
    )


async def _read_token_request(request: Request) -> tuple[dict[str, str], str, str]:
    """Return the form fields and the presented client id and secret, or raise a ``TokenError``."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise TokenError("invalid_request", "Send the request as application/x-www-form-urlencoded")
    form = await request.form()
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    if len(fields) != len(form.multi_items()):
        raise TokenError("invalid_request", "Parameters must not repeat")
    basic = _basic_credentials(request)
    if basic is not None and ("client_id" in fields or "client_secret" in fields):
        raise TokenError("invalid_request", "Use one client authentication method, not two")
    client_id, secret = basic or (fields.get("client_id", ""), fields.get("client_secret", ""))
    if not client_id or not secret:
        raise TokenError("invalid_client", "Client credentials are required", 401, "071-401")
    return fields, client_id, secret


def _granted_scopes(requested: str, allowed: frozenset[str] | set[str]) -> list[str]:
    """Return the scopes to grant: all the client's, or the requested ones if it holds them all."""
    asked = requested.split()
    granted = sorted(allowed) if not asked else list(dict.fromkeys(asked))
    if any(s not in allowed for s in granted):
        raise TokenError("invalid_scope", "The client may not request that scope")
    return granted


async def _find_client(request: Request, client_id: str) -> auth_repository.ClientRecord | None:
    """Look a presented client id up in a transaction of its own; ids of an impossible form are not."""
    if not auth_service.plausible_client_id(client_id):
        return None
    async with runtime(request).database.transaction() as conn:
        return await auth_service.find_client(conn, client_id=client_id)


async def _count_token_request(request: Request, client_id: str) -> dict[str, str]:
    """Count a token request against its client id, or its source address for unknown ids."""
    rt = runtime(request)
    known = await _find_client(request, client_id) is not None
    key = f"token:{client_id}" if known else f"token-ip:{request.client.host if request.client else '-'}"
    limit, window = rt.token_rate
    decision = await rt.limiter.hit(key, limit=limit, window=window)
    if not decision.allowed:
        RATE_LIMITED.labels("token").inc()
        raise RateLimited(decision.reset_after, decision.headers())
    return decision.headers()
