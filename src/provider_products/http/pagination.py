"""The HTTP side of pagination: the ``page``/``size`` query parameters and the RFC 8288 ``Link`` header."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Query, Request

from provider_products.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageMeta, PageParams


async def page_params(
    page: Annotated[int, Query(ge=0, le=10_000_000, description="0-based page number")] = 0,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="items per page, 1 to 200")] = (
        DEFAULT_PAGE_SIZE
    ),
) -> PageParams:
    """Read ``page`` and ``size`` from the query string.

    ``async`` although it awaits nothing: FastAPI runs a plain ``def`` dependency in a worker
    thread, a thread hop per list and search request.
    """
    return PageParams(page=page, size=size)


def link_header(request: Request, meta: PageMeta) -> str | None:
    """Build the ``Link`` header with ``first``, ``prev``, ``next`` and ``last`` where they exist."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]

    def url(number: int) -> str:
        return f"<{request.url.path}?{urlencode([*query, ('page', str(number))])}>"

    last = max(meta.total_pages - 1, 0)
    links = [f'{url(0)}; rel="first"']
    if 0 < meta.number <= last + 1:
        links.append(f'{url(min(meta.number - 1, last))}; rel="prev"')
    if meta.number < last:
        links.append(f'{url(meta.number + 1)}; rel="next"')
    links.append(f'{url(last)}; rel="last"')
    return ", ".join(links)
