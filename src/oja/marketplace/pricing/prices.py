"""The one pricing function: what a buyer pays for a variant, given the store's discounts.

Rules:

* A discount applies when ``starts_at <= now < ends_at`` (no end: open), it needs no code or the
  buyer gave its code (coded discounts apply at checkout, where the code is given), its usage limit
  is not reached, its
  currency is the variant's (``fixed`` only), and its scope covers the variant: the store, the
  product, or a category that is the product's or one of its ancestors.
* The buyer gets the **best single** discount; two or more are combined only when **every one of
  them is stackable** (then all stackable discounts that apply are summed). The larger saving of
  "best single" and "all stackable together" wins; on a tie, the single discount.
* A percentage saving is rounded **half-up in minor units**: 15 % of 999 kobo is 149.85 → 150;
  12.5 % would round 0.5 up. A saving never exceeds the price: the price never goes below zero.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from oja.marketplace.pricing.models import Discount, DiscountScope, DiscountType


@dataclass(frozen=True, slots=True)
class LiveDiscount:
    """A discount's pricing terms as plain columns: the public catalogue prices with these and
    loads no ORM entity (issue 18)."""

    id: uuid.UUID
    vendor_id: uuid.UUID
    type: str
    value: int
    currency: str
    scope: str
    target_id: uuid.UUID | None
    starts_at: datetime
    ends_at: datetime | None
    code: str | None
    usage_limit: int | None
    used_count: int
    stackable: bool


DiscountTerms = Discount | LiveDiscount
"""What pricing reads of a discount: the ORM row or its plain columns."""


@dataclass(frozen=True)
class PricedItem:
    """What a discount's scope is matched against."""

    vendor_id: uuid.UUID
    product_id: uuid.UUID
    category_ids: frozenset[uuid.UUID]
    """The product's category and its ancestors."""
    price: int
    currency: str


@dataclass(frozen=True)
class Quote:
    price: int
    effective_price: int
    discount_ids: tuple[uuid.UUID, ...]

    @property
    def saving(self) -> int:
        return self.price - self.effective_price


def percent_of(amount: int, percent: int) -> int:
    """``percent`` % of ``amount`` minor units, rounded half-up (both non-negative)."""
    return (amount * percent * 2 + 100) // 200


def saving_of(discount: DiscountTerms, price: int) -> int:
    if discount.type == DiscountType.percentage:
        saving = percent_of(price, discount.value)
    else:
        saving = discount.value
    return min(saving, price)


def applies(
    discount: DiscountTerms, item: PricedItem, now: datetime, code: str | None = None
) -> bool:
    if discount.vendor_id != item.vendor_id or discount.code not in (None, code):
        return False
    if discount.starts_at > now or (discount.ends_at is not None and now >= discount.ends_at):
        return False
    if discount.usage_limit is not None and discount.used_count >= discount.usage_limit:
        return False
    if discount.type == DiscountType.fixed and discount.currency != item.currency:
        return False
    if discount.scope == DiscountScope.store:
        return True
    if discount.scope == DiscountScope.product:
        return discount.target_id == item.product_id
    return discount.target_id in item.category_ids


def effective_price(
    item: PricedItem, discounts: Iterable[DiscountTerms], now: datetime, code: str | None = None
) -> Quote:
    usable: Sequence[DiscountTerms] = [d for d in discounts if applies(d, item, now, code)]
    if not usable:
        return Quote(item.price, item.price, ())
    best = max(usable, key=lambda d: (saving_of(d, item.price), -d.starts_at.timestamp()))
    best_saving = saving_of(best, item.price)
    stackable = [d for d in usable if d.stackable]
    stacked_saving = min(sum(saving_of(d, item.price) for d in stackable), item.price)
    if len(stackable) > 1 and stacked_saving > best_saving:
        ids = tuple(d.id for d in stackable)
        return Quote(item.price, item.price - stacked_saving, ids)
    return Quote(item.price, item.price - best_saving, (best.id,))
