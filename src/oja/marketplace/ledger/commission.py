"""Splitting a store order between the store and the platform, to the kobo.

Each line's commission is ``line_total × percent + fixed`` under the most specific rule for the
line (store + category, store, category, then the platform default). The rounding rule: the exact
commission of the order is a fraction; the platform takes it rounded **up** to a whole minor unit
(the platform absorbs the remainder kobo), never more than the order's total, and the store gets
the rest — so store share + commission = what the buyer paid, always. Per line, commissions are
the differences of the rounded running total, so they also add up exactly to the order's.

A refund of part of a line reverses ``commission × refunded ÷ line_total`` of it, rounded down on
the running total refunded: a full refund reverses exactly the commission booked, never more.

**The fee a store bore** (``OJA_MARKETPLACE_FEE_BEARER=vendor``) is given back to it in proportion
to what of its order is refunded (``fee × refunded ÷ order total``, rounded down on the running
total, so a full refund gives back exactly the fee it bore): Paystack keeps its transaction fee on a
refund ("our transaction charges are non-refundable", support.paystack.com/en/articles/2127106), so
the platform absorbs it as its own ``provider_fees`` expense — the same rule as a lost dispute. A
store whose sale is fully refunded ends where it would be had the sale never happened.

**Apportioning** an amount over several store orders (a partial chargeback over a group) is by
largest remainder in minor units: each order gets ``amount × weight ÷ Σ weights`` rounded down,
then the kobo left go one each to the largest remainders, ties to the earlier order; the parts add
up to the amount exactly and none exceeds its weight.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

BPS = 10_000


@dataclass(frozen=True, slots=True)
class Rate:
    percent_bps: int
    fixed: int = 0


@dataclass(frozen=True, slots=True)
class Rules:
    """The overrides that apply to one group's stores, and the platform default."""

    default: Rate
    by_store_category: Mapping[tuple[uuid.UUID, uuid.UUID], Rate]
    by_store: Mapping[uuid.UUID, Rate]
    by_category: Mapping[uuid.UUID, Rate]

    def rate(self, vendor_id: uuid.UUID, category_id: uuid.UUID | None) -> Rate:
        if category_id is not None and (vendor_id, category_id) in self.by_store_category:
            return self.by_store_category[(vendor_id, category_id)]
        if vendor_id in self.by_store:
            return self.by_store[vendor_id]
        if category_id is not None and category_id in self.by_category:
            return self.by_category[category_id]
        return self.default


@dataclass(frozen=True, slots=True)
class SplitLine:
    line_id: uuid.UUID
    line_total: int
    rate: Rate


def split(lines: Sequence[SplitLine]) -> dict[uuid.UUID, int]:
    """Each line's commission (minor units), adding up to the order's rounded-up commission."""
    exact = Fraction(0)
    booked = 0
    out: dict[uuid.UUID, int] = {}
    for line in lines:
        exact += Fraction(line.line_total * line.rate.percent_bps, BPS) + line.rate.fixed
        running = -((-exact.numerator) // exact.denominator)  # ceil
        share = max(0, min(running - booked, line.line_total))
        out[line.line_id] = share
        booked += share
    return out


def reversed_commission(commission: int, line_total: int, refunded_before: int, amount: int) -> int:
    """The commission to give back when ``amount`` more of a line is refunded."""
    if line_total <= 0:
        return 0
    after = min(line_total, refunded_before + amount)
    return commission * after // line_total - commission * refunded_before // line_total


def returned_fee(fee: int, total: int, refunded: int) -> int:
    """What of the ``fee`` a store bore on an order of ``total`` comes back once ``refunded`` of
    it was refunded (cumulative; the difference of two calls is one refund's part)."""
    if total <= 0 or fee <= 0:
        return 0
    return fee * min(max(refunded, 0), total) // total


def apportion(amount: int, weights: Sequence[int]) -> list[int]:
    """``amount`` (at most Σ ``weights``) split by largest remainder; parts in ``weights`` order."""
    whole = sum(max(w, 0) for w in weights)
    if whole <= 0 or amount <= 0:
        return [0 for _ in weights]
    amount = min(amount, whole)
    parts = [amount * max(w, 0) // whole for w in weights]
    remainders = [amount * max(w, 0) % whole for w in weights]
    left = amount - sum(parts)
    for i in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left]:
        parts[i] += 1
    return parts
