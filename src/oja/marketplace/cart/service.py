"""Cart rules: one line per variant, one currency per cart, every line priced now.

A line's price is the catalogue's one pricing function
(:func:`oja.marketplace.pricing.prices.effective_price`) applied to the discounts running now, the
same figure checkout charges. Flags say what changed since the line was added: the unit price
(``price_changed``, against ``price_seen``), the stock (``stock_changed``: less left than wanted;
``out_of_stock``), or the product itself (``unavailable``: no longer active, or its store no longer
approved — such lines are left out of the totals). Stock is not required when adding; checkout
reserves it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.marketplace.cart import repository
from oja.marketplace.cart.models import CartItem
from oja.marketplace.cart.repository import CartRow
from oja.marketplace.cart.schemas import (
    CartChanges,
    CartItemAdd,
    CartItemUpdate,
    CartLine,
    CartOut,
    CartStore,
    CartVendor,
)
from oja.marketplace.catalog.models import Product, ProductStatus, ProductVariant
from oja.marketplace.errors import CartCurrencyMismatch, CartItemNotFound, VariantNotFound
from oja.marketplace.plans import service as plans
from oja.marketplace.pricing import repository as pricing_repository
from oja.marketplace.pricing.models import Discount
from oja.marketplace.pricing.prices import PricedItem, Quote, effective_price
from oja.marketplace.recommendations import recorder
from oja.marketplace.recommendations.models import BehaviourKind
from oja.marketplace.vendors.models import Vendor, VendorStatus


@dataclass(frozen=True)
class PricedLine:
    item: CartItem
    variant: ProductVariant
    product: Product
    vendor: Vendor
    quote: Quote
    applied: tuple[Discount, ...] = ()
    """The discounts in ``quote``."""

    @property
    def available(self) -> bool:
        return self.product.status == ProductStatus.active and (
            self.vendor.status == VendorStatus.approved
        )

    @property
    def unit_discount(self) -> int:
        return self.quote.saving

    @property
    def line_total(self) -> int:
        return self.item.quantity * self.quote.effective_price


def category_ids(path: str | None) -> frozenset[uuid.UUID]:
    return frozenset(uuid.UUID(part) for part in (path or "").strip("/").split("/") if part)


def quote(
    variant: ProductVariant,
    product: Product,
    path: str | None,
    discounts: Sequence[Discount],
    now: datetime,
    *,
    code: str | None = None,
) -> Quote:
    item = PricedItem(
        vendor_id=product.vendor_id,
        product_id=product.id,
        category_ids=category_ids(path),
        price=variant.price,
        currency=variant.currency,
    )
    return effective_price(item, discounts, now, code)


async def priced_lines(
    db: AsyncSession, rows: Sequence[CartRow], now: datetime, code: str | None = None
) -> list[PricedLine]:
    """Every line priced at ``now`` (one statement for the discounts of all the stores)."""
    vendor_ids = sorted({vendor.id for _, _, _, vendor, _ in rows})
    discounts = await pricing_repository.live_discounts(db, vendor_ids, now, code)
    by_id = {d.id: d for d in discounts}
    priced = []
    for item, variant, product, vendor, path in rows:
        found = quote(variant, product, path, discounts, now, code=code)
        applied = tuple(by_id[i] for i in found.discount_ids)
        priced.append(PricedLine(item, variant, product, vendor, found, applied))
    return priced


def cart_out(lines: Sequence[PricedLine]) -> CartOut:
    stores: dict[uuid.UUID, CartStore] = {}
    changes = CartChanges(price_changed=[], stock_changed=[], out_of_stock=[], unavailable=[])
    for line in lines:
        item, variant = line.item, line.variant
        out = CartLine(
            id=item.id,
            variant_id=variant.id,
            product_id=line.product.id,
            title=line.product.title,
            sku=variant.sku,
            options=variant.options,
            quantity=item.quantity,
            unit_price=variant.price,
            unit_discount=line.unit_discount,
            line_total=line.line_total,
            currency=variant.currency,
            discount_ids=list(line.quote.discount_ids),
            price_seen=item.price_seen,
            price_changed=line.quote.effective_price != item.price_seen,
            stock=variant.stock,
            stock_changed=0 < variant.stock < item.quantity,
            out_of_stock=variant.stock == 0,
            unavailable=not line.available,
            added_at=item.added_at,
        )
        for flag in ("price_changed", "stock_changed", "out_of_stock", "unavailable"):
            if getattr(out, flag):
                getattr(changes, flag).append(item.id)
        store = stores.get(line.vendor.id)
        if store is None:
            vendor = CartVendor(id=line.vendor.id, name=line.vendor.name, slug=line.vendor.slug)
            store = stores[line.vendor.id] = CartStore(
                vendor=vendor, lines=[], subtotal=0, discount_total=0, total=0
            )
        store.lines.append(out)
        if line.available:
            store.subtotal += item.quantity * variant.price
            store.discount_total += item.quantity * line.unit_discount
            store.total += line.line_total
    return CartOut(
        stores=list(stores.values()),
        subtotal=sum(s.subtotal for s in stores.values()),
        discount_total=sum(s.discount_total for s in stores.values()),
        total=sum(s.total for s in stores.values()),
        currency=lines[0].variant.currency if lines else None,
        item_count=sum(line.item.quantity for line in lines),
        changes=changes,
    )


async def view(db: AsyncSession, buyer_id: uuid.UUID) -> CartOut:
    """The cart priced now: two statements whatever its size."""
    rows = await repository.lines(db, buyer_id)
    if not rows:
        return cart_out([])
    return cart_out(await priced_lines(db, rows, utcnow()))


async def add(db: AsyncSession, buyer_id: uuid.UUID, data: CartItemAdd) -> CartOut:
    found = await repository.variant(db, data.variant_id)
    if found is None:
        raise VariantNotFound("No such variant on sale.")
    variant, product, vendor, path = found
    if product.status != ProductStatus.active or vendor.status != VendorStatus.approved:
        raise VariantNotFound("No such variant on sale.")
    await plans.admit(db, vendor.id, buyer_id)
    other = await repository.other_currency(db, buyer_id, variant.id, variant.currency)
    if other is not None:
        raise CartCurrencyMismatch(
            f"Your cart is in {other}; this variant is priced in {variant.currency}.",
            details={"cart_currency": other, "currency": variant.currency},
        )
    now = utcnow()
    discounts = await pricing_repository.live_discounts(db, [vendor.id], now)
    price = quote(variant, product, path, discounts, now).effective_price
    await repository.add(
        db,
        buyer_id,
        variant.id,
        quantity=data.quantity,
        price_seen=price,
        currency=variant.currency,
    )
    recorder.record(db, BehaviourKind.cart, str(buyer_id), product.id)
    return await view(db, buyer_id)


async def update(
    db: AsyncSession, buyer_id: uuid.UUID, item_id: uuid.UUID, data: CartItemUpdate
) -> CartOut:
    if data.quantity == 0:
        return await remove(db, buyer_id, item_id)
    if not await repository.set_quantity(db, buyer_id, item_id, data.quantity):
        raise CartItemNotFound("No such line in your cart.")
    return await view(db, buyer_id)


async def remove(db: AsyncSession, buyer_id: uuid.UUID, item_id: uuid.UUID) -> CartOut:
    if not await repository.remove(db, buyer_id, item_id):
        raise CartItemNotFound("No such line in your cart.")
    return await view(db, buyer_id)
