"""Counting a store's daily figures from the raw order, ledger and behaviour rows.

:func:`count_days` is the one place figures are defined; the rollup job stores what it counts for
closed days, and a report counts today (and any day in a zone other than the rollups') with it
live. Every event is counted on the local calendar day it happened (see :mod:`.models`).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.marketplace.reports import repository


@dataclass(slots=True)
class Figures:
    """One store's figures in one currency over some days; money in minor units."""

    gross_sales: int = 0
    discounts: int = 0
    refunds: int = 0
    commission: int = 0
    orders: int = 0
    units: int = 0
    canceled: int = 0
    returned: int = 0
    returned_units: int = 0

    def add(self, other: Figures) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_row(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


FIGURE_NAMES = tuple(f.name for f in fields(Figures))

SalesKey = tuple[uuid.UUID, date, str]
"""(store, day, currency)."""
ProductKey = tuple[uuid.UUID, date, str, uuid.UUID]
"""(store, day, currency, product)."""


@dataclass(slots=True)
class Days:
    """Counted figures, keyed by store and local day."""

    sales: dict[SalesKey, Figures] = field(default_factory=lambda: defaultdict(Figures))
    products: dict[ProductKey, list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0])
    )
    """→ [units, revenue]."""
    visitors: dict[tuple[uuid.UUID, date], int] = field(default_factory=dict)


def day_bounds(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants from the start of ``first`` to the end of ``last`` in ``zone``."""
    start = datetime.combine(first, time(), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
    return start, end


def local_today(zone: ZoneInfo, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(zone).date()


async def count_days(
    db: AsyncSession, first: date, last: date, zone: ZoneInfo, vendor_id: uuid.UUID | None
) -> Days:
    """Every store's (or one store's) figures on each local day first..last, from the raw rows."""
    start, end = day_bounds(first, last, zone)
    days = Days()

    def on(at: datetime) -> date:
        return at.astimezone(zone).date()

    for vendor, at, currency, total, discount, fee in await repository.sale_rows(
        db, start, end, vendor_id
    ):
        found = days.sales[(vendor, on(at), currency)]
        found.orders += 1
        found.gross_sales += total + discount
        found.discounts += discount
        found.commission += fee
    for vendor, at, currency, product_id, quantity, line_total in await repository.line_rows(
        db, start, end, vendor_id
    ):
        day = on(at)
        days.sales[(vendor, day, currency)].units += quantity
        if product_id is not None:
            product = days.products[(vendor, day, currency, product_id)]
            product[0] += quantity
            product[1] += line_total
    for vendor, at, currency, amount in await repository.refund_rows(db, start, end, vendor_id):
        days.sales[(vendor, on(at), currency)].refunds += amount
    for vendor, at, currency, amount in await repository.commission_refund_rows(
        db, start, end, vendor_id
    ):
        days.sales[(vendor, on(at), currency)].commission -= amount
    for vendor, at, currency in await repository.cancel_rows(db, start, end, vendor_id):
        days.sales[(vendor, on(at), currency)].canceled += 1
    for vendor, at, currency, units in await repository.return_rows(db, start, end, vendor_id):
        found = days.sales[(vendor, on(at), currency)]
        found.returned += 1
        found.returned_units += int(units or 0)
    seen: dict[tuple[uuid.UUID, date], set[str]] = defaultdict(set)
    for vendor, subject, at in await repository.visit_rows(db, start, end, vendor_id):
        seen[(vendor, on(at))].add(subject)
    days.visitors = {key: len(subjects) for key, subjects in seen.items()}
    return days


async def rollup(db: AsyncSession, first: date, last: date, zone: ZoneInfo) -> dict[str, Any]:
    """Recount every store's days first..last and replace their rollup rows (idempotent)."""
    days = await count_days(db, first, last, zone, None)
    now = utcnow()
    sales = [
        {"vendor_id": v, "day": d, "currency": c, "computed_at": now, **figures.as_row()}
        for (v, d, c), figures in days.sales.items()
    ]
    products = [
        {"vendor_id": v, "day": d, "currency": c, "product_id": p, "units": u, "revenue": r}
        for (v, d, c, p), (u, r) in days.products.items()
    ]
    visits = [{"vendor_id": v, "day": d, "visitors": n} for (v, d), n in days.visitors.items()]
    await repository.replace_days(
        db, first=first, last=last, sales=sales, products=products, visits=visits
    )
    return {
        "first": first.isoformat(),
        "last": last.isoformat(),
        "sales_rows": len(sales),
        "product_rows": len(products),
        "visit_rows": len(visits),
    }
