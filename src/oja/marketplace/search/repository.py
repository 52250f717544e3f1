"""Search SQL: the index rows, and the filtered query with its page, total and facets."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal_column,
    null,
    or_,
    select,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from oja.marketplace.catalog.models import Category, Product, ProductVariant
from oja.marketplace.orders.models import (
    OrderLine,
    OrderStatus,
    ReturnLine,
    ReturnRequest,
    ReturnStatus,
    StoreOrder,
)
from oja.marketplace.reviews.models import ReviewSummary
from oja.marketplace.search.engines import Query, SearchEngine
from oja.marketplace.search.models import SearchAttribute, SearchDocument, SearchTerm
from oja.marketplace.search.schemas import SearchFilters, SearchSort
from oja.marketplace.vendors.models import Vendor, VendorStatus

D = SearchDocument


# --- the index ----------------------------------------------------------------------------------


async def products_batch(db: AsyncSession, after: uuid.UUID | None, size: int) -> Sequence[Product]:
    """Every store's products, by id (the full rebuild: the one cross-store read)."""
    query = select(Product).order_by(Product.id).limit(size)
    if after is not None:
        query = query.where(Product.id > after)
    return (await db.scalars(query)).all()


async def store_products_batch(
    db: AsyncSession,
    vendor_id: uuid.UUID,
    after: uuid.UUID | None,
    size: int,
    *,
    category_id: uuid.UUID | None = None,
) -> Sequence[Product]:
    query = select(Product).where(Product.vendor_id == vendor_id)
    if category_id is not None:
        query = query.where(Product.category_id == category_id)
    if after is not None:
        query = query.where(Product.id > after)
    return (await db.scalars(query.order_by(Product.id).limit(size))).all()


async def vendors_in_category(db: AsyncSession, category_id: uuid.UUID) -> list[uuid.UUID]:
    """The stores with products filed directly under a category (read from the index, which
    holds one row per searchable product, so no store's catalogue is read unscoped)."""
    query = select(D.vendor_id).where(D.category_id == category_id).distinct()
    return list(await db.scalars(query.order_by(D.vendor_id)))


async def products(
    db: AsyncSession, vendor_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> Sequence[Product]:
    query = select(Product).where(Product.vendor_id == vendor_id, Product.id.in_(ids))
    return (await db.scalars(query)).all()


async def variants_of(
    db: AsyncSession, vendor_ids: Collection[uuid.UUID], ids: Sequence[uuid.UUID]
) -> Sequence[ProductVariant]:
    query = select(ProductVariant).where(
        ProductVariant.vendor_id.in_(vendor_ids), ProductVariant.product_id.in_(ids)
    )
    return (await db.scalars(query)).all()


async def vendors(db: AsyncSession, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Vendor]:
    rows = await db.scalars(select(Vendor).where(Vendor.id.in_(set(ids))))
    return {v.id: v for v in rows}


async def categories(db: AsyncSession, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Category]:
    if not ids:
        return {}
    return {c.id: c for c in await db.scalars(select(Category).where(Category.id.in_(ids)))}


async def lock_for_rebuild(db: AsyncSession) -> None:
    """PostgreSQL: ``SHARE ROW EXCLUSIVE`` on ``search_document``, held to the rebuild's commit.
    It waits for every open transaction that has written index rows (a payment's sales increment,
    a catalogue upsert: ``ROW EXCLUSIVE``) to commit — so the rebuild's reads of the order rows,
    each a fresh READ COMMITTED snapshot, see their sales — and makes later writers wait for the
    commit, so their increments land on the rebuilt rows. Searches (``ACCESS SHARE``) go on
    reading the old rows. SQLite has one writer at a time: nothing to do."""
    if db.get_bind().dialect.name == "postgresql":
        await db.execute(text("LOCK TABLE search_document IN SHARE ROW EXCLUSIVE MODE"))


async def delete_documents(db: AsyncSession, ids: Sequence[uuid.UUID] | None) -> None:
    """Remove the index rows of ``ids`` (all rows: ``None``)."""
    attrs = delete(SearchAttribute)
    docs = delete(D)
    if ids is not None:
        attrs = attrs.where(SearchAttribute.product_id.in_(ids))
        docs = docs.where(D.product_id.in_(ids))
    await db.execute(attrs)
    await db.execute(docs)


async def clear_terms(db: AsyncSession) -> None:
    await db.execute(delete(SearchTerm))


async def insert_documents(
    db: AsyncSession, docs: list[dict[str, Any]], attrs: list[dict[str, Any]]
) -> None:
    if docs:
        await db.execute(insert(D), docs)
    if attrs:
        await db.execute(insert(SearchAttribute), attrs)


RANKING = frozenset({"product_id", "rating", "sales"})
"""Columns an existing row keeps on an upsert: the key, and what the review and order writers
move in their own units of work (a catalogue write racing a payment must not undo its count)."""


async def upsert_documents(
    db: AsyncSession, docs: list[dict[str, Any]], attrs: list[dict[str, Any]]
) -> None:
    """Insert new rows; on an existing row rewrite every column but :data:`RANKING`. The
    attribute pairs of these products are replaced."""
    if not docs:
        return
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(D)
    keep = {c.name: stmt.excluded[c.name] for c in D.__table__.columns if c.name not in RANKING}
    await db.execute(stmt.on_conflict_do_update(index_elements=[D.product_id], set_=keep), docs)
    ids = [d["product_id"] for d in docs]
    await db.execute(delete(SearchAttribute).where(SearchAttribute.product_id.in_(ids)))
    if attrs:
        await db.execute(insert(SearchAttribute), attrs)


async def delete_other_documents(
    db: AsyncSession, ids: Sequence[uuid.UUID], keep: Collection[uuid.UUID]
) -> None:
    """Remove the index rows of ``ids`` but those in ``keep``."""
    gone = [i for i in ids if i not in keep]
    if gone:
        await delete_documents(db, gone)


# --- ranking data: ratings and sales ------------------------------------------------------------

SOLD = (OrderStatus.confirmed, OrderStatus.shipped, OrderStatus.delivered, OrderStatus.returned)
"""Store-order states whose lines count as sold: paid (or confirmed by the store) and not
canceled. Units received back by a return are taken off again."""


async def rating_rows(db: AsyncSession, ids: Collection[uuid.UUID]) -> Sequence[ReviewSummary]:
    if not ids:
        return []
    query = select(ReviewSummary).where(ReviewSummary.subject_id.in_(ids))
    return (await db.scalars(query.execution_options(populate_existing=True))).all()


async def units_sold(
    db: AsyncSession, vendor_ids: Collection[uuid.UUID], ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Units of ``ids`` in sold store orders, minus units received back, from the order rows."""
    if not ids:
        return {}
    sold = await db.execute(
        select(OrderLine.product_id, func.sum(OrderLine.quantity))
        .join(StoreOrder, StoreOrder.id == OrderLine.order_id)
        .where(
            OrderLine.vendor_id.in_(vendor_ids),
            StoreOrder.vendor_id.in_(vendor_ids),
            OrderLine.product_id.in_(ids),
            StoreOrder.status.in_(SOLD),
        )
        .group_by(OrderLine.product_id)
    )
    back = await db.execute(
        select(OrderLine.product_id, func.sum(ReturnLine.quantity))
        .join(ReturnLine, ReturnLine.order_line_id == OrderLine.id)
        .join(ReturnRequest, ReturnRequest.id == ReturnLine.return_id)
        .where(
            OrderLine.vendor_id.in_(vendor_ids),
            ReturnLine.vendor_id.in_(vendor_ids),
            ReturnRequest.vendor_id.in_(vendor_ids),
            OrderLine.product_id.in_(ids),
            ReturnRequest.status == ReturnStatus.received,
        )
        .group_by(OrderLine.product_id)
    )
    units = {product_id: int(n) for product_id, n in sold if product_id is not None}
    for product_id, n in back:
        if product_id is not None:
            units[product_id] = units.get(product_id, 0) - int(n)
    return units


async def order_units(
    db: AsyncSession, vendor_id: uuid.UUID, order_id: uuid.UUID
) -> dict[uuid.UUID, int]:
    """Units per product of one store order."""
    rows = await db.execute(
        select(OrderLine.product_id, func.sum(OrderLine.quantity))
        .where(
            OrderLine.vendor_id == vendor_id,
            OrderLine.order_id == order_id,
            OrderLine.product_id.is_not(None),
        )
        .group_by(OrderLine.product_id)
    )
    return {product_id: int(n) for product_id, n in rows if product_id is not None}


async def returned_units(
    db: AsyncSession, vendor_id: uuid.UUID, return_id: uuid.UUID
) -> dict[uuid.UUID, int]:
    """Units per product of one return request."""
    rows = await db.execute(
        select(OrderLine.product_id, func.sum(ReturnLine.quantity))
        .join(ReturnLine, ReturnLine.order_line_id == OrderLine.id)
        .where(
            ReturnLine.vendor_id == vendor_id,
            OrderLine.vendor_id == vendor_id,
            ReturnLine.return_id == return_id,
            OrderLine.product_id.is_not(None),
        )
        .group_by(OrderLine.product_id)
    )
    return {product_id: int(n) for product_id, n in rows if product_id is not None}


async def add_sales(db: AsyncSession, units: dict[uuid.UUID, int], sign: int) -> int:
    """Move each product's indexed sales by ``sign × units`` (atomic increments: concurrent
    payments of one product both count); how many index rows moved."""
    moved = 0
    for product_id, n in sorted(units.items()):
        result = await db.execute(
            update(D)
            .where(D.product_id == product_id)
            .values(sales=D.sales + sign * n)
            .execution_options(synchronize_session=False)
        )
        moved += int(getattr(result, "rowcount", 0) or 0)
    return moved


async def set_rating(db: AsyncSession, product_id: uuid.UUID, rating: float | None) -> int:
    result = await db.execute(
        update(D)
        .where(D.product_id == product_id)
        .values(rating=rating)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def add_terms(db: AsyncSession, terms: set[str]) -> None:
    if not terms:
        return
    dialect = db.get_bind().dialect.name
    rows = [{"term": t} for t in sorted(terms)]
    if dialect == "postgresql":
        await db.execute(postgresql.insert(SearchTerm).on_conflict_do_nothing(), rows)
    else:
        await db.execute(sqlite.insert(SearchTerm).on_conflict_do_nothing(), rows)


# --- queries ------------------------------------------------------------------------------------


async def category_path(db: AsyncSession, category_id: uuid.UUID | None, slug: str) -> str | None:
    cond = Category.slug == slug if category_id is None else Category.id == category_id
    return await db.scalar(select(Category.path).where(cond))


async def categories_under(
    db: AsyncSession, category_id: uuid.UUID | None, slug: str
) -> list[uuid.UUID] | None:
    """The category (by id or slug) and its descendants, or None when there is no such category.
    Resolved before the search, so the search filters on a list of ids: a sub-select there made
    PostgreSQL loop over the categories and repeat the full-text index scan once per category."""
    by_id = category_id is not None
    found = await db.scalars(_CATEGORIES_UNDER[by_id], {"key": category_id if by_id else slug})
    return list(found) or None


def _categories_under(by_id: bool) -> Select[Any]:
    key = bindparam("key", type_=Category.id.type if by_id else Category.slug.type)
    cond = Category.id == key if by_id else Category.slug == key
    path = select(Category.path).where(cond).scalar_subquery()
    return select(Category.id).where(Category.path.like(path + "%")).order_by(Category.id)


_CATEGORIES_UNDER = {by_id: _categories_under(by_id) for by_id in (True, False)}
""":func:`categories_under`'s statements (the category by id, by slug), built once."""


async def vendor_id(db: AsyncSession, id_: uuid.UUID | None, slug: str) -> uuid.UUID | None:
    cond = Vendor.slug == slug if id_ is None else Vendor.id == id_
    return await db.scalar(select(Vendor.id).where(cond))


def base(
    filters: SearchFilters,
    *,
    categories: Sequence[uuid.UUID] | None,
    vendor: uuid.UUID | None,
    engine: SearchEngine,
    query: Query | None,
) -> tuple[Select[Any], ColumnElement[Any] | None]:
    """The filtered rows (``SELECT search_document.* ... WHERE ...``) and the rank of ``q``.
    ``categories``: the filter's category and its descendants (:func:`categories_under`)."""
    approved = select(Vendor.id).where(Vendor.status == VendorStatus.approved)
    stmt = select(D).where(D.vendor_id.in_(approved))
    if categories is not None:
        stmt = stmt.where(D.category_id.in_(categories))
    if vendor is not None:
        stmt = stmt.where(D.vendor_id == vendor)
    if filters.min_price is not None:
        stmt = stmt.where(D.price >= filters.min_price)
    if filters.max_price is not None:
        stmt = stmt.where(D.price <= filters.max_price)
    if filters.rating_gte is not None:
        stmt = stmt.where(D.rating >= filters.rating_gte)
    if filters.in_stock is not None:
        stocked = exists().where(
            ProductVariant.product_id == D.product_id, ProductVariant.stock > 0
        )
        stmt = stmt.where(stocked if filters.in_stock else ~stocked)
    for name, values in sorted(filters.attributes.items()):
        pair = aliased(SearchAttribute)
        stmt = stmt.where(
            exists().where(
                pair.product_id == D.product_id, pair.name == name, pair.value.in_(values)
            )
        )
    rank = None
    if query is not None:
        stmt, rank = engine.match(stmt, query)
    return stmt, rank


def order(
    sort: SearchSort, rank: ColumnElement[Any] | None, c: Any = D
) -> list[ColumnElement[Any] | Any]:
    """The ``ORDER BY`` of ``sort`` over ``c``: the index's columns (default) or the same names
    of a CTE of its rows."""
    if sort == SearchSort.relevance and rank is not None:
        return [rank.desc(), c.product_id]
    if sort == SearchSort.price_asc:
        return [c.price, c.product_id]
    if sort == SearchSort.price_desc:
        return [c.price.desc(), c.product_id]
    if sort == SearchSort.rating:
        return [case((c.rating.is_(None), 1), else_=0), c.rating.desc(), c.product_id]
    if sort == SearchSort.best_selling:
        return [c.sales.desc(), c.created_at.desc(), c.product_id]
    return [c.created_at.desc(), c.product_id]  # newest, and relevance without q


HIT_COLUMNS = (
    D.product_id,
    D.title,
    D.price,
    D.currency,
    D.category_id,
    D.rating,
    D.created_at,
    Vendor.id.label("store_id"),
    Vendor.name.label("store_name"),
    Vendor.slug.label("store_slug"),
)


_DOCUMENTS = (
    select(*HIT_COLUMNS)
    .join(Vendor, Vendor.id == D.vendor_id)
    .where(D.product_id.in_(bindparam("ids", expanding=True, type_=D.product_id.type)))
)
""":func:`documents`' statement, built once (a search answer's last statement)."""


async def documents(db: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Any]:
    """What a hit shows of the index rows of ``ids`` and their stores, in the order of ``ids``
    (rows, not entities: a page is read, never changed)."""
    if not ids:
        return []
    found: dict[uuid.UUID, Any] = {
        row.product_id: row for row in await db.execute(_DOCUMENTS, {"ids": list(ids)})
    }
    return [found[i] for i in ids if i in found]


FacetRow = tuple[str, str | None, str | None, int]
"""``(kind, key, value, count)``: kind ``total``, ``category`` (id), ``store`` (id), ``price``
(bucket index), ``rating`` (stars), ``attribute`` (name, value), ``sample`` (how many rows the
facets counted) or ``page`` (a product id of the page, its position as the count)."""


def _tag(kind: str) -> ColumnElement[Any]:
    return literal_column(f"'{kind}'", String).label("kind")


def page_and_facets_query(
    stmt: Select[Any],
    sort: SearchSort,
    rank: ColumnElement[Any] | None,
    *,
    offset: Any,
    limit: Any,
    edges: list[int],
    sample: int,
    dialect: str = "postgresql",
) -> Any:
    """The page's ids, the total and every facet's counts in one statement: the filtered rows
    (with the full-text match, the costly part) are computed once into a materialized CTE with
    their sort keys; the page orders it, the total counts it, each facet groups it — instead of
    re-running the match for the page and again for the facets.

    The facets group at most ``sample`` of the matched rows (the first the scan produced, the
    ``sample`` CTE): grouping is cheap, but the attribute facet joins each row to its attribute
    pairs, which at tens of thousands of hits is most of the answer's time. Below ``sample`` hits
    the counts are exact; the ``sample`` row says how many rows were counted.

    The matched rows carry only what the sort and the facets read: ``sales`` for the best-selling
    sort alone. A search by category then reads nothing but the covering category index
    (``ix_search_document_category_id``, c25s00000001: an index-only scan, where the heap's wide
    rows, their words and vector, were 317 of 477 buffers for a category of 392 products). On
    PostgreSQL the attribute facet probes the attribute pairs of the counted rows through the
    primary key (a ``LATERAL`` subquery PostgreSQL does not flatten): as a plain join it hashed
    every pair of the index (19,566 rows on 10,000 products, more than half of the statement's
    time) to keep a few hundred of them."""
    ranked = (rank if rank is not None else literal_column("0")).label("rank")
    sales = (D.sales,) if sort == SearchSort.best_selling else ()
    matched = (
        stmt.with_only_columns(
            D.product_id,
            D.vendor_id,
            D.category_id,
            D.price,
            D.rating,
            *sales,
            D.created_at,
            ranked,
        )
        .order_by(None)
        .cte("matched")
        .prefix_with("MATERIALIZED")
    )
    m = matched.c
    on_page = (
        select(
            m.product_id,
            func.row_number()
            .over(order_by=order(sort, m.rank if rank is not None else None, m))
            .label("position"),
        )
        .order_by(*order(sort, m.rank if rank is not None else None, m))
        .offset(offset)
        .limit(limit)
        .subquery("on_page")
    )
    counted = (
        select(m.product_id, m.vendor_id, m.category_id, m.price, m.rating)
        .limit(sample)
        .cte("counted")
        .prefix_with("MATERIALIZED")
    )
    none = cast(null(), String)
    n = func.count().label("n")
    head = [
        select(_tag("total"), none.label("a"), none.label("b"), n).select_from(matched),
        select(
            _tag("page"),
            cast(on_page.c.product_id, String).label("a"),
            none.label("b"),
            on_page.c.position.label("n"),
        ),
        select(_tag("sample"), none.label("a"), none.label("b"), n).select_from(counted),
    ]
    m = counted.c
    price_bucket = case(
        *[(m.price < literal_column(str(int(e))), str(i)) for i, e in enumerate(edges)],
        else_=str(len(edges)),
    ).label("a")
    stars = case(
        *[(m.rating >= literal_column(str(s)), str(s)) for s in (5, 4, 3, 2)], else_="1"
    ).label("a")
    category = cast(m.category_id, String).label("a")
    store = cast(m.vendor_id, String).label("a")
    parts = [
        *head,
        select(_tag("category"), category, none.label("b"), n)
        .where(m.category_id.is_not(None))
        .group_by(m.category_id),
        select(_tag("store"), store, none.label("b"), n).group_by(m.vendor_id),
        select(_tag("price"), price_bucket, none.label("b"), n).group_by(literal_column("a")),
        select(_tag("rating"), stars, none.label("b"), n)
        .where(m.rating.is_not(None))
        .group_by(literal_column("a")),
        _attribute_facet(m, counted, n, dialect),
    ]
    return union_all(*parts)


def _attribute_facet(m: Any, counted: Any, n: Any, dialect: str) -> Select[Any]:
    """The attribute pairs of the ``counted`` rows, counted (see :func:`page_and_facets_query`)."""
    if dialect != "postgresql":
        return (
            select(
                _tag("attribute"),
                SearchAttribute.name.label("a"),
                SearchAttribute.value.label("b"),
                n,
            )
            .select_from(counted)
            .join(SearchAttribute, SearchAttribute.product_id == m.product_id)
            .group_by(SearchAttribute.name, SearchAttribute.value)
        )
    # OFFSET 0 keeps the subquery whole (PostgreSQL pulls up no subquery with an OFFSET): a
    # nested loop of primary-key probes, one per counted row, whatever the estimates.
    pairs = (
        select(SearchAttribute.name, SearchAttribute.value)
        .where(SearchAttribute.product_id == m.product_id)
        .offset(literal_column("0"))
        .lateral("pair")
    )
    return (
        select(_tag("attribute"), pairs.c.name.label("a"), pairs.c.value.label("b"), n)
        .select_from(counted)
        .join(pairs, true())
        .group_by(pairs.c.name, pairs.c.value)
    )


async def page_and_facets(
    db: AsyncSession,
    stmt: Select[Any],
    sort: SearchSort,
    rank: ColumnElement[Any] | None,
    *,
    offset: int,
    limit: int,
    edges: list[int],
    sample: int,
) -> list[FacetRow]:
    """The page's ids, the total and every facet's counts in one statement
    (:func:`page_and_facets_query`)."""
    query = page_and_facets_query(
        stmt,
        sort,
        rank,
        offset=offset,
        limit=limit,
        edges=edges,
        sample=sample,
        dialect=db.get_bind().dialect.name,
    )
    return _facet_rows(await db.execute(query))


def _facet_rows(rows: Any) -> list[FacetRow]:
    return [(str(k), a, b, int(c)) for k, a, b, c in rows]


_FILTERED: dict[tuple[Any, ...], Any] = {}
""":func:`filtered_page_and_facets`'s statements per filter shape, built once."""


async def filtered_page_and_facets(
    db: AsyncSession,
    filters: SearchFilters,
    *,
    categories: Sequence[uuid.UUID] | None,
    vendor: uuid.UUID | None,
    offset: int,
    limit: int,
    edges: list[int],
    sample: int,
) -> list[FacetRow]:
    """:func:`page_and_facets` of :func:`base` for a search without words or attributes (the
    category searches), its statement built once per filter shape with the filters' values bound:
    building it per request was most of such a search's own CPU (issue 25)."""
    values: dict[str, Any] = {
        "categories": categories,
        "vendor": vendor,
        "min_price": filters.min_price,
        "max_price": filters.max_price,
        "rating_gte": filters.rating_gte,
    }
    given = tuple(name for name, value in values.items() if value is not None)
    dialect = db.get_bind().dialect.name
    shape = (dialect, given, filters.in_stock, filters.sort, tuple(edges), sample)
    query = _FILTERED.get(shape)
    if query is None:
        types = {
            "categories": D.category_id.type,
            "vendor": D.vendor_id.type,
            "min_price": D.price.type,
            "max_price": D.price.type,
            "rating_gte": D.rating.type,
        }
        bound: dict[str, Any] = {
            name: bindparam(name, type_=types[name], expanding=name == "categories")
            for name in given
        }
        # Unvalidated on purpose: base() only compares these fields, and they are parameters.
        shape_of: dict[str, Any] = {
            "min_price": bound.get("min_price"),
            "max_price": bound.get("max_price"),
            "rating_gte": bound.get("rating_gte"),
            "in_stock": filters.in_stock,
            "sort": filters.sort,
        }
        shaped = SearchFilters.model_construct(**shape_of)
        stmt, _ = base(
            shaped,
            categories=bound.get("categories"),
            vendor=bound.get("vendor"),
            engine=None,  # type: ignore[arg-type]
            query=None,
        )
        query = _FILTERED[shape] = page_and_facets_query(
            stmt,
            filters.sort,
            None,
            offset=bindparam("offset", type_=Integer),
            limit=bindparam("limit", type_=Integer),
            edges=edges,
            sample=sample,
            dialect=dialect,
        )
    params = {name: values[name] for name in given}
    params.update(offset=offset, limit=limit)
    return _facet_rows(await db.execute(query, params))


def _named(table: type[Category] | type[Vendor]) -> Any:
    ids = bindparam("ids", expanding=True, type_=table.id.type)
    query = (
        select(table.id, table.name, table.slug)
        .where(table.id.in_(ids))
        .order_by(table.name, table.id)
    )
    return query


_CATEGORIES_NAMED = _named(Category)
_VENDORS_NAMED = _named(Vendor)
"""The facets' names, their statements built once."""


async def categories_named(db: AsyncSession, ids: Collection[uuid.UUID]) -> list[Row[Any]]:
    """``(id, name, slug)`` rows, ordered by name then id (the facet's order among equal
    counts)."""
    if not ids:
        return []
    return list(await db.execute(_CATEGORIES_NAMED, {"ids": list(ids)}))


async def vendors_named(db: AsyncSession, ids: Collection[uuid.UUID]) -> list[Row[Any]]:
    """``(id, name, slug)`` rows, ordered by name then id."""
    if not ids:
        return []
    return list(await db.execute(_VENDORS_NAMED, {"ids": list(ids)}))


async def suggest_titles(db: AsyncSession, words: list[str], limit: int) -> list[tuple[Any, str]]:
    approved = select(Vendor.id).where(Vendor.status == VendorStatus.approved)
    conds = [or_(D.title.ilike(w + "%"), D.title.ilike("% " + w + "%")) for w in words]
    rows = await db.execute(
        select(D.product_id, D.title)
        .where(D.vendor_id.in_(approved), and_(*conds))
        .order_by(D.sales.desc(), D.title, D.product_id)
        .limit(limit)
    )
    return [(pid, title) for pid, title in rows]


async def suggest_categories(db: AsyncSession, words: list[str], limit: int) -> list[Category]:
    conds = [or_(Category.name.ilike(w + "%"), Category.name.ilike("% " + w + "%")) for w in words]
    rows = await db.scalars(
        select(Category).where(and_(*conds)).order_by(Category.name, Category.id).limit(limit)
    )
    return list(rows)


async def analyze(db: AsyncSession) -> None:
    if db.get_bind().dialect.name == "postgresql":
        await db.execute(text("ANALYZE search_document, search_attribute, search_term"))
