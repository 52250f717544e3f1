"""Search request and answer shapes."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from oja.core.pagination import Page


class SearchSort(enum.StrEnum):
    relevance = "relevance"
    price_asc = "price_asc"
    price_desc = "price_desc"
    newest = "newest"
    rating = "rating"
    best_selling = "best_selling"


class SearchFilters(BaseModel):
    q: str | None = None
    category: str | None = None
    vendor: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    rating_gte: float | None = None
    in_stock: bool | None = None
    attributes: dict[str, list[str]] = Field(default_factory=dict)
    sort: SearchSort = SearchSort.relevance


class StoreRef(BaseModel):
    id: uuid.UUID
    name: str
    slug: str


class SearchHit(BaseModel):
    id: uuid.UUID
    title: str
    price: int = Field(description="Lowest effective price over the variants, minor units.")
    currency: str
    category_id: uuid.UUID | None
    store: StoreRef
    rating: float | None
    created_at: datetime


class CategoryCount(BaseModel):
    id: uuid.UUID
    name: str
    slug: str
    count: int


class StoreCount(StoreRef):
    count: int


class PriceBucket(BaseModel):
    min: int
    max: int | None = Field(description="Exclusive; null: open.")
    count: int


class ValueCount(BaseModel):
    value: str
    count: int


class RatingBucket(BaseModel):
    rating: int = Field(description="Whole stars: average ratings in [rating, rating + 1).")
    count: int


class Facets(BaseModel):
    categories: list[CategoryCount]
    stores: list[StoreCount]
    price: list[PriceBucket]
    attributes: dict[str, list[ValueCount]]
    rating: list[RatingBucket]


class SearchPage(Page[SearchHit]):
    facets: Facets
    facets_exact: bool = Field(
        default=True,
        description="False when more rows matched than the facets count "
        "(`OJA_SEARCH_FACET_SAMPLE`): the facets then count the first rows found, not all of "
        "them. `total`, the order and the page are always exact.",
    )
    engine: str


class Suggestion(BaseModel):
    kind: str = Field(description="`product` or `category`.")
    id: uuid.UUID
    text: str
    slug: str | None = None
