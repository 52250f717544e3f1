"""Cart rules: one line per variant, one currency per cart, every line priced now.

A line's price is the catalogue's one pricing function
(:func:`oja.marketplace.pricing.prices.effective_price`) applied to the discounts running now, the
same figure checkout charges. Flags say what changed since the line was added: the unit price
(``price_changed``, against ``price_seen``), the stock (``stock_changed``: less left than wanted;
``out_of_stock``), or the product itself (``unavailable``: no longer active, or its store no longer
approved — such lines are left out of the totals). Stock is not required when adding; checkout
reserves it.

The cart's paths read plain columns (:class:`~oja.marketplace.cart.repository.Line`), never ORM
entities, and price each line once: adding a line reads the cart and the discounts of its stores
once, and answers the cart from those rows and the line the upsert returned.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.marketplace.cart import repository
from oja.marketplace.cart.repository import Line, Offer
from oja.marketplace.cart.schemas import (
    CartChanges,
    CartItemAdd,
    CartItemUpdate,
    CartLine,
    CartOut,
    CartStore,
    CartVendor,
)
from oja.marketplace.errors import CartCurrencyMismatch, CartItemNotFound, VariantNotFound
from oja.marketplace.plans import service as plans
from oja.marketplace.pricing import repository as pricing_repository
from oja.marketplace.pricing.prices import DiscountTerms, PricedItem, Quote, effective_price
from oja.marketplace.recommendations import recorder
from oja.marketplace.recommendations.models import BehaviourKind


@dataclass(frozen=True, slots=True)
class PricedLine:
    line: Line
    quote: Quote
    applied: tuple[DiscountTerms, ...] = ()
    """The discounts in ``quote``."""

    @property
    def offer(self) -> Offer:
        return self.line.offer

    @property
    def available(self) -> bool:
        return self.line.offer.on_sale

    @property
    def unit_discount(self) -> int:
        return self.quote.saving

    @property
    def line_total(self) -> int:
        return self.line.quantity * self.quote.effective_price


def category_ids(path: str | None) -> frozenset[uuid.UUID]:
    return frozenset(uuid.UUID(part) for part in (path or "").strip("/").split("/") if part)


def quote(
    offer: Offer, discounts: Sequence[DiscountTerms], now: datetime, *, code: str | None = None
) -> Quote:
    if not discounts:  # the common case: nothing to match, no path to parse
        return Quote(offer.price, offer.price, ())
    item = PricedItem(
        vendor_id=offer.vendor_id,
        product_id=offer.product_id,
        category_ids=category_ids(offer.category_path),
        price=offer.price,
        currency=offer.currency,
    )
    return effective_price(item, discounts, now, code)


def price(
    lines: Sequence[Line],
    discounts: Sequence[DiscountTerms],
    now: datetime,
    code: str | None = None,
) -> list[PricedLine]:
    """Every line priced at ``now`` with ``discounts`` (those of the lines' stores)."""
    by_id = {d.id: d for d in discounts}
    priced = []
    for line in lines:
        by_store = [d for d in discounts if d.vendor_id == line.offer.vendor_id]
        found = quote(line.offer, by_store, now, code=code)
        priced.append(PricedLine(line, found, tuple(by_id[i] for i in found.discount_ids)))
    return priced


def vendor_ids(lines: Sequence[Line]) -> list[uuid.UUID]:
    return sorted({line.offer.vendor_id for line in lines})


async def priced_view(db: AsyncSession, lines: Sequence[Line], now: datetime) -> CartOut:
    """The cart of ``lines`` priced at ``now`` (one statement: the stores' live discounts)."""
    if not lines:
        return cart_out([])
    discounts = await pricing_repository.live_discount_terms(db, vendor_ids(lines), now)
    return cart_out(price(lines, discounts, now))


_FLAGS = ("price_changed", "stock_changed", "out_of_stock", "unavailable")


def cart_out(lines: Sequence[PricedLine]) -> CartOut:
    # Built with model_construct: every value comes typed from the database or from sums here,
    # and the route's response_model still serialises the answer.
    stores: dict[uuid.UUID, CartStore] = {}
    flagged: dict[str, list[uuid.UUID]] = {flag: [] for flag in _FLAGS}
    subtotal = discount_total = total = item_count = 0
    for priced in lines:
        line, offer = priced.line, priced.line.offer
        unit_discount, line_total = priced.unit_discount, priced.line_total
        price_changed = priced.quote.effective_price != line.price_seen
        stock_changed = 0 < offer.stock < line.quantity
        out_of_stock = offer.stock == 0
        unavailable = not offer.on_sale
        raised = (price_changed, stock_changed, out_of_stock, unavailable)
        for flag, on in zip(_FLAGS, raised, strict=True):
            if on:
                flagged[flag].append(line.id)
        out = CartLine.model_construct(
            id=line.id,
            variant_id=offer.variant_id,
            product_id=offer.product_id,
            title=offer.title,
            sku=offer.sku,
            options=offer.options,
            quantity=line.quantity,
            unit_price=offer.price,
            unit_discount=unit_discount,
            line_total=line_total,
            currency=offer.currency,
            discount_ids=list(priced.quote.discount_ids),
            price_seen=line.price_seen,
            stock=offer.stock,
            price_changed=price_changed,
            stock_changed=stock_changed,
            out_of_stock=out_of_stock,
            unavailable=unavailable,
            added_at=line.added_at,
        )
        store = stores.get(offer.vendor_id)
        if store is None:
            vendor = CartVendor.model_construct(
                id=offer.vendor_id, name=offer.vendor_name, slug=offer.vendor_slug
            )
            store = stores[offer.vendor_id] = CartStore.model_construct(
                vendor=vendor, lines=[], subtotal=0, discount_total=0, total=0
            )
        store.lines.append(out)
        item_count += line.quantity
        if offer.on_sale:
            store.subtotal += line.quantity * offer.price
            store.discount_total += line.quantity * unit_discount
            store.total += line_total
    for store in stores.values():
        subtotal += store.subtotal
        discount_total += store.discount_total
        total += store.total
    return CartOut.model_construct(
        stores=list(stores.values()),
        subtotal=subtotal,
        discount_total=discount_total,
        total=total,
        currency=lines[0].offer.currency if lines else None,
        item_count=item_count,
        changes=CartChanges.model_construct(
            price_changed=flagged["price_changed"],
            stock_changed=flagged["stock_changed"],
            out_of_stock=flagged["out_of_stock"],
            unavailable=flagged["unavailable"],
        ),
    )


async def view(db: AsyncSession, buyer_id: uuid.UUID) -> CartOut:
    """The cart priced now: two statements whatever its size."""
    return await priced_view(db, await repository.lines(db, buyer_id), utcnow())


async def add(db: AsyncSession, buyer_id: uuid.UUID, data: CartItemAdd) -> CartOut:
    """Add a line, answering the cart: three statements (the cart with the offer, the discounts
    of its stores, the upsert) besides the store's admission and the behaviour row."""
    lines, offer = await repository.cart_and_offer(db, buyer_id, data.variant_id)
    if offer is None or not offer.on_sale:
        raise VariantNotFound("No such variant on sale.")
    await plans.admit(db, offer.vendor_id, buyer_id)
    others = [line for line in lines if line.offer.variant_id != offer.variant_id]
    other = next((line.currency for line in others if line.currency != offer.currency), None)
    if other is not None:
        raise CartCurrencyMismatch(
            f"Your cart is in {other}; this variant is priced in {offer.currency}.",
            details={"cart_currency": other, "currency": offer.currency},
        )
    now = utcnow()
    stores = sorted({offer.vendor_id, *vendor_ids(lines)})
    discounts = await pricing_repository.live_discount_terms(db, stores, now)
    (added,) = price([Line(offer.variant_id, 0, 0, offer.currency, now, offer)], discounts, now)
    price_seen = added.quote.effective_price
    line_id, quantity, added_at = await repository.add(
        db,
        buyer_id,
        offer.variant_id,
        quantity=data.quantity,
        price_seen=price_seen,
        currency=offer.currency,
    )
    recorder.record(db, BehaviourKind.cart, str(buyer_id), offer.product_id)
    line = Line(line_id, quantity, price_seen, offer.currency, added_at, offer)
    after = sorted([*others, line], key=lambda ln: (ln.added_at, ln.id))
    return cart_out(price(after, discounts, now))


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
