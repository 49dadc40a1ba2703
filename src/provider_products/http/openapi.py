"""The OpenAPI document: what FastAPI derives from the routes, plus what the edge enforces and sends.

The edge pieces (request context, authentication, rate limit, idempotency) answer for every route
without the routes knowing; ``describe_edge`` writes what they do into the document, once, so that
every operation (today's and tomorrow's) declares the headers its answers carry, the
``Idempotency-Key`` it accepts, and whether it needs a token at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

PUBLIC_PATHS = ("/v1/oauth/token", "/healthz", "/readyz")
LIMITED_PATHS = ("/arc/", "/medical-catalogs/", "/ehr/", "/dispensing/", "/v1/oauth/token")

SCOPES = {
    "arc:read": "Read the catalogue, the provider's products, pre-authorizations and claims",
    "arc:write": "Register and remove provider products; file pre-authorizations and claims",
    "ehr:read": "Read the provider's electronic prescriptions",
    "ehr:write": "File electronic prescriptions",
    "dispensing:read": "Read dispensing records",
    "dispensing:write": "File dispensing records",
}


def _header(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "schema": schema or {"type": "string"}}


_SECONDS = {"type": "integer", "minimum": 0}
HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-Id": _header("The request's id: the caller's sane X-Request-Id, or a fresh one"),
    "RateLimit": _header(
        'The caller\'s quota now (IETF httpapi draft), e.g. `"default";r=49;t=0`',
    ),
    "RateLimit-Policy": _header('The caller\'s quota policy, e.g. `"default";q=50;w=60`'),
    "X-RateLimit-Limit": _header("Requests allowed per window", {"type": "integer", "minimum": 0}),
    "X-RateLimit-Remaining": _header("Requests left in the window", {"type": "integer", "minimum": 0}),
    "X-RateLimit-Reset": _header("Seconds until a slot frees", _SECONDS),
    "Retry-After": _header("Whole seconds to wait before retrying", _SECONDS),
    "Link": _header("RFC 8288 links to the `first`, `prev`, `next` and `last` pages"),
    "Location": _header("The registration's URL"),
    "Idempotent-Replayed": _header(
        "`true` when the answer is the replay of the first request with this Idempotency-Key",
        {"type": "string", "enum": ["true"]},
    ),
    "WWW-Authenticate": _header("The authentication scheme to use (RFC 6750 / RFC 7617)"),
    "Cache-Control": _header("`no-store`: tokens are never cached"),
}
RATE_LIMIT_HEADERS = (
    "RateLimit",
    "RateLimit-Policy",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
)

TAGS = [
    {"name": "OAuth2", "description": "Access tokens (client-credentials grant)"},
    {
        "name": "Catalogues",
        "description": "The global catalogue of medications, lab tests, imaging and procedures",
    },
    {"name": "Provider products", "description": "The products the calling provider has registered"},
    {"name": "Downstream records", "description": "Pre-authorizations, prescriptions and claims citing them"},
    {"name": "Health", "description": "Liveness and readiness probes"},
]

IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Retry safely: the same key and request within 24 hours replays the first answer "
    "(`Idempotent-Replayed: true`); a key reused with another request, or whose first request is "
    "still running, is refused. Keys are per OAuth client.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7E]+$"},
}


def _ref(name: str, *, required: bool = False) -> dict[str, Any]:
    # Inline, not a $ref: OpenAPI 3.1 allows no `required` beside a $ref.
    return {**HEADERS[name], "required": required}


def _counted(path: str, code: int) -> bool:
    """Say whether an answer says what the rate limit decided: all but those given before counting."""
    if not path.startswith(LIMITED_PATHS) or code in (413, 500, 503):
        return False
    return code != 401 or path == "/v1/oauth/token"


def _response_headers(path: str, method: str, status: str, operation: dict[str, Any]) -> dict[str, Any]:
    """Return the headers an answer with ``status`` to this operation carries (required: always)."""
    code = int(status) if status.isdigit() else 0
    headers: dict[str, Any] = {"X-Request-Id": _ref("X-Request-Id", required=True)}
    if _counted(path, code):
        # Counted requests say so on every answer; 2xx answers have always been counted.
        headers.update({name: _ref(name, required=200 <= code < 300) for name in RATE_LIMIT_HEADERS})
    if code in (409, 429, 503):
        headers["Retry-After"] = _ref("Retry-After", required=code == 429)
    if code in (401, 403):
        headers["WWW-Authenticate"] = _ref("WWW-Authenticate", required=code == 401)
    headers.update(_operation_headers(path, method, code, operation))
    return headers


def _operation_headers(path: str, method: str, code: int, operation: dict[str, Any]) -> dict[str, Any]:
    """Return the headers particular to some operations: Link, Location, Idempotent-Replayed."""
    headers: dict[str, Any] = {}
    if code == 200 and "page" in {p.get("name") for p in operation.get("parameters", [])}:
        headers["Link"] = _ref("Link", required=True)
    if code == 201 and operation.get("operationId") == "registerProviderProduct":
        headers["Location"] = _ref("Location", required=True)
    if path == "/v1/oauth/token":
        headers["Cache-Control"] = _ref("Cache-Control", required=code != 429)
    elif method == "post" and code < 500:
        headers["Idempotent-Replayed"] = _ref("Idempotent-Replayed")
    return headers


_IDEMPOTENCY_CONFLICT = (
    "an Idempotency-Key whose first request is still running, or reused with another request (071-106)"
)


def _declare_idempotency_conflict(operation: dict[str, Any]) -> None:
    """Declare the 409 a keyed POST may answer, beside whatever 409 the route itself declares."""
    responses = operation.setdefault("responses", {})
    conflict = responses.get("409")
    if conflict is None:
        responses["409"] = {
            "description": f"Conflict: {_IDEMPOTENCY_CONFLICT}",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        }
    elif "071-106" not in conflict.get("description", ""):
        conflict["description"] += f"; or {_IDEMPOTENCY_CONFLICT}"


def _operations(document: dict[str, Any]) -> Iterable[tuple[str, str, dict[str, Any]]]:
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, operation


def _rename_generic_schemas(document: dict[str, Any]) -> None:
    """Name ``Page[X]`` schemas by their title (``PageMedicationRead``), not pydantic's mangled ref."""
    schemas = document.get("components", {}).get("schemas", {})
    renames = {
        name: schema["title"]
        for name, schema in schemas.items()
        if name.startswith("Page_") and schema.get("title") and schema["title"] not in schemas
    }
    if not renames:
        return
    document["components"]["schemas"] = {renames.get(k, k): v for k, v in schemas.items()}
    prefix = "#/components/schemas/"

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(prefix) and ref[len(prefix) :] in renames:
                node["$ref"] = prefix + renames[ref[len(prefix) :]]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)


def describe_edge(document: dict[str, Any], *, servers: list[dict[str, str]]) -> dict[str, Any]:
    """Add to FastAPI's ``document`` the servers, license, scopes, public operations and edge headers."""
    document["servers"] = servers
    document["info"]["license"] = {"name": "Apache-2.0", "identifier": "Apache-2.0"}
    document["info"]["contact"] = {"name": "provider-products maintainers"}
    document["tags"] = TAGS
    _rename_generic_schemas(document)
    components = document.setdefault("components", {})
    for scheme in components.get("securitySchemes", {}).values():
        for flow in scheme.get("flows", {}).values():
            flow["scopes"] = {s: SCOPES.get(s, s) for s in flow.get("scopes", {})}
    for path, method, operation in _operations(document):
        if path in PUBLIC_PATHS:
            operation["security"] = []
        if method == "post" and path != "/v1/oauth/token":
            params = operation.setdefault("parameters", [])
            if not any(p.get("name") == "Idempotency-Key" for p in params):
                params.append(IDEMPOTENCY_KEY)
            _declare_idempotency_conflict(operation)
        for status, response in operation.get("responses", {}).items():
            response["headers"] = {
                **_response_headers(path, method, status, operation),
                **response.get("headers", {}),
            }
    return document


def install(app: Any, build: Callable[[], dict[str, Any]], *, servers: list[dict[str, str]]) -> None:
    """Serve ``build()``'s document with the edge described, built once."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe_edge(build(), servers=servers)
        return app.openapi_schema  # type: ignore[no-any-return]

    app.openapi = openapi
