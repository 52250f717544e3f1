"""Search rules: what is indexed, the filtered search with its facets, suggestions, the cache.

Indexed: active products with at least one variant, whatever their store's status: the store's
status is checked at query time (a suspended store's products vanish at once and come back on
reinstatement, with no re-indexing), and ``in_stock`` reads the variants' live stock. The indexed
price is the lowest effective price (:func:`oja.marketplace.pricing.prices.effective_price`) over
the variants when the product was last indexed: a discount created now is indexed at once (its
product in the writer's unit of work, a store or category discount by ``reindex_store``); one that
starts or ends later shows after the next rebuild.

Ranking data: ``rating`` is the product's review-summary average as shown (two decimals; None
without a published review), set by the review writer in the unit of work that moves the summary
(:func:`index_rating`); ``sales`` is the units of its store orders that were confirmed (paid, or
confirmed by the store) and not canceled, less units received back by returns, moved by atomic
increments from the order events (:func:`index_sales`). A catalogue write upserts the row and keeps
both (a payment waiting on its lock then lands on the live row); a new row and the rebuild read
them from the review summary and the orders. The rebuild replaces every row, so a payment that
commits while it runs may be missing until the next rebuild.

Answers are cached (:attr:`SearchSettings.search_cache_ttl`) under a key that includes the index
version; every index change bumps the version after its commit, so a cached answer never outlives
the data it was computed from by more than the commit-to-bump gap. Sales are the exception: they
move on every payment, and only ``sort=best_selling`` reads them (no hit, facet or filter shows
them), so they bump a version of their own that only the keys of that sort include — a busy day's
payments no longer empty the cache of every other answer.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.cache import Cache, CacheStats
from oja.core.clock import utcnow
from oja.core.db import after_commit
from oja.core.pagination import PageParams
from oja.core.runtime import current_runtime
from oja.marketplace.catalog.models import Product, ProductStatus, ProductVariant
from oja.marketplace.errors import CategoryNotFound, VendorNotFound
from oja.marketplace.orders import repository as orders_repository
from oja.marketplace.pricing import repository as pricing_repository
from oja.marketplace.pricing.prices import PricedItem, effective_price
from oja.marketplace.recommendations import recorder
from oja.marketplace.search import repository
from oja.marketplace.search.config import SearchSettings
from oja.marketplace.search.engines import SearchEngine, engine_for, parse, words_of
from oja.marketplace.search.schemas import (
    CategoryCount,
    Facets,
    PriceBucket,
    RatingBucket,
    SearchFilters,
    SearchHit,
    SearchPage,
    SearchSort,
    StoreCount,
    StoreRef,
    Suggestion,
    ValueCount,
)
from oja.marketplace.slugs import parse_id

VERSION_KEY = "marketplace:search:version"
SALES_VERSION_KEY = "marketplace:search:sales-version"
"""Bumped by sales moves only; part of the key of ``sort=best_selling`` answers alone."""
BATCH = 1000

stats = CacheStats()
"""Hits and misses of the search answer cache in this process."""


# --- indexing -----------------------------------------------------------------------------------


def _attribute_pairs(attributes: dict[str, Any]) -> set[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for name, value in attributes.items():
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, str | int | float | bool) and not isinstance(v, bool):
                pairs.add((str(name)[:100], str(v)[:200]))
            elif isinstance(v, bool):
                pairs.add((str(name)[:100], "true" if v else "false"))
    return pairs


@dataclass
class Built:
    docs: list[dict[str, Any]]
    attrs: list[dict[str, Any]]
    terms: set[str]


async def _build(db: AsyncSession, products: Sequence[Product]) -> Built:
    """The index rows of ``products`` that are searchable (active, with a variant); the store's
    status is not looked at here but at query time, so no store decision has to re-index."""
    built = Built([], [], set())
    live = [p for p in products if p.status == ProductStatus.active]
    if not live:
        return built
    vendor_ids = {p.vendor_id for p in live}
    vendors = await repository.vendors(db, vendor_ids)
    variants: dict[uuid.UUID, list[ProductVariant]] = defaultdict(list)
    for variant in await repository.variants_of(db, vendor_ids, [p.id for p in live]):
        variants[variant.product_id].append(variant)
    categories = await repository.categories(db, {p.category_id for p in live if p.category_id})
    now = utcnow()
    discounts = await pricing_repository.live_discounts(db, list(vendor_ids), now)
    live_ids = [p.id for p in live]
    ratings = {r.subject_id: r.average for r in await repository.rating_rows(db, live_ids)}
    sales = await repository.units_sold(db, vendor_ids, live_ids)
    for product in live:
        vendor = vendors.get(product.vendor_id)
        if vendor is None or not variants[product.id]:
            continue
        category = categories.get(product.category_id) if product.category_id else None
        path_ids = (
            frozenset(uuid.UUID(p) for p in category.path.strip("/").split("/") if p)
            if category is not None
            else frozenset()
        )
        best: tuple[int, str] | None = None
        for variant in variants[product.id]:
            item = PricedItem(
                vendor_id=product.vendor_id,
                product_id=product.id,
                category_ids=path_ids,
                price=variant.price,
                currency=variant.currency,
            )
            quote = effective_price(item, discounts, now)
            if best is None or quote.effective_price < best[0]:
                best = (quote.effective_price, variant.currency)
        assert best is not None
        pairs = _attribute_pairs(product.attributes or {})
        text = " ".join(
            [
                product.title,
                product.description or "",
                category.name if category is not None else "",
                vendor.name,
                *(v for _, v in sorted(pairs)),
            ]
        )
        words = words_of(text)
        built.terms.update(words)
        built.docs.append(
            {
                "product_id": product.id,
                "vendor_id": product.vendor_id,
                "category_id": product.category_id,
                "title": product.title,
                "words": " ".join(words),
                "price": best[0],
                "currency": best[1],
                "rating": ratings.get(product.id),
                "sales": sales.get(product.id, 0),
                "created_at": product.created_at,
            }
        )
        built.attrs.extend(
            {"product_id": product.id, "name": n, "value": v} for n, v in sorted(pairs)
        )
    return built


def invalidate_after_commit(db: AsyncSession, key: str = VERSION_KEY) -> None:
    """Once this unit of work commits, no cached answer computed before it is served again: for
    every index change, and for what search reads live (a store's status, the category tree).
    ``key`` :data:`SALES_VERSION_KEY`: only the answers that read sales (``best_selling``)."""
    cache = current_runtime().cache

    async def bump() -> None:
        await cache.set(key, uuid.uuid4().hex.encode(), 86_400.0)

    after_commit(db, bump)


async def _replace(
    db: AsyncSession, products: Sequence[Product], ids: Sequence[uuid.UUID] | None = None
) -> int:
    """Upsert the rows of ``products`` that are searchable and remove the rest of ``ids``
    (default: the products'). An existing row keeps its rating and sales, which only their own
    writers move (:func:`index_rating`, :func:`index_sales`); a new row reads them from the
    review summary and the orders."""
    built = await _build(db, products)
    indexed = {d["product_id"] for d in built.docs}
    await repository.delete_other_documents(db, ids or [p.id for p in products], indexed)
    await repository.add_terms(db, built.terms)
    await repository.upsert_documents(db, built.docs, built.attrs)
    return len(built.docs)


async def index_products(
    db: AsyncSession, vendor_id: uuid.UUID, product_ids: Sequence[uuid.UUID]
) -> int:
    """Bring the index rows of these products of one store up to date (inserted, replaced or
    removed) in the caller's unit of work: the catalogue calls it on every product or variant
    write, so the index is consistent with the catalogue at commit (a rolled-back write indexes
    nothing, a committed one leaves no job to lose). A constant number of statements, scoped to
    the store, whatever the number of products."""
    if not product_ids:
        return 0
    products = await repository.products(db, vendor_id, product_ids)
    # Ids the store does not own (or that were deleted) leave the index too.
    indexed = await _replace(db, products, product_ids)
    invalidate_after_commit(db)
    return indexed


async def index_rating(db: AsyncSession, product_id: uuid.UUID, average: float | None) -> None:
    """Set a product's indexed rating to its review summary's new average (``None``: no
    published review left), in the unit of work that moved the summary."""
    if await repository.set_rating(db, product_id, average):
        invalidate_after_commit(db)


async def index_sales(db: AsyncSession, units: dict[uuid.UUID, int], sign: int) -> None:
    """Add (``sign`` +1) or take off (-1) sold units in the unit of work that sold or took them
    back: a store order confirmed (paid), a confirmed one canceled, a return received."""
    if await repository.add_sales(db, units, sign):
        invalidate_after_commit(db, SALES_VERSION_KEY)


async def order_sold(
    db: AsyncSession, vendor_id: uuid.UUID, order_id: uuid.UUID, sign: int
) -> None:
    """A store order's units, from its lines if the confirming payment has them in hand (one
    read for the group), else summed by the database."""
    lines = orders_repository.lines_in_hand(db, vendor_id, order_id)
    if lines is None:
        units = await repository.order_units(db, vendor_id, order_id)
    else:
        units = defaultdict(int)
        for line in lines:
            if line.product_id is not None:
                units[line.product_id] += line.quantity
    await index_sales(db, dict(units), sign)


async def return_received(db: AsyncSession, vendor_id: uuid.UUID, return_id: uuid.UUID) -> None:
    await index_sales(db, await repository.returned_units(db, vendor_id, return_id), -1)


async def index_store(db: AsyncSession, vendor_id: uuid.UUID) -> int:
    """Re-index every product of one store (its name is in every product's words)."""
    count = 0
    after: uuid.UUID | None = None
    while batch := await repository.store_products_batch(db, vendor_id, after, BATCH):
        after = batch[-1].id
        count += await _replace(db, batch)
    invalidate_after_commit(db)
    return count


async def index_category(db: AsyncSession, category_id: uuid.UUID) -> int:
    """Re-index every product filed directly under a category (its name is in their words; the
    tree itself is read at query time, so a move needs nothing)."""
    count = 0
    for vendor_id in await repository.vendors_in_category(db, category_id):
        after: uuid.UUID | None = None
        while batch := await repository.store_products_batch(
            db, vendor_id, after, BATCH, category_id=category_id
        ):
            after = batch[-1].id
            count += await _replace(db, batch)
    invalidate_after_commit(db)
    return count


async def rebuild(db: AsyncSession) -> int:
    """Rebuild the whole index from the catalogue (one unit of work).

    Sales are read from the order rows, so a payment must either be committed before they are
    read or apply its increment to the rebuilt rows after: the rebuild first takes the lock
    every sales increment conflicts with (:func:`repository.lock_for_rebuild`). Without it a
    payment committing mid-rebuild is missed twice — too late for the rebuild's read, and its
    increment waits on a row the rebuild deletes, then updates nothing."""
    await repository.lock_for_rebuild(db)
    await repository.delete_documents(db, None)
    await repository.clear_terms(db)
    count = 0
    after: uuid.UUID | None = None
    while batch := await repository.products_batch(db, after, BATCH):
        after = batch[-1].id
        built = await _build(db, batch)
        await repository.add_terms(db, built.terms)
        await repository.insert_documents(db, built.docs, built.attrs)
        count += len(built.docs)
    await repository.analyze(db)
    invalidate_after_commit(db)
    return count


# --- search -------------------------------------------------------------------------------------


async def _categories(db: AsyncSession, id_or_slug: str) -> list[uuid.UUID]:
    found = await repository.categories_under(db, parse_id(id_or_slug), id_or_slug)
    if found is None:
        raise CategoryNotFound("No such category.")
    return found


async def _vendor(db: AsyncSession, id_or_slug: str) -> uuid.UUID:
    found = await repository.vendor_id(db, parse_id(id_or_slug), id_or_slug)
    if found is None:
        raise VendorNotFound("No such store.")
    return found


def _hit(row: Any) -> SearchHit:
    """A hit from a :data:`repository.HIT_COLUMNS` row."""
    return SearchHit(
        id=row.product_id,
        title=row.title,
        price=row.price,
        currency=row.currency,
        category_id=row.category_id,
        store=StoreRef(id=row.store_id, name=row.store_name, slug=row.store_slug),
        rating=row.rating,
        created_at=row.created_at,
    )


@dataclass
class Counted:
    total: int
    page: list[uuid.UUID]
    facets: Facets
    exact: bool


async def _page_and_facets(
    db: AsyncSession,
    base: tuple[Any, Any] | None,
    *,
    filters: SearchFilters,
    category_ids: list[uuid.UUID] | None,
    vendor: uuid.UUID | None,
    params: PageParams,
    settings: SearchSettings,
) -> Counted:
    """``base``: the filtered rows and their rank (:func:`repository.base`), or None for a search
    without words or attributes, whose statement is built once per filter shape."""
    edges = sorted(set(settings.search_price_buckets))
    total = sampled = 0
    on_page: list[tuple[int, uuid.UUID]] = []
    category_n: dict[uuid.UUID, int] = {}
    store_n: dict[uuid.UUID, int] = {}
    prices: dict[int, int] = {}
    ratings: dict[int, int] = {}
    pairs: list[tuple[str, str, int]] = []
    window: dict[str, Any] = {
        "offset": params.offset,
        "limit": params.per_page,
        "edges": edges,
        "sample": settings.search_facet_sample,
    }
    if base is None:
        rows = await repository.filtered_page_and_facets(
            db, filters, categories=category_ids, vendor=vendor, **window
        )
    else:
        rows = await repository.page_and_facets(db, base[0], filters.sort, base[1], **window)
    for kind, key, value, count in rows:
        if kind == "total":
            total = count
        elif kind == "sample":
            sampled = count
        elif kind == "page" and key is not None:
            on_page.append((count, uuid.UUID(key)))
        elif kind == "category" and key is not None:
            category_n[uuid.UUID(key)] = count
        elif kind == "store" and key is not None:
            store_n[uuid.UUID(key)] = count
        elif kind == "price" and key is not None:
            prices[int(key)] = count
        elif kind == "rating" and key is not None:
            ratings[int(key)] = count
        elif kind == "attribute" and key is not None and value is not None:
            pairs.append((key, value, count))
    lows = [0, *edges]
    price = [
        PriceBucket(min=lows[i], max=edges[i] if i < len(edges) else None, count=prices.get(i, 0))
        for i in range(len(edges) + 1)
    ]
    attributes: dict[str, list[ValueCount]] = {}
    for name, value, count in sorted(pairs, key=lambda p: (p[0], -p[2], p[1])):
        attributes.setdefault(name, []).append(ValueCount(value=value, count=count))
    # Most counted first; among equals, the database's order by name then id (a stable sort).
    categories = sorted(
        await repository.categories_named(db, category_n), key=lambda c: -category_n[c.id]
    )
    stores = sorted(await repository.vendors_named(db, store_n), key=lambda v: -store_n[v.id])
    facets = Facets(
        categories=[
            CategoryCount(id=c.id, name=c.name, slug=c.slug, count=category_n[c.id])
            for c in categories
        ],
        stores=[StoreCount(id=v.id, name=v.name, slug=v.slug, count=store_n[v.id]) for v in stores],
        price=price,
        attributes=attributes,
        rating=[RatingBucket(rating=s, count=ratings.get(s, 0)) for s in (5, 4, 3, 2, 1)],
    )
    return Counted(total, [pid for _, pid in sorted(on_page)], facets, sampled == total)


async def _search(
    db: AsyncSession,
    settings: SearchSettings,
    filters: SearchFilters,
    params: PageParams,
    engine: SearchEngine | None = None,
) -> SearchPage:
    engine = engine or engine_for(db.get_bind().dialect.name)
    categories = await _categories(db, filters.category) if filters.category else None
    vendor = await _vendor(db, filters.vendor) if filters.vendor else None
    query = None
    if filters.q and words_of(filters.q):
        query = await parse(db, engine, filters.q, settings.search_typo_similarity)
    base = None
    if query is not None or filters.attributes:
        base = repository.base(
            filters, categories=categories, vendor=vendor, engine=engine, query=query
        )
    counted = await _page_and_facets(
        db,
        base,
        filters=filters,
        category_ids=categories,
        vendor=vendor,
        params=params,
        settings=settings,
    )
    rows = await repository.documents(db, counted.page)
    return SearchPage(
        items=[_hit(row) for row in rows],
        total=counted.total,
        page=params.page,
        per_page=params.per_page,
        pages=math.ceil(counted.total / params.per_page),
        engine=engine.name,
        facets=counted.facets,
        facets_exact=counted.exact,
    )


async def _version(cache: Cache, key: str) -> str:
    raw = await cache.get(key)
    if raw is None:
        raw = uuid.uuid4().hex.encode()
        await cache.set(key, raw, 86_400.0)
    return raw.decode()


def _cache_key(version: str, filters: SearchFilters, params: PageParams) -> str:
    body = json.dumps(
        [filters.model_dump(mode="json"), params.page, params.per_page], sort_keys=True
    )
    return f"marketplace:search:answer:{version}:{hashlib.sha256(body.encode()).hexdigest()}"


@dataclass(frozen=True)
class Answer:
    """A search answer as its response body: the JSON FastAPI writes for the page (a cache hit
    serves the cached bytes as they are: no parse, no validation, no second serialisation) and
    the category it found most of (what recording the search reads)."""

    body: bytes
    top_category: uuid.UUID | None
    computed: SearchPage | None = None
    """The page, when this request computed it (a miss)."""

    @classmethod
    def of(cls, page: SearchPage) -> Answer:
        top = page.facets.categories[0].id if page.facets.categories else None
        return cls(page.model_dump_json(by_alias=True).encode(), top, page)

    def page(self) -> SearchPage:
        return self.computed or SearchPage.model_validate_json(self.body)

    def cached(self) -> bytes:
        """The cache's value: the top category's id (or nothing), a newline, the body (a JSON
        body has no raw newline)."""
        return (str(self.top_category or "") + "\n").encode() + self.body

    @classmethod
    def from_cache(cls, raw: bytes) -> Answer:
        top, _, body = raw.partition(b"\n")
        return cls(body, uuid.UUID(top.decode()) if top else None)


async def search(
    db: AsyncSession,
    cache: Cache,
    settings: SearchSettings,
    filters: SearchFilters,
    params: PageParams,
    *,
    engine: SearchEngine | None = None,
    subject: str | None = None,
) -> SearchPage:
    """One page with its facets. ``engine``: the dialect's by default (a benchmark passes another
    variant to compare). ``subject``: see :func:`answer`."""
    found = await answer(db, cache, settings, filters, params, engine=engine, subject=subject)
    return found.page()


async def answer(
    db: AsyncSession,
    cache: Cache,
    settings: SearchSettings,
    filters: SearchFilters,
    params: PageParams,
    *,
    engine: SearchEngine | None = None,
    subject: str | None = None,
) -> Answer:
    """:func:`search` as the response body (what ``GET /search`` sends). ``subject``: the
    caller's behaviour subject; the first page of a text search is recorded for them with the
    category the answer found most of (cached or not)."""
    found = await _cached_search(db, cache, settings, filters, params, engine=engine)
    if subject is not None and filters.q and params.page == 1:
        recorder.record_search(db, subject, filters.q, found.top_category)
    return found


async def _cached_search(
    db: AsyncSession,
    cache: Cache,
    settings: SearchSettings,
    filters: SearchFilters,
    params: PageParams,
    *,
    engine: SearchEngine | None,
) -> Answer:
    if settings.search_cache_ttl <= 0:
        return Answer.of(await _search(db, settings, filters, params, engine))
    version = await _version(cache, VERSION_KEY)
    if filters.sort == SearchSort.best_selling:
        version += ":" + await _version(cache, SALES_VERSION_KEY)
    key = _cache_key(version, filters, params)
    cached = await cache.get(key)
    stats.record(cached is not None)
    if cached is not None:
        return Answer.from_cache(cached)
    found = Answer.of(await _search(db, settings, filters, params, engine))
    await cache.set(key, found.cached(), settings.search_cache_ttl)
    return found


async def suggest(db: AsyncSession, q: str, limit: int) -> list[Suggestion]:
    words = list(dict.fromkeys(words_of(q)))[:5]
    if not words:
        return []
    categories = await repository.suggest_categories(db, words, limit)
    titles = await repository.suggest_titles(db, words, limit)
    out = [Suggestion(kind="category", id=c.id, text=c.name, slug=c.slug) for c in categories]
    out += [Suggestion(kind="product", id=pid, text=title) for pid, title in titles]
    return out[:limit]
