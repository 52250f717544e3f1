"""The page parameters of every paginated list: ``page`` and ``per_page``, with ``limit`` as an alias.

Some clients send ``limit`` for the page size; it is read as
``per_page`` and never shown in OpenAPI, which documents Oja's own name only. When both are sent,
``per_page`` wins (the same rule as every body alias: Oja's name first). Either one is validated
with the same bounds, so ``limit=0`` is the same 422 as ``per_page=0``.
"""

# No `from __future__ import annotations` here: FastAPI must evaluate the parameter annotations of
# the closure below, which refer to the factory's arguments (local names a string cannot reach).

import math
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query, Request
from pydantic import BaseModel, Field

MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PageParams:
    """The page a client asked for."""

    page: int
    """1-based."""
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def pagination(
    *, default_per_page: int = 20, page_description: str | None = None
) -> Callable[..., Coroutine[Any, Any, PageParams]]:
    """A dependency reading one list's page parameters (``Annotated[PageParams, Depends(...)]``).

    ``async`` though it awaits nothing: FastAPI runs a plain ``def`` dependency in the thread pool,
    a hop per request (~4 % of a listing's CPU in a profile)."""

    async def page_params(
        request: Request,
        page: Annotated[int, Query(ge=1, le=MAX_PAGE, description=page_description)] = 1,
        per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = default_per_page,
        limit: Annotated[int | None, Query(ge=1, le=MAX_PER_PAGE, include_in_schema=False)] = None,
    ) -> PageParams:
        if limit is not None and "per_page" not in request.query_params:
            per_page = limit
        return PageParams(page=page, per_page=per_page)

    return page_params


class Page(BaseModel, Generic[T]):
    """Every paginated answer: ``{"items": [...], "total": n, "page": p, "per_page": k, "pages": m}``."""

    items: list[T]
    total: int = Field(ge=0, description="Items across all pages.")
    page: int = Field(ge=1, description="This page, 1-based.")
    per_page: int = Field(ge=1, description="Page size asked for.")
    pages: int = Field(ge=0, description="Number of pages.")

    @classmethod
    def model_parametrized_name(cls, params: tuple[Any, ...]) -> str:
        """``Page[FileSummary]`` is titled ``FileSummaryPage`` (and so named in OpenAPI)."""
        return f"{getattr(params[0], '__name__', 'Item')}Page"

    @classmethod
    def of(cls, items: Sequence[T], *, total: int, params: PageParams) -> "Page[T]":
        """The page ``params`` asked for; ``pages`` is 0 when there are no items."""
        return cls(
            items=list(items),
            total=total,
            page=params.page,
            per_page=params.per_page,
            pages=math.ceil(total / params.per_page),
        )
