"""SQL for categories and products. Vendor queries of products and variants filter on
``vendor_id``; public reads join the store and show only active products of approved stores."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    String,
    and_,
    bindparam,
    delete,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from oja.core.clock import utcnow
from oja.core.pagination import PageParams
from oja.files.models import File
from oja.marketplace.catalog.models import (
    Category,
    PriceChange,
    Product,
    ProductImage,
    ProductStatus,
    ProductVariant,
)
from oja.marketplace.pricing.prices import LiveDiscount
from oja.marketplace.pricing.repository import (
    decode_live_discount_terms,
    live_discount_terms_json,
)
from oja.marketplace.vendors.models import Vendor, VendorStatus

# Categories


async def all_categories(db: AsyncSession) -> Sequence[Category]:
    return (await db.scalars(select(Category).order_by(Category.name, Category.id))).all()


async def category(
    db: AsyncSession, *, category_id: uuid.UUID | None, slug: str
) -> Category | None:
    key = Category.id == category_id if category_id is not None else Category.slug == slug
    return (await db.scalars(select(Category).where(key))).first()


async def category_path(db: AsyncSession, category_id: uuid.UUID | None) -> str | None:
    if category_id is None:
        return None
    return (await db.scalars(select(Category.path).where(Category.id == category_id))).first()


async def categories_by_id(db: AsyncSession, ids: Sequence[uuid.UUID]) -> Sequence[Category]:
    if not ids:
        return []
    return (await db.scalars(select(Category).where(Category.id.in_(ids)))).all()


async def children(db: AsyncSession, parent_id: uuid.UUID) -> Sequence[Category]:
    query = select(Category).where(Category.parent_id == parent_id).order_by(Category.name)
    return (await db.scalars(query)).all()


async def category_slug_taken(
    db: AsyncSession, slug: str, *, except_id: uuid.UUID | None = None
) -> bool:
    query = select(Category.id).where(Category.slug == slug)
    if except_id is not None:
        query = query.where(Category.id != except_id)
    return (await db.execute(query.limit(1))).first() is not None


async def category_in_use(db: AsyncSession, category_id: uuid.UUID) -> bool:
    """Has children or products (of any store, in any status)."""
    child = exists().where(Category.parent_id == category_id)
    product = exists().where(Product.category_id == category_id)
    return bool((await db.execute(select(or_(child, product)))).scalar_one())


async def move_subtree(db: AsyncSession, old_prefix: str, new_prefix: str) -> None:
    """Rewrite the path of every category under ``old_prefix`` (itself included) in one UPDATE."""
    await db.execute(
        update(Category)
        .where(Category.path.like(old_prefix + "%"))
        .values(
            path=literal(new_prefix, String).concat(
                func.substr(Category.path, len(old_prefix) + 1, type_=String)
            ),
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )


async def delete_category(db: AsyncSession, category_id: uuid.UUID) -> None:
    await db.execute(
        delete(Category)
        .where(Category.id == category_id)
        .execution_options(synchronize_session=False)
    )


# Products, vendor side (always scoped by vendor_id)


async def vendor_product(
    db: AsyncSession, vendor_id: uuid.UUID, product_id: uuid.UUID
) -> Product | None:
    query = select(Product).where(Product.vendor_id == vendor_id, Product.id == product_id)
    return (await db.scalars(query)).first()


async def update_product(
    db: AsyncSession, vendor_id: uuid.UUID, product_id: uuid.UUID, values: dict[str, Any]
) -> Product | None:
    """Change this store's product in one UPDATE scoped by ``vendor_id`` (an ORM flush would
    update by primary key alone); the fresh row, or None."""
    return (
        await db.scalars(
            update(Product)
            .where(Product.vendor_id == vendor_id, Product.id == product_id)
            .values(**values, updated_at=utcnow())
            .returning(Product)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
    ).first()


async def update_variant(
    db: AsyncSession, vendor_id: uuid.UUID, variant_id: uuid.UUID, values: dict[str, Any]
) -> ProductVariant | None:
    return (
        await db.scalars(
            update(ProductVariant)
            .where(ProductVariant.vendor_id == vendor_id, ProductVariant.id == variant_id)
            .values(**values, updated_at=utcnow())
            .returning(ProductVariant)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
    ).first()


async def vendor_variants(
    db: AsyncSession, vendor_id: uuid.UUID, product_ids: Sequence[uuid.UUID]
) -> Sequence[ProductVariant]:
    query = (
        select(ProductVariant)
        .where(
            ProductVariant.vendor_id == vendor_id,
            ProductVariant.product_id.in_(product_ids),
            ProductVariant.deleted_at.is_(None),
        )
        .order_by(ProductVariant.created_at, ProductVariant.id)
    )
    return (await db.scalars(query)).all()


async def vendor_variant(
    db: AsyncSession, vendor_id: uuid.UUID, product_id: uuid.UUID, variant_id: uuid.UUID
) -> ProductVariant | None:
    query = select(ProductVariant).where(
        ProductVariant.vendor_id == vendor_id,
        ProductVariant.product_id == product_id,
        ProductVariant.id == variant_id,
        ProductVariant.deleted_at.is_(None),
    )
    return (await db.scalars(query)).first()


async def skus_taken(
    db: AsyncSession,
    vendor_id: uuid.UUID,
    skus: Sequence[str],
    *,
    except_id: uuid.UUID | None = None,
) -> list[str]:
    query = select(ProductVariant.sku).where(
        ProductVariant.vendor_id == vendor_id,
        ProductVariant.sku.in_(skus),
        ProductVariant.deleted_at.is_(None),
    )
    if except_id is not None:
        query = query.where(ProductVariant.id != except_id)
    return sorted((await db.scalars(query)).all())


async def count_variants(db: AsyncSession, vendor_id: uuid.UUID, product_id: uuid.UUID) -> int:
    query = select(func.count()).where(
        ProductVariant.vendor_id == vendor_id,
        ProductVariant.product_id == product_id,
        ProductVariant.deleted_at.is_(None),
    )
    return int((await db.execute(query)).scalar_one())


async def delete_variant(db: AsyncSession, vendor_id: uuid.UUID, variant_id: uuid.UUID) -> None:
    """Soft: the row stays for its price history (see :class:`ProductVariant`)."""
    now = utcnow()
    await db.execute(
        update(ProductVariant)
        .where(
            ProductVariant.vendor_id == vendor_id,
            ProductVariant.id == variant_id,
            ProductVariant.deleted_at.is_(None),
        )
        .values(deleted_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )


async def price_history(
    db: AsyncSession, vendor_id: uuid.UUID, product_id: uuid.UUID, paging: PageParams
) -> tuple[Sequence[PriceChange], int]:
    where = (PriceChange.vendor_id == vendor_id, PriceChange.product_id == product_id)
    total = (await db.execute(select(func.count()).where(*where))).scalar_one()
    items = (
        await db.scalars(
            select(PriceChange)
            .where(*where)
            .order_by(PriceChange.created_at.desc(), PriceChange.id.desc())
            .offset(paging.offset)
            .limit(paging.per_page)
        )
    ).all()
    return items, int(total)


# Products, public side


def _visible() -> Select[Product]:
    return (
        select(Product)
        .join(Vendor, Vendor.id == Product.vendor_id)
        .where(Product.status == ProductStatus.active, Vendor.status == VendorStatus.approved)
    )


async def visible_product(
    db: AsyncSession, product_id: uuid.UUID, *, own_vendor_id: uuid.UUID | None
) -> Product | None:
    """The product if anyone may see it, or if it belongs to ``own_vendor_id`` (drafts too)."""
    if own_vendor_id is not None:
        owned = await vendor_product(db, own_vendor_id, product_id)
        if owned is not None:
            return owned
    return (await db.scalars(_visible().where(Product.id == product_id))).first()


@dataclass(frozen=True, slots=True)
class ProductRow:
    """What a public product answer needs of a product row, read as plain columns: the public
    reads load no ORM entities (their identity map and attribute instrumentation were most of the
    listing's Python time, issue 18)."""

    id: uuid.UUID
    vendor_id: uuid.UUID
    title: str
    description: str | None
    category_id: uuid.UUID | None
    attributes: dict[str, Any]
    status: str
    category_path: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class VariantRow:
    """A live variant as a public answer shows it (plain columns, see :class:`ProductRow`)."""

    id: uuid.UUID
    product_id: uuid.UUID
    sku: str
    options: dict[str, Any]
    price: int
    currency: str
    compare_at_price: int | None
    stock: int
    low_stock_threshold: int
    weight_grams: int | None


_PRODUCT_FIELDS = tuple(field.name for field in fields(ProductRow))
_PRODUCT_COLUMNS = tuple(getattr(Product, name) for name in _PRODUCT_FIELDS)
_VARIANT_COLUMNS = tuple(getattr(ProductVariant, field.name) for field in fields(VariantRow))


@dataclass(frozen=True, slots=True)
class Shown:
    """What a public read shows with a product besides its row: its images and, on PostgreSQL,
    its live variants and its store's live discounts, read in the product's statement (None
    elsewhere: :func:`variants_of_products` and the pricing repository read them)."""

    images: list[ImageRow]
    variants: list[VariantRow] | None
    discounts: list[LiveDiscount] | None


def _shown_columns(
    dialect: str, product_id: Any, vendor_id: Any, now: datetime | BindParameter[Any]
) -> list[ColumnElement[Any]]:
    columns = [images_json(dialect, product_id)]
    if dialect == "postgresql":
        columns += [variants_json(product_id), live_discount_terms_json(vendor_id, now)]
    return columns


def _shown(product_id: uuid.UUID, values: Sequence[Any]) -> Shown:
    images = decode_images(product_id, values[0])
    if len(values) == 1:
        return Shown(images, None, None)
    variants = decode_variants(product_id, values[1])
    return Shown(images, variants, decode_live_discount_terms(values[2]))


_LISTED_PRODUCT: dict[str, Select[Any]] = {}
"""The product page's statement per dialect, built once with bound parameters: building its
subqueries per request cost as much CPU as running it (py-spy, issue 25)."""


def _listed_product_query(dialect: str) -> Select[Any]:
    query = _LISTED_PRODUCT.get(dialect)
    if query is None:
        now = bindparam("now", type_=Product.created_at.type)
        shown = _shown_columns(dialect, Product.id, Product.vendor_id, now)
        query = _LISTED_PRODUCT[dialect] = (
            select(*_PRODUCT_COLUMNS, *shown)
            .join(Vendor, Vendor.id == Product.vendor_id)
            .where(
                Product.id == bindparam("product_id", type_=Product.id.type),
                Product.status == ProductStatus.active,
                Vendor.status == VendorStatus.approved,
            )
        )
    return query


async def listed_product(
    db: AsyncSession, product_id: uuid.UUID, now: datetime
) -> tuple[ProductRow, Shown] | None:
    """The product with what it shows (:class:`Shown`; the discounts live at ``now``), if anyone
    may see it (active, of an approved store): one statement, plain columns."""
    query = _listed_product_query(db.get_bind().dialect.name)
    row = (await db.execute(query, {"product_id": product_id, "now": now})).first()
    if row is None:
        return None
    width = len(_PRODUCT_FIELDS)
    product = ProductRow(*row[:width])
    return product, _shown(product.id, row[width:])


async def variants_of_products(
    db: AsyncSession, product_ids: Sequence[uuid.UUID]
) -> list[VariantRow]:
    """The live variants of products already known to be visible (the listing's second
    statement), oldest first."""
    if not product_ids:
        return []
    query = (
        select(*_VARIANT_COLUMNS)
        .where(ProductVariant.product_id.in_(product_ids), ProductVariant.deleted_at.is_(None))
        .order_by(ProductVariant.created_at, ProductVariant.id)
    )
    return [VariantRow(*row) for row in (await db.execute(query)).all()]


# Built once, like the listing's image aliases below.
_LISTED_VARIANT = aliased(ProductVariant, name="listed_variant")
_VARIANT_JSON_FIELDS = tuple(
    field.name for field in fields(VariantRow) if field.name != "product_id"
)


def variants_json(product_id: ColumnElement[Any] | InstrumentedAttribute[Any]) -> Any:
    """PostgreSQL: the live variants of the product ``product_id`` names, oldest first, as one
    JSON array column of the product page's and the listing's statement (:func:`decode_variants`
    reads it back) — the statement :func:`variants_of_products` would otherwise be, and its round
    trip, saved on every public read. Other databases read them with that statement."""
    variant = _LISTED_VARIANT
    pairs: list[Any] = []
    for name in _VARIANT_JSON_FIELDS:
        pairs += [literal(name), getattr(variant, name)]
    ordered = aggregate_order_by(func.json_build_object(*pairs), variant.created_at, variant.id)
    return (
        select(func.coalesce(func.json_agg(ordered), literal_column("'[]'::json")))
        .where(variant.product_id == product_id, variant.deleted_at.is_(None))
        .scalar_subquery()
    )


def decode_variants(product_id: uuid.UUID, raw: Any) -> list[VariantRow]:
    items = json.loads(raw) if isinstance(raw, str | bytes) else (raw or [])
    return [
        VariantRow(
            id=uuid.UUID(item["id"]),
            product_id=product_id,
            sku=item["sku"],
            options=item["options"],
            price=item["price"],
            currency=item["currency"],
            compare_at_price=item["compare_at_price"],
            stock=item["stock"],
            low_stock_threshold=item["low_stock_threshold"],
            weight_grams=item["weight_grams"],
        )
        for item in items
    ]


def _under_path(root_path: Any, dialect: str) -> Any:
    """``Product.category_path`` starts with ``root_path`` (a constant, or a scalar subquery when
    the cached tree did not hold the category). On PostgreSQL also as a byte-wise range
    (``~>=~``/``~<~``: the operators of the ``text_pattern_ops`` index), which the planner can walk
    with a subquery's value too — a LIKE with a non-constant pattern uses no index. A path holds
    only ``/``, ``-`` and hex digits, all below ``~``, so the range holds exactly the paths under
    the root."""
    prefix = Product.category_path.like(root_path.concat("%"))
    if dialect != "postgresql":
        return prefix
    column = Product.category_path
    below = root_path.concat("~").self_group()
    return and_(
        column.op("~>=~", is_comparison=True)(root_path),
        column.op("~<~", is_comparison=True)(below),
        prefix,
    )


def _price_range(min_price: Any, max_price: Any, *, per_row: bool = False) -> list[Any]:
    """Some live variant's price is within the bounds. The product's cheapest and dearest prices
    answer it alone (and through the row at hand) unless the product straddles the range, where
    only a look at its variants can tell.

    The look is an EXISTS, which PostgreSQL may answer by hashing every live variant in the range
    once (right for a total, which visits every candidate). ``per_row`` asks it instead as the
    cheapest live price from the bound up, a correlated scalar subquery that PostgreSQL cannot
    hash: it probes the variants of each straddler the page meets, and a page stops after its
    rows, where a hash would read the whole range first (114,000 variants for a wide range on the
    bench, issue 18). Both say the same: a live variant priced ``>= min_price`` whose cheapest is
    ``<= max_price`` is one within the bounds."""
    where: list[Any] = []
    if min_price is not None:
        where.append(Product.max_price >= min_price)
    if max_price is not None:
        where.append(Product.min_price <= max_price)
    if min_price is not None and max_price is not None:
        live = (ProductVariant.product_id == Product.id, ProductVariant.deleted_at.is_(None))
        within: ColumnElement[bool]
        if per_row:
            cheapest = (
                select(func.min(ProductVariant.price))
                .where(*live, ProductVariant.price >= min_price)
                .scalar_subquery()
            )
            within = cheapest <= max_price
        else:
            within = exists().where(
                *live, ProductVariant.price >= min_price, ProductVariant.price <= max_price
            )
        where.append(or_(Product.min_price >= min_price, Product.max_price <= max_price, within))
    return where


def _count(where: list[Any]) -> Any:
    """``count(*)`` of the products matching ``where``, as an uncorrelated scalar subquery:
    PostgreSQL counts it once, from the index that answers the filters (``stocked_variants`` is
    included in the sorts' indexes for that), while the page stops after ``per_page`` rows.
    ``count(*)``, not of the id: an index without the id (the category path's) can then count
    without the heap."""
    return select(func.count()).select_from(Product).where(*where).correlate(None).scalar_subquery()


def _total(where: list[Any], min_price: Any, max_price: Any) -> Any:
    """The listing's total. With both price bounds it is two counts added up: the products whose
    cheapest or dearest price answers the range alone, and the straddlers (cheapest below the
    range, dearest above it) with a live variant within it. The two are disjoint and together
    exactly :func:`_price_range`'s products. Why: inside the ``OR`` of :func:`_price_range` the
    variant look is a subplan PostgreSQL can only hash whole or run per row, chosen from an
    estimate of the rows before the ``OR`` (a wide range hashed ~114,000 variants to check ~860
    straddlers, issue 18); as the straddlers' own ``EXISTS`` it is a semi-join, planned from the
    straddlers' estimate — a nested loop over a few, a hash over many."""
    if min_price is None or max_price is None:
        return _count(where + _price_range(min_price, max_price))
    plain = [
        Product.max_price >= min_price,
        Product.min_price <= max_price,
        or_(Product.min_price >= min_price, Product.max_price <= max_price),
    ]
    within = exists().where(
        ProductVariant.product_id == Product.id,
        ProductVariant.deleted_at.is_(None),
        ProductVariant.price >= min_price,
        ProductVariant.price <= max_price,
    )
    straddling = [Product.min_price < min_price, Product.max_price > max_price, within]
    return _count(where + plain) + _count(where + straddling)


ListedRow = tuple[ProductRow, Shown]
"""A listing's product: its row and what it shows."""


_LISTINGS: dict[tuple[Any, ...], tuple[Select[Any], Any]] = {}
"""The listing's statement (and its total alone) per dialect and filter shape, built once with
bound parameters: building it per request was 7–10 % of the listing's CPU (issue 25), and a
statement object used again keeps its compiled cache key."""


def _param(name: str) -> BindParameter[Any]:
    return bindparam(name, type_=Integer)


def _listing_query(
    dialect: str,
    *,
    category: str | None,
    vendor: str | None,
    in_stock: bool | None,
    min_price: bool,
    max_price: bool,
    price: bool,
    descending: bool,
) -> tuple[Select[Any], Any]:
    """The statement of :func:`list_visible` for one shape: ``category`` is how the subtree is
    named (``path``, ``id``, ``slug``, or None), ``vendor`` how the store is (``id``, ``slug``),
    ``min_price``/``max_price`` whether that bound is given, ``price`` whether the sort is by
    price. Values are parameters: ``category_path``, ``category_id``, ``category_slug``,
    ``vendor_id``, ``vendor_slug``, ``min_price``, ``max_price``, ``offset``, ``limit``, ``now``."""
    shape = (dialect, category, vendor, in_stock, min_price, max_price, price, descending)
    built = _LISTINGS.get(shape)
    if built is not None:
        return built
    where: list[Any] = [Product.listed]
    if category == "path":
        # Rendered into the SQL, not bound: a prepared statement's generic plan (PostgreSQL's
        # choice after five executions) would not see a parameter's value either, and would
        # misjudge the subtree's size as it does a subquery's (issue 18). Paths are ids only.
        root = bindparam("category_path", type_=String, literal_execute=True)
        where.append(_under_path(root, dialect))
    elif category is not None:
        root_key = (
            Category.id == bindparam("category_id", type_=Category.id.type)
            if category == "id"
            else Category.slug == bindparam("category_slug", type_=Category.slug.type)
        )
        root_path = select(Category.path).where(root_key).scalar_subquery()
        where.append(_under_path(root_path, dialect))
    if vendor == "id":
        where.append(Product.vendor_id == bindparam("vendor_id", type_=Product.vendor_id.type))
    elif vendor == "slug":
        slug = bindparam("vendor_slug", type_=Vendor.slug.type)
        where.append(
            Product.vendor_id == select(Vendor.id).where(Vendor.slug == slug).scalar_subquery()
        )
    if in_stock is not None:
        where.append(Product.stocked_variants > 0 if in_stock else Product.stocked_variants == 0)
    # Typed as the price columns (BIGINT): a bound above 2**31 is a valid filter, not a 500.
    low = bindparam("min_price", type_=Product.min_price.type) if min_price else None
    high = bindparam("max_price", type_=Product.max_price.type) if max_price else None
    total = _total(where, low, high)
    where += _price_range(low, high, per_row=True)
    key: Any
    if price:
        key, newest = Product.min_price, False
        # A product always keeps a live variant; the condition says so to the planner (and keeps
        # one caught mid-change out of the price sorts, as the join to its cheapest variant did).
        where.append(Product.min_price.is_not(None))
    else:
        key, newest = Product.created_at, True
    # The page is found by its ids and sort key alone, which each sort's index holds (an index
    # only scan past the skipped pages), and only its rows are then read from the table: reading
    # whole rows for the skipped pages too was most of the statement (issue 25, EXPLAIN ANALYZE
    # on 10,000 products: 300 heap rows for page 15).
    inner = select(Product.id, key, total.label("total")).where(*where)
    # ties: newest id first; by price, the smaller id. The images and variants are added around
    # the page, so their subqueries run for its rows only, not for every match.
    page = (
        inner.order_by(
            key.desc() if descending else key.asc(), Product.id.desc() if newest else Product.id
        )
        .offset(_param("offset"))
        .limit(_param("limit"))
        .subquery("page")
    )
    sort_key = page.c[key.name]
    now = bindparam("now", type_=Product.created_at.type)
    shown = _shown_columns(dialect, page.c.id, Product.vendor_id, now)
    outer: Select[Any] = (
        select(*_PRODUCT_COLUMNS, page.c.total, *shown)
        .join_from(page, Product, Product.id == page.c.id)
        .order_by(
            sort_key.desc() if descending else sort_key.asc(),
            page.c.id.desc() if newest else page.c.id,
        )
    )
    only_total: Select[Any] = select(total)
    built = _LISTINGS[shape] = (outer, only_total)
    return built


def _named(named: tuple[uuid.UUID | None, str] | None) -> tuple[str | None, dict[str, Any]]:
    """How a category or store is named (by ``id`` or ``slug``) and the parameter for it."""
    if named is None:
        return None, {}
    key_id, slug = named
    return ("id", {"id": key_id}) if key_id is not None else ("slug", {"slug": slug})


async def list_visible(
    db: AsyncSession,
    *,
    category: tuple[uuid.UUID | None, str] | None,
    category_path: str | None = None,
    vendor: tuple[uuid.UUID | None, str] | None,
    min_price: int | None,
    max_price: int | None,
    in_stock: bool | None,
    sort: str,
    paging: PageParams,
    now: datetime,
) -> tuple[list[ListedRow], int]:
    """One page of the public listing (each product with what it shows, :class:`Shown`; the
    discounts live at ``now``) and its total: one statement, whatever the filters. ``category_path``, when the caller resolved
    it, filters on that subtree; else ``category`` (id, slug) is looked up in the statement.

    It reads the product table alone: ``listed``, ``min_price``/``max_price``,
    ``stocked_variants`` and ``category_path`` are kept on the row by triggers (see
    :class:`Product`), and each sort walks its partial index (``WHERE listed``) and stops at the
    page."""
    params: dict[str, Any] = {"offset": paging.offset, "limit": paging.per_page, "now": now}
    category_by: str | None
    if category_path is not None:
        category_by, params["category_path"] = "path", category_path
    else:
        category_by, named = _named(category)
        params.update({f"category_{k}": v for k, v in named.items()})
    vendor_by, named = _named(vendor)
    params.update({f"vendor_{k}": v for k, v in named.items()})
    if min_price is not None:
        params["min_price"] = min_price
    if max_price is not None:
        params["max_price"] = max_price
    price = sort in {"price_asc", "price_desc"}
    query, total = _listing_query(
        db.get_bind().dialect.name,
        category=category_by,
        vendor=vendor_by,
        in_stock=in_stock,
        min_price=min_price is not None,
        max_price=max_price is not None,
        price=price,
        descending=sort == "price_desc" if price else True,
    )
    rows = (await db.execute(query, params)).all()
    width = len(_PRODUCT_FIELDS)
    if rows:
        total_found = int(rows[0][width])
    elif paging.offset == 0:
        total_found = 0
    else:
        total_found = int((await db.execute(total, params)).scalar_one())
    page_rows = []
    for row in rows:
        product = ProductRow(*row[:width])
        page_rows.append((product, _shown(product.id, row[width + 1 :])))
    return page_rows, total_found


# Product images


@dataclass(frozen=True)
class ImageRow:
    """A product image with what its answer needs of its file."""

    id: uuid.UUID
    product_id: uuid.UUID
    position: int
    alt_text: str | None
    file_status: str
    storage_key: str
    variants: dict[str, Any] | None


_IMAGE_COLUMNS = (
    ProductImage.id,
    ProductImage.product_id,
    ProductImage.position,
    ProductImage.alt_text,
    File.status,
    File.storage_key,
    File.variants,
)


def _image_rows(rows: Sequence[Any]) -> list[ImageRow]:
    return [ImageRow(*row) for row in rows]


async def vendor_images(
    db: AsyncSession, vendor_id: uuid.UUID, product_ids: Sequence[uuid.UUID]
) -> list[ImageRow]:
    query = (
        select(*_IMAGE_COLUMNS)
        .join(File, File.id == ProductImage.file_id)
        .where(ProductImage.vendor_id == vendor_id, ProductImage.product_id.in_(product_ids))
    )
    return _image_rows((await db.execute(query)).all())


async def images_of_products(db: AsyncSession, product_ids: Sequence[uuid.UUID]) -> list[ImageRow]:
    """The images of products already known to be visible."""
    if not product_ids:
        return []
    query = (
        select(*_IMAGE_COLUMNS)
        .join(File, File.id == ProductImage.file_id)
        .where(ProductImage.product_id.in_(product_ids))
    )
    return _image_rows((await db.execute(query)).all())


# Built once: an alias's column collection is populated on first use, and building both per
# request was a quarter of the listing's CPU samples (py-spy).
_LISTING_IMAGE = aliased(ProductImage, name="listing_image")
_LISTING_FILE = aliased(File, name="listing_file")


def images_json(
    dialect: str, product_id: ColumnElement[Any] | InstrumentedAttribute[Any]
) -> ColumnElement[Any]:
    """The images of the product ``product_id`` names, as one JSON array column of the listing's
    page query, so the listing stays at three statements whatever the page size
    (:func:`decode_images` reads it back)."""
    image, file = _LISTING_IMAGE, _LISTING_FILE
    pairs: list[Any] = []
    for name, column in (
        ("id", image.id),
        ("position", image.position),
        ("alt_text", image.alt_text),
        ("file_status", file.status),
        ("storage_key", file.storage_key),
    ):
        pairs += [literal(name), column]
    if dialect == "postgresql":
        obj = func.json_build_object(*pairs, literal("variants"), file.variants)
        aggregate: Any = func.coalesce(func.json_agg(obj), literal_column("'[]'::json"))
    else:
        obj = func.json_object(*pairs, literal("variants"), func.json(file.variants))
        aggregate = func.json_group_array(obj)
    return (
        select(aggregate)
        .select_from(image)
        .join(file, file.id == image.file_id)
        .where(image.product_id == product_id)
        .scalar_subquery()
    )


def decode_images(product_id: uuid.UUID, raw: Any) -> list[ImageRow]:
    items = json.loads(raw) if isinstance(raw, str | bytes) else (raw or [])
    return [
        ImageRow(
            id=uuid.UUID(str(item["id"])),
            product_id=product_id,
            position=int(item["position"]),
            alt_text=item["alt_text"],
            file_status=item["file_status"],
            storage_key=item["storage_key"],
            variants=item["variants"],
        )
        for item in items
    ]


async def vendor_image(
    db: AsyncSession, vendor_id: uuid.UUID, product_id: uuid.UUID, image_id: uuid.UUID
) -> ProductImage | None:
    query = select(ProductImage).where(
        ProductImage.vendor_id == vendor_id,
        ProductImage.product_id == product_id,
        ProductImage.id == image_id,
    )
    return (await db.scalars(query)).first()


async def image_by_source(
    db: AsyncSession, vendor_id: uuid.UUID, product_id: uuid.UUID, source_url: str
) -> ProductImage | None:
    query = select(ProductImage).where(
        ProductImage.vendor_id == vendor_id,
        ProductImage.product_id == product_id,
        ProductImage.source_url == source_url,
    )
    return (await db.scalars(query)).first()


async def count_images(db: AsyncSession, vendor_id: uuid.UUID, product_id: uuid.UUID) -> int:
    query = select(func.count()).where(
        ProductImage.vendor_id == vendor_id, ProductImage.product_id == product_id
    )
    return int((await db.execute(query)).scalar_one())


async def update_image(
    db: AsyncSession, vendor_id: uuid.UUID, image_id: uuid.UUID, values: dict[str, Any]
) -> None:
    await db.execute(
        update(ProductImage)
        .where(ProductImage.vendor_id == vendor_id, ProductImage.id == image_id)
        .values(**values, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def delete_image(db: AsyncSession, vendor_id: uuid.UUID, image_id: uuid.UUID) -> None:
    await db.execute(
        delete(ProductImage)
        .where(ProductImage.vendor_id == vendor_id, ProductImage.id == image_id)
        .execution_options(synchronize_session=False)
    )
