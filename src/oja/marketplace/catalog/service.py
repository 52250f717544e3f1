"""Product rules: create with variants (or one default variant), edit, archive, variants, the
public listing and product pages, and the price history.

Every price a variant takes is a ``price_change`` row (its first, with no old price, at
creation). Stock is set only at creation here (recorded as a movement) and through the inventory
service afterwards.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from pydantic import TypeAdapter
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.cache import Cache
from oja.core.clock import utcnow
from oja.core.errors import is_unavailable
from oja.core.ids import uuid7
from oja.core.pagination import Page, PageParams
from oja.marketplace.catalog import categories, images, repository
from oja.marketplace.catalog.models import PriceChange, Product, ProductStatus, ProductVariant
from oja.marketplace.catalog.repository import ProductRow, VariantRow
from oja.marketplace.catalog.schemas import (
    PriceChangeOut,
    ProductCreate,
    ProductImageOut,
    ProductOut,
    ProductUpdate,
    VariantCreate,
    VariantIn,
    VariantOut,
    VariantUpdate,
    stock_status,
)
from oja.marketplace.errors import (
    CurrencyMismatch,
    LastVariant,
    ProductNotFound,
    SkuTaken,
    VariantNotFound,
)
from oja.marketplace.inventory import repository as inventory_repository
from oja.marketplace.plans import service as plans
from oja.marketplace.pricing import repository as pricing_repository
from oja.marketplace.pricing.prices import DiscountTerms, PricedItem, Quote, effective_price
from oja.marketplace.search import service as search
from oja.marketplace.slugs import parse_id
from oja.marketplace.vendors.service import VendorContext


@dataclass(frozen=True)
class Pricing:
    """What prices a product's variants: the live discounts of its store and its categories."""

    discounts: Sequence[DiscountTerms]
    category_path: str | None
    now: datetime


NO_DISCOUNTS = Pricing((), None, datetime.min.replace(tzinfo=UTC))
_PRODUCT = TypeAdapter(ProductOut)
_PRODUCT_PAGE = TypeAdapter(Page[ProductOut])


def _category_ids(path: str | None) -> frozenset[uuid.UUID]:
    if not path:
        return frozenset()
    return frozenset(uuid.UUID(part) for part in path.strip("/").split("/") if part)


ProductFields = Product | ProductRow
"""What a product answer shows: an ORM product (the store's own reads) or a plain row (the public
reads)."""
VariantFields = ProductVariant | VariantRow


def _quote(
    product: ProductFields,
    variant: VariantFields,
    pricing: Pricing,
    category_ids: frozenset[uuid.UUID] | None = None,
) -> Quote:
    item = PricedItem(
        vendor_id=product.vendor_id,
        product_id=product.id,
        category_ids=_category_ids(pricing.category_path) if category_ids is None else category_ids,
        price=variant.price,
        currency=variant.currency,
    )
    return effective_price(item, pricing.discounts, pricing.now)


def _variant_fields(variant: VariantFields, quote: Quote | None) -> dict[str, Any]:
    """A :class:`VariantOut` as a dict of its fields, to be validated once with its page."""
    return {
        "id": variant.id,
        "sku": variant.sku,
        "options": variant.options,
        "price": variant.price,
        "effective_price": quote.effective_price if quote else variant.price,
        "discount": {"ids": list(quote.discount_ids), "amount": quote.saving}
        if quote and quote.discount_ids
        else None,
        "currency": variant.currency,
        "compare_at_price": variant.compare_at_price,
        "stock": variant.stock,
        "low_stock_threshold": variant.low_stock_threshold,
        "stock_status": stock_status(variant.stock, variant.low_stock_threshold),
        "weight_grams": variant.weight_grams,
    }


def variant_out(variant: VariantFields, quote: Quote | None = None) -> VariantOut:
    return VariantOut.model_validate(_variant_fields(variant, quote))


def product_fields(
    product: ProductFields,
    variants: Sequence[VariantFields],
    pricing: Pricing = NO_DISCOUNTS,
    product_images: Sequence[ProductImageOut] = (),
) -> dict[str, Any]:
    """A :class:`ProductOut` as a dict of its fields: the public reads validate and serialise a
    whole answer of these once, instead of building a model per product and variant that the
    framework dumps, validates and dumps again. Each variant is priced by the one pricing
    function; the product's category ancestry is parsed once for all of them."""
    category_ids = _category_ids(pricing.category_path)
    priced = [_variant_fields(v, _quote(product, v, pricing, category_ids)) for v in variants]
    cheapest = min(priced, key=lambda v: v["price"]) if priced else None
    return {
        "id": product.id,
        "vendor_id": product.vendor_id,
        "title": product.title,
        "description": product.description,
        "category_id": product.category_id,
        "attributes": product.attributes,
        "status": product.status,
        "price": cheapest["price"] if cheapest else 0,
        "effective_price": min(v["effective_price"] for v in priced) if priced else 0,
        "currency": cheapest["currency"] if cheapest else "NGN",
        "in_stock": any(v.stock > 0 for v in variants),
        "variants": priced,
        "images": list(product_images),
        "created_at": product.created_at,
        "updated_at": product.updated_at,
    }


def product_out(
    product: ProductFields,
    variants: Sequence[VariantFields],
    pricing: Pricing = NO_DISCOUNTS,
    product_images: Sequence[ProductImageOut] = (),
) -> ProductOut:
    return ProductOut.model_validate(product_fields(product, variants, pricing, product_images))


async def _pricing(db: AsyncSession, product: ProductFields) -> Pricing:
    now = utcnow()
    return Pricing(
        discounts=await pricing_repository.live_discount_terms(db, [product.vendor_id], now),
        category_path=await repository.category_path(db, product.category_id),
        now=now,
    )


async def _check_skus(
    db: AsyncSession, vendor_id: uuid.UUID, skus: list[str], *, except_id: uuid.UUID | None = None
) -> None:
    taken = await repository.skus_taken(db, vendor_id, skus, except_id=except_id)
    if taken:
        raise SkuTaken(
            f"SKU already used in your store: {', '.join(taken)}.", details={"skus": taken}
        )


async def _flush(db: AsyncSession) -> None:
    try:
        await db.flush()
    except IntegrityError as exc:  # a concurrent request took the SKU first
        raise SkuTaken("A SKU is already used in your store.") from exc


def _add_variant(
    db: AsyncSession, ctx: VendorContext, product_id: uuid.UUID, data: VariantIn
) -> ProductVariant:
    variant = ProductVariant(
        id=uuid7(),
        vendor_id=ctx.vendor_id,
        product_id=product_id,
        sku=data.sku,
        options=data.options,
        price=data.price,
        currency=data.currency,
        compare_at_price=data.compare_at_price,
        stock=data.stock,
        low_stock_threshold=data.low_stock_threshold,
        weight_grams=data.weight_grams,
    )
    db.add(variant)
    return variant


def _record_initial(db: AsyncSession, ctx: VendorContext, variant: ProductVariant) -> None:
    """The variant's first price and stock, once its row exists (no relationship orders the
    inserts of one flush, so these are added after the variant's)."""
    db.add(
        PriceChange(
            vendor_id=ctx.vendor_id,
            product_id=variant.product_id,
            variant_id=variant.id,
            actor_id=ctx.user_id,
            old_price=None,
            new_price=variant.price,
            old_compare_at_price=None,
            new_compare_at_price=variant.compare_at_price,
            currency=variant.currency,
        )
    )
    if variant.stock:
        inventory_repository.record_movement(
            db,
            vendor_id=ctx.vendor_id,
            variant_id=variant.id,
            actor_id=ctx.user_id,
            reason="initial stock",
            before=0,
            after=variant.stock,
        )


async def _changed(db: AsyncSession, ctx: VendorContext, product_id: uuid.UUID) -> None:
    """Every product or variant write ends here: the product's search row follows in this same
    unit of work (called, not signalled: the index is right at commit, with no job to lose)."""
    await search.index_products(db, ctx.vendor_id, [product_id])


async def create_product(db: AsyncSession, ctx: VendorContext, data: ProductCreate) -> ProductOut:
    if data.category_id is not None:
        await categories.exists(db, data.category_id)
    variants_in = data.all_variants()
    await _check_skus(db, ctx.vendor_id, [v.sku for v in variants_in])
    product = Product(
        id=uuid7(),
        vendor_id=ctx.vendor_id,
        title=data.title,
        description=data.description,
        category_id=data.category_id,
        attributes=data.attributes,
        status=data.status,
    )
    db.add(product)
    await db.flush()  # the product row first: its variants refer to it
    variants = [_add_variant(db, ctx, product.id, v) for v in variants_in]
    await _flush(db)
    for variant in variants:
        _record_initial(db, ctx, variant)
    await db.flush()
    await _changed(db, ctx, product.id)
    return product_out(product, variants, await _pricing(db, product))


async def _own_product(db: AsyncSession, ctx: VendorContext, product_id: uuid.UUID) -> Product:
    product = await repository.vendor_product(db, ctx.vendor_id, product_id)
    if product is None:
        raise ProductNotFound("No such product.")
    return product


async def _own_out(db: AsyncSession, ctx: VendorContext, product: Product) -> ProductOut:
    variants = await repository.vendor_variants(db, ctx.vendor_id, [product.id])
    shown = await images.images_out(await repository.vendor_images(db, ctx.vendor_id, [product.id]))
    return product_out(product, variants, await _pricing(db, product), shown[product.id])


@dataclass(frozen=True)
class ProductAnswer:
    """A product page: the JSON body of its :class:`ProductOut`, with what the route needs to
    know of it."""

    id: uuid.UUID
    status: str
    body: bytes


async def get_product(
    db: AsyncSession,
    product_id: uuid.UUID,
    viewer: VendorContext | None,
    *,
    visitor_id: uuid.UUID | None = None,
) -> ProductAnswer:
    """``visitor_id``, the signed-in caller, is counted among the store's users (the traffic
    limit); its own staff are not. The public page is one statement on PostgreSQL (the product
    with its images, its variants and its store's live discounts; elsewhere the last two are a
    statement each); the product's category path is its own
    column (kept by triggers, as the listing reads it)."""
    if viewer is not None:
        owned = await repository.vendor_product(db, viewer.vendor_id, product_id)
        if owned is not None:
            out = await _own_out(db, viewer, owned)
            return ProductAnswer(owned.id, owned.status, out.model_dump_json().encode())
    now = utcnow()
    found = await repository.listed_product(db, product_id, now)
    if found is None:
        raise ProductNotFound("No such product.")
    product, extra = found
    if visitor_id is not None:
        await plans.admit(db, product.vendor_id, visitor_id)
    variants = extra.variants
    if variants is None:
        variants = await repository.variants_of_products(db, [product.id])
    discounts = extra.discounts
    if discounts is None:
        discounts = await pricing_repository.live_discount_terms(db, [product.vendor_id], now)
    shown = await images.images_out(extra.images)
    pricing = Pricing(discounts, product.category_path, now)
    fields = product_fields(product, variants, pricing, shown[product.id])
    return ProductAnswer(
        product.id, product.status, _PRODUCT.dump_json(_PRODUCT.validate_python(fields))
    )


async def update_product(
    db: AsyncSession, ctx: VendorContext, product_id: uuid.UUID, data: ProductUpdate
) -> ProductOut:
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    for required in ("title", "attributes", "status"):
        if required in changes and changes[required] is None:
            del changes[required]
    if changes.get("category_id") is not None:
        await categories.exists(db, changes["category_id"])
    return await _change_product(db, ctx, product_id, changes)


async def _change_product(
    db: AsyncSession, ctx: VendorContext, product_id: uuid.UUID, changes: dict[str, Any]
) -> ProductOut:
    product = await repository.update_product(db, ctx.vendor_id, product_id, changes)
    if product is None:
        raise ProductNotFound("No such product.")
    await _changed(db, ctx, product.id)
    return await _own_out(db, ctx, product)


async def archive_product(
    db: AsyncSession, ctx: VendorContext, product_id: uuid.UUID
) -> ProductOut:
    return await _change_product(db, ctx, product_id, {"status": ProductStatus.archived})


async def add_variant(
    db: AsyncSession, ctx: VendorContext, product_id: uuid.UUID, data: VariantCreate
) -> VariantOut:
    product = await _own_product(db, ctx, product_id)
    siblings = await repository.vendor_variants(db, ctx.vendor_id, [product.id])
    if siblings and siblings[0].currency != data.currency:
        raise CurrencyMismatch(
            f"This product is priced in {siblings[0].currency}.",
            details={"currency": siblings[0].currency},
        )
    await _check_skus(db, ctx.vendor_id, [data.sku])
    variant = _add_variant(db, ctx, product.id, data)
    await _flush(db)
    _record_initial(db, ctx, variant)
    await db.flush()
    await _changed(db, ctx, product.id)
    return variant_out(variant, _quote(product, variant, await _pricing(db, product)))


async def _own_variant(
    db: AsyncSession, ctx: VendorContext, product_id: uuid.UUID, variant_id: uuid.UUID
) -> ProductVariant:
    variant = await repository.vendor_variant(db, ctx.vendor_id, product_id, variant_id)
    if variant is None:
        raise VariantNotFound("No such variant of this product.")
    return variant


async def update_variant(
    db: AsyncSession,
    ctx: VendorContext,
    product_id: uuid.UUID,
    variant_id: uuid.UUID,
    data: VariantUpdate,
) -> VariantOut:
    product = await _own_product(db, ctx, product_id)
    variant = await _own_variant(db, ctx, product_id, variant_id)
    changes = data.model_dump(exclude_unset=True)
    for required in ("sku", "options", "price", "currency", "low_stock_threshold"):
        if required in changes and changes[required] is None:
            del changes[required]
    if "currency" in changes and changes["currency"] != variant.currency:
        siblings = await repository.vendor_variants(db, ctx.vendor_id, [product_id])
        if len(siblings) > 1:
            raise CurrencyMismatch(
                f"This product is priced in {variant.currency}.",
                details={"currency": variant.currency},
            )
    if "sku" in changes and changes["sku"] != variant.sku:
        await _check_skus(db, ctx.vendor_id, [changes["sku"]], except_id=variant.id)
    old = (variant.price, variant.compare_at_price, variant.currency)
    try:
        changed = await repository.update_variant(db, ctx.vendor_id, variant.id, changes)
    except IntegrityError as exc:  # a concurrent request took the SKU first
        raise SkuTaken("A SKU is already used in your store.") from exc
    if changed is None:
        raise VariantNotFound("No such variant of this product.")
    variant = changed
    new = (variant.price, variant.compare_at_price, variant.currency)
    if new != old:
        db.add(
            PriceChange(
                vendor_id=ctx.vendor_id,
                product_id=product_id,
                variant_id=variant.id,
                actor_id=ctx.user_id,
                old_price=old[0],
                new_price=new[0],
                old_compare_at_price=old[1],
                new_compare_at_price=new[1],
                currency=new[2],
            )
        )
    await _flush(db)
    await _changed(db, ctx, product.id)
    return variant_out(variant, _quote(product, variant, await _pricing(db, product)))


async def delete_variant(
    db: AsyncSession, ctx: VendorContext, product_id: uuid.UUID, variant_id: uuid.UUID
) -> None:
    variant = await _own_variant(db, ctx, product_id, variant_id)
    if await repository.count_variants(db, ctx.vendor_id, product_id) <= 1:
        raise LastVariant("A product keeps at least one variant; archive the product instead.")
    await repository.delete_variant(db, ctx.vendor_id, variant.id)
    await _changed(db, ctx, product_id)


log = structlog.get_logger("oja.marketplace.catalog")


async def _cached_path(db: AsyncSession, cache: Cache, category: str) -> str | None:
    """The category's path from the cached tree, or None — then the listing looks it up in its own
    statement. The tree is only a shortcut here, so a cache outage costs the better plan, not the
    page (``GET /categories``, which is the tree, still answers 503)."""
    try:
        return await categories.path_of(db, cache, category)
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        log.warning("marketplace.catalog.category_tree_unavailable", error=type(exc).__name__)
        return None


async def list_products(
    db: AsyncSession,
    cache: Cache,
    *,
    category: str | None,
    vendor: str | None,
    min_price: int | None,
    max_price: int | None,
    in_stock: bool | None,
    sort: str,
    paging: PageParams,
) -> bytes:
    """The public listing as the JSON body of a ``Page[ProductOut]``: one statement on PostgreSQL
    (the page with its total, images, variants and stores' live discounts; elsewhere the variants
    and the discounts are a statement each), never N+1, and one validation and
    serialisation of the whole page."""
    # The subtree's path from the cached tree (no statement while it is cached); a category the
    # tree does not hold yet is looked up inside the listing's statement instead.
    path = None if category is None else await _cached_path(db, cache, category)
    now = utcnow()
    products, total = await repository.list_visible(
        db,
        category=None if category is None or path is not None else (parse_id(category), category),
        category_path=path,
        vendor=None if vendor is None else (parse_id(vendor), vendor),
        min_price=min_price,
        max_price=max_price,
        in_stock=in_stock,
        sort=sort,
        paging=paging,
        now=now,
    )
    by_product: dict[uuid.UUID, list[VariantRow]] = defaultdict(list)
    unread = [p.id for p, shown in products if shown.variants is None]
    for variant in await repository.variants_of_products(db, unread):
        by_product[variant.product_id].append(variant)
    # Each store's live discounts once, whether its rows brought them or a statement reads them.
    by_store: dict[uuid.UUID, list[DiscountTerms]] = {}
    for p, shown in products:
        if shown.variants is not None:
            by_product[p.id] = shown.variants
        if shown.discounts is not None:
            by_store.setdefault(p.vendor_id, list(shown.discounts))
    discounts = [d for terms in by_store.values() for d in terms]
    discounts += await pricing_repository.live_discount_terms(
        db,
        list(dict.fromkeys(p.vendor_id for p, _ in products if p.vendor_id not in by_store)),
        now,
    )
    images_of = await images.images_out([row for _, shown in products for row in shown.images])
    items = [
        product_fields(
            p, by_product[p.id], Pricing(discounts, p.category_path, now), images_of[p.id]
        )
        for p, _ in products
    ]
    page = {
        "items": items,
        "total": total,
        "page": paging.page,
        "per_page": paging.per_page,
        "pages": math.ceil(total / paging.per_page),
    }
    return _PRODUCT_PAGE.dump_json(_PRODUCT_PAGE.validate_python(page))


async def price_history(
    db: AsyncSession, product_id: uuid.UUID, viewer: VendorContext | None, paging: PageParams
) -> Page[PriceChangeOut]:
    own = viewer.vendor_id if viewer is not None else None
    product = await repository.visible_product(db, product_id, own_vendor_id=own)
    if product is None:
        raise ProductNotFound("No such product.")
    changes, total = await repository.price_history(db, product.vendor_id, product.id, paging)
    items = [
        PriceChangeOut(
            variant_id=c.variant_id,
            old_price=c.old_price,
            new_price=c.new_price,
            old_compare_at_price=c.old_compare_at_price,
            new_compare_at_price=c.new_compare_at_price,
            currency=c.currency,
            created_at=c.created_at,
        )
        for c in changes
    ]
    return Page[PriceChangeOut].of(items, total=total, params=paging)
