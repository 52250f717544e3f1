"""Public product search: ``GET /search`` and ``GET /search/suggest``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from oja.core.dependencies import RuntimeDep, SessionDep
from oja.core.errors import InvalidRequest, errors
from oja.core.pagination import PageParams, pagination
from oja.core.routing import LeanRoute
from oja.marketplace.catalog.schemas import CategoryFilter, PriceBound, StoreFilter
from oja.marketplace.errors import CategoryNotFound, VendorNotFound
from oja.marketplace.recommendations.dependencies import Visitor
from oja.marketplace.search import service
from oja.marketplace.search.config import SearchSettings
from oja.marketplace.search.schemas import SearchFilters, SearchPage, SearchSort, Suggestion

router = APIRouter(prefix="/search", tags=["marketplace: search"])
ATTR = "attr."
MAX_ATTRIBUTE_FILTERS = 10


def _attributes(request: Request) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        if key.startswith(ATTR) and len(key) > len(ATTR):
            found.setdefault(key[len(ATTR) :][:100], []).append(value[:200])
    if len(found) > MAX_ATTRIBUTE_FILTERS:
        raise InvalidRequest(f"At most {MAX_ATTRIBUTE_FILTERS} attribute filters.")
    return {name: sorted(set(values)) for name, values in found.items()}


async def search(
    *,
    request: Request,
    db: SessionDep,
    runtime: RuntimeDep,
    paging: Annotated[PageParams, Depends(pagination())],
    q: Annotated[str | None, Query(max_length=500)] = None,
    category: CategoryFilter = None,
    vendor: StoreFilter = None,
    min_price: PriceBound = None,
    max_price: PriceBound = None,
    rating_gte: Annotated[float | None, Query(ge=0, le=5)] = None,
    in_stock: Annotated[bool | None, Query()] = None,
    sort: Annotated[SearchSort, Query()] = SearchSort.relevance,
    visitor: Visitor,
) -> Response:
    filters = SearchFilters(
        q=q,
        category=category,
        vendor=vendor,
        min_price=min_price,
        max_price=max_price,
        rating_gte=rating_gte,
        in_stock=in_stock,
        attributes=_attributes(request),
        sort=sort,
    )
    settings = runtime.settings.section(SearchSettings)
    found = await service.answer(db, runtime.cache, settings, filters, paging, subject=visitor)
    # The body is the page as `response_model` writes it (cached answers are sent as stored).
    return Response(found.body, media_type="application/json")


router.add_api_route(
    "",
    search,
    methods=["GET"],
    response_model=SearchPage,
    summary="Search active products of approved stores, with facets (public)",
    description=(
        "`q`: every word must start a word of the product (title, description, category, store, "
        "attribute values); a word nothing starts is matched by similar words (typos). Filters "
        "combine with AND; `attr.<name>=<value>` (repeat a name for any of several values). "
        "`rating_gte` and `sort=rating` use the average of the product's published reviews as "
        "its rating summary shows it (unrated products sort last and never pass `rating_gte`); "
        "`best_selling` orders by units sold in paid store orders, less canceled orders and "
        "received returns, then newest. `relevance` without `q` is `newest`. The first page of "
        "a `q` search is recorded for a signed-in caller or an `X-Client-Id` browser (its "
        "recommendations lean to the category it found most of)."
    ),
    responses=errors(CategoryNotFound, VendorNotFound, InvalidRequest),
    route_class_override=LeanRoute,
)


@router.get(
    "/suggest",
    response_model=list[Suggestion],
    summary="Completions of category names and product titles for a search box (public)",
)
async def suggest(
    *,
    db: SessionDep,
    q: Annotated[str, Query(min_length=1, max_length=100)],
    limit: Annotated[int, Query(ge=1, le=20)] = 10,
) -> list[Suggestion]:
    return await service.suggest(db, q, limit)
