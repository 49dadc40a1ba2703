"""Page parameters and the page envelope shared by every list (HTTP parsing lives in ``http.pagination``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from pydantic.fields import FieldInfo

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

    @classmethod
    def model_parametrized_name(cls, params: tuple[Any, ...]) -> str:
        """Name ``Page[X]`` ``PageX`` (an annotated union by its ``title``), as the API docs show it."""
        return "Page" + "".join(_type_name(p) for p in params)


def _type_name(tp: Any) -> str:
    for meta in getattr(tp, "__metadata__", ()):
        if isinstance(meta, FieldInfo) and meta.title:
            return meta.title
    return str(getattr(tp, "__name__", tp))


@dataclass(frozen=True)
class PageParams:
    """The requested page: ``page`` is 0-based, ``size`` 1 to 200."""

    page: int
    size: int

    @property
    def offset(self) -> int:
        """Rows to skip."""
        return self.page * self.size


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
