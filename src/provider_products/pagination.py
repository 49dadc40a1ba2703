"""Page parameters, the page envelope and the RFC 8288 ``Link`` header shared by every list."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar
from urllib.parse import urlencode

from fastapi import Query, Request
from pydantic import BaseModel

T = TypeVar("T")

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 15


class PageMeta(BaseModel):
    """Where a page sits in the whole list."""

    size: int
    number: int
    total_elements: int
    total_pages: int


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    content: list[T]
    page: PageMeta


@dataclass(frozen=True)
class PageParams:
    """The requested page: ``page`` is 0-based, ``size`` 1 to 200."""

    page: int
    size: int

    @property
    def offset(self) -> int:
        """Rows to skip."""
        return self.page * self.size


def page_params(
    page: Annotated[int, Query(ge=0, le=10_000_000, description="0-based page number")] = 0,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="items per page, 1 to 200")] = (
        DEFAULT_PAGE_SIZE
    ),
) -> PageParams:
    """Read ``page`` and ``size`` from the query string."""
    return PageParams(page=page, size=size)


def make_page(items: list[T], total: int, params: PageParams) -> Page[T]:
    """Wrap the items of one page with its metadata."""
    return Page[T](
        content=items,
        page=PageMeta(
            size=params.size,
            number=params.page,
            total_elements=total,
            total_pages=math.ceil(total / params.size) if total else 0,
        ),
    )


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
