"""Reading plain ASGI scopes, for the edge pieces that run before Starlette builds a request."""

from __future__ import annotations

from starlette.types import Scope


def header(scope: Scope, name: bytes) -> str | None:
    """Return a request header's value from an ASGI scope (``name`` in lower case), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None
