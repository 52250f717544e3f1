"""Counting a store's daily figures from the raw order, ledger and behaviour rows.

:func:`count_days` is the one place figures are defined; the rollup job stores what it counts for
closed days, and a report counts today (and any day in a zone other than the store's rollups') with
it live. Every event is counted on the calendar day it happened in the store's time zone (see
:mod:`.models`); :func:`rollup_stores` runs the job's work zone by zone.
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
    db: AsyncSession, first: date, last: date, zone: ZoneInfo, scope: repository.Scope
) -> Days:
    """The scope's stores' figures on each day first..last of ``zone``, from the raw rows."""
    start, end = day_bounds(first, last, zone)
    days = Days()

    def on(at: datetime) -> date:
        return at.astimezone(zone).date()

    for vendor, at, currency, total, discount, fee in await repository.sale_rows(
        db, start, end, scope
    ):
        found = days.sales[(vendor, on(at), currency)]
        found.orders += 1
        found.gross_sales += total + discount
        found.discounts += discount
        found.commission += fee
    for vendor, at, currency, product_id, quantity, line_total in await repository.line_rows(
        db, start, end, scope
    ):
        day = on(at)
        days.sales[(vendor, day, currency)].units += quantity
        if product_id is not None:
            product = days.products[(vendor, day, currency, product_id)]
            product[0] += quantity
            product[1] += line_total
    for vendor, at, currency, amount in await repository.refund_rows(db, start, end, scope):
        days.sales[(vendor, on(at), currency)].refunds += amount
    for vendor, at, currency, amount in await repository.commission_refund_rows(
        db, start, end, scope
    ):
        days.sales[(vendor, on(at), currency)].commission -= amount
    for vendor, at, currency in await repository.cancel_rows(db, start, end, scope):
        days.sales[(vendor, on(at), currency)].canceled += 1
    for vendor, at, currency, units in await repository.return_rows(db, start, end, scope):
        found = days.sales[(vendor, on(at), currency)]
        found.returned += 1
        found.returned_units += int(units or 0)
    seen: dict[tuple[uuid.UUID, date], set[str]] = defaultdict(set)
    for vendor, subject, at in await repository.visit_rows(db, start, end, scope):
        seen[(vendor, on(at))].add(subject)
    days.visitors = {key: len(subjects) for key, subjects in seen.items()}
    return days


async def rollup(
    db: AsyncSession, first: date, last: date, zone: ZoneInfo, scope: repository.Scope
) -> dict[str, Any]:
    """Recount the scope's days first..last in ``zone`` and replace their rollup rows
    (idempotent)."""
    days = await count_days(db, first, last, zone, scope)
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
        db, scope, first=first, last=last, sales=sales, products=products, visits=visits
    )
    return {
        "zone": zone.key,
        "first": first.isoformat(),
        "last": last.isoformat(),
        "sales_rows": len(sales),
        "product_rows": len(products),
        "visit_rows": len(visits),
    }


async def rollup_stores(
    db: AsyncSession,
    default: str,
    *,
    recompute_days: int,
    first: date | None = None,
    last: date | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The rollup job's work. Each zone's stores get the closed days of the recompute window (or
    first..last) recounted in their zone; a store whose zone changed since its rollups were stored
    gets every stored day rebuilt in its new zone, then its rollups are marked as in that zone
    (with the zone it was rebuilt in: a change landing meanwhile is rebuilt on the next run)."""
    zones = []
    for name in await repository.store_zones(db, default):
        zone = ZoneInfo(name)
        yesterday = local_today(zone, now) - timedelta(days=1)
        start = first or yesterday - timedelta(days=recompute_days - 1)
        end = min(last or yesterday, yesterday)
        if start <= end:
            scope = repository.stores_in_zone(name, default, settled=True)
            zones.append(await rollup(db, start, end, zone, scope))
    moved = []
    for vendor_id, name in await repository.moving_stores(db, default):
        zone = ZoneInfo(name)
        yesterday = local_today(zone, now) - timedelta(days=1)
        earliest = await repository.first_rolled_day(db, vendor_id)
        await repository.drop_days_after(db, vendor_id, yesterday)
        if earliest is not None and earliest - timedelta(days=1) <= yesterday:
            # A day earlier: the old zone's first day may hold the new zone's day before it.
            moved.append(await rollup(db, earliest - timedelta(days=1), yesterday, zone, vendor_id))
        await repository.set_rollup_zone(db, vendor_id, None if name == default else name)
    return {"zones": zones, "rebuilt": moved}
