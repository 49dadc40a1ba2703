"""The routes an application serves, flattened: FastAPI keeps included routers nested in recent versions."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import routing
from starlette.routing import BaseRoute


def served_routes(routes: Sequence[BaseRoute]) -> Iterator[tuple[BaseRoute, Any]]:
    """Yield ``(route as declared, route as served)``; the latter has the full ``path``, ``methods``,
    ``dependant`` and ``matches(scope)`` of the route once its router is included."""
    iter_route_contexts = getattr(routing, "iter_route_contexts", None)
    if iter_route_contexts is None:  # FastAPI before nested included routers: routes are flat
        for route in routes:
            yield route, route
        return
    for context in iter_route_contexts(routes):
        yield context.original_route, context
