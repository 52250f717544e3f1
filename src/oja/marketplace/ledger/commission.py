"""Splitting a store order between the store and the platform, to the kobo.

Each line's commission is ``line_total × percent + fixed`` under the most specific rule for the
line (store + category, store, category, then the platform default). The rounding rule: the exact
commission of the order is a fraction; the platform takes it rounded **up** to a whole minor unit
(the platform absorbs the remainder kobo), never more than the order's total, and the store gets
the rest — so store share + commission = what the buyer paid, always. Per line, commissions are
the differences of the rounded running total, so they also add up exactly to the order's.

**A reversal** (a refund, or a dispute frozen or lost) of part of an order splits what it takes
into the store's part, the commission given back and the fee the store bore given back, always on
the running totals of the order (``R`` reversed so far, ``r_i`` of each line ``i``), with the
exact proportional values ``x = Σ commission_i × r_i ÷ line_total_i`` (each line at its own rate)
and ``y = fee × R ÷ order total``:

* the fee given back in all is ``⌈y⌉`` (:func:`returned_fee`);
* the commission given back in all is ``max(what was given back before, ⌈x + y⌉ − ⌈y⌉)``
  (:func:`reversed_commission`), never more than the commission booked;
* the store's part is the rest: ``R −`` both. So the store's part in all is at most
  ``⌊R − x − y⌋``, its proportional share rounded down — the platform absorbs the remainder kobo
  — and a full reversal ends exact (fee, commission and store share each given back whole). Each
  single reversal's three parts are ≥ 0 and add up to its amount: the fee part is at most the
  amount, the commission never goes down, and ``⌊R − x − y⌋`` never does either (as long as
  every line's commission rate plus the fee's rate is at most 1: the store keeps something of
  each line).

Paystack keeps its transaction fee on a refund ("our transaction charges are non-refundable",
support.paystack.com/en/articles/2127106), so the part of it the store bore comes back to it from
the platform, as its own ``provider_fees`` expense — the same rule as a lost dispute. A store
whose sale is fully refunded ends where it would be had the sale never happened.

**Apportioning** an amount over several store orders (a partial chargeback over a group) is by
largest remainder in minor units: each order gets ``amount × weight ÷ Σ weights`` rounded down,
then the kobo left go one each to the largest remainders, ties to the earlier order; the parts add
up to the amount exactly and none exceeds its weight.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
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


def _ceil(value: Fraction) -> int:
    return -((-value.numerator) // value.denominator)


def split(lines: Sequence[SplitLine]) -> dict[uuid.UUID, int]:
    """Each line's commission (minor units), adding up to the order's rounded-up commission."""
    exact = Fraction(0)
    booked = 0
    out: dict[uuid.UUID, int] = {}
    for line in lines:
        exact += Fraction(line.line_total * line.rate.percent_bps, BPS) + line.rate.fixed
        running = _ceil(exact)
        share = max(0, min(running - booked, line.line_total))
        out[line.line_id] = share
        booked += share
    return out


def reversed_commission(
    lines: Iterable[tuple[int, int, int]],
    fee: int,
    total: int,
    refunded: int,
    given_back: int,
) -> int:
    """The commission given back in all once ``refunded`` of an order of ``total`` (its ``fee``
    borne by the store) is reversed, its ``lines`` (line total, commission, refunded of it) as
    given, after ``given_back`` before it (the rule: see the module)."""
    exact = Fraction(0)
    booked = 0
    for line_total, line_commission, line_refunded in lines:
        booked += line_commission
        if line_total > 0:
            share = min(max(line_refunded, 0), line_total)
            exact += Fraction(line_commission * share, line_total)
    if total > 0 and fee > 0:
        exact += Fraction(fee * min(max(refunded, 0), total), total)
    target = _ceil(exact) - returned_fee(fee, total, refunded)
    return max(given_back, min(target, booked))


def returned_fee(fee: int, total: int, refunded: int) -> int:
    """What of the ``fee`` a store bore on an order of ``total`` comes back once ``refunded`` of
    it was reversed, rounded up (cumulative; the difference of two calls is one reversal's part)."""
    if total <= 0 or fee <= 0:
        return 0
    return _ceil(Fraction(fee * min(max(refunded, 0), total), total))


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
