"""Sales reports and store performance, read from the daily rollups.

Closed days come from the rollup tables (one indexed range per store); the last
:data:`LIVE_DAYS` days — today, and yesterday until the hourly job has certainly stored it — are
counted live from the raw rows with the same :func:`rollup.count_days`. A store's rollups are cut
at its own midnight (``vendor.time_zone``, else ``OJA_REPORTS_TIME_ZONE``); a report in another
zone — or while the job has not yet rebuilt a store's days after a change of zone — cannot reuse
them, so it is counted live over its whole range (bounded by ``OJA_REPORTS_MAX_RANGE_DAYS``).
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.pagination import Page, PageParams
from oja.marketplace.errors import ReportRangeInvalid, UnknownTimeZone
from oja.marketplace.reports import repository, rollup
from oja.marketplace.reports.config import ReportSettings
from oja.marketplace.reports.rollup import Days, Figures
from oja.marketplace.reports.schemas import (
    CurrencyFigures,
    Granularity,
    PerformanceOut,
    PerformanceSort,
    ReportBucket,
    SalesReportOut,
    SortOrder,
    TopCategory,
    TopProduct,
)

T = TypeVar("T")

LIVE_DAYS = 2
"""Days ending today counted live rather than read from the rollups."""


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UnknownTimeZone(f"Unknown time zone {name!r}.", details={"tz": name}) from exc


def store_zone(
    settings: ReportSettings, zone: str | None, rollup_zone: str | None
) -> tuple[str, bool]:
    """A store's zone and whether its stored rollups are in it (None is the setting's zone)."""
    name = zone or settings.time_zone
    return name, (rollup_zone or settings.time_zone) == name


async def gather(
    db: AsyncSession,
    scope: repository.Scope,
    first: date,
    last: date,
    *,
    zone: ZoneInfo,
    rollups: bool,
    now: datetime | None = None,
) -> tuple[Days, dict[tuple[uuid.UUID, str, uuid.UUID], list[int]]]:
    """The figures of first..last per store and day, and per (store, currency, product) the units
    and revenue over the range; ``rollups``: the scope's stored rollups are days of ``zone``."""
    days = Days()
    products: dict[tuple[uuid.UUID, str, uuid.UUID], list[int]] = defaultdict(lambda: [0, 0])
    live_from = first
    if rollups:
        live_from = max(first, rollup.local_today(zone, now) - timedelta(days=LIVE_DAYS - 1))
        closed_last = min(last, live_from - timedelta(days=1))
        if first <= closed_last:
            for vendor, day, currency, *figures in await repository.sales_days(
                db, scope, first, closed_last
            ):
                days.sales[(vendor, day, currency)] = Figures(*figures)
            for vendor, day, visitors in await repository.visit_days(db, scope, first, closed_last):
                days.visitors[(vendor, day)] = visitors
            if isinstance(scope, uuid.UUID):
                for product_id, currency, units, revenue in await repository.product_totals(
                    db, scope, first, closed_last
                ):
                    products[(scope, currency, product_id)] = [int(units), int(revenue)]
    if live_from <= last:
        live = await rollup.count_days(db, live_from, last, zone, scope)
        days.sales.update(live.sales)
        days.visitors.update(live.visitors)
        for (vendor, _, currency, product_id), (units, revenue) in live.products.items():
            found = products[(vendor, currency, product_id)]
            found[0] += units
            found[1] += revenue
    return days, products


def _figures(currency: str, f: Figures) -> CurrencyFigures:
    net_sales = f.gross_sales - f.discounts - f.refunds
    return CurrencyFigures(
        currency=currency,
        gross_sales=f.gross_sales,
        discounts=f.discounts,
        refunds=f.refunds,
        net_sales=net_sales,
        commission=f.commission,
        net_payable=net_sales - f.commission,
        orders=f.orders,
        units=f.units,
        average_order_value=(f.gross_sales - f.discounts) // f.orders if f.orders else 0,
        canceled=f.canceled,
        returned=f.returned,
        returned_units=f.returned_units,
    )


def bucket_starts(first: date, last: date, granularity: Granularity) -> Iterator[tuple[date, date]]:
    """(start, end) of each bucket covering first..last, cut to the range."""
    start = first
    while start <= last:
        if granularity == Granularity.day:
            end = start
        elif granularity == Granularity.week:
            end = start + timedelta(days=6 - start.weekday())
        else:
            following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
            end = following - timedelta(days=1)
        end = min(end, last)
        yield start, end
        start = end + timedelta(days=1)


def _bucket(start: date, end: date, sales: dict[str, Figures], visitors: int) -> ReportBucket:
    return ReportBucket(
        start=start,
        end=end,
        visitors=visitors,
        sales=[_figures(c, sales[c]) for c in sorted(sales)],
    )


def buckets(days: Days, ranges: list[tuple[date, date]]) -> list[ReportBucket]:
    """The buckets of ``ranges`` (contiguous, in order): each stored or counted day added to
    its bucket in one pass over the days."""
    index: dict[date, int] = {}
    for n, (start, end) in enumerate(ranges):
        for offset in range((end - start).days + 1):
            index[start + timedelta(days=offset)] = n
    sales: list[dict[str, Figures]] = [defaultdict(Figures) for _ in ranges]
    visitors = [0] * len(ranges)
    for (_, day, currency), figures in days.sales.items():
        if (found := index.get(day)) is not None:
            sales[found][currency].add(figures)
    for (_, day), count in days.visitors.items():
        if (found := index.get(day)) is not None:
            visitors[found] += count
    return [_bucket(start, end, sales[n], visitors[n]) for n, (start, end) in enumerate(ranges)]


def _top(items: dict[tuple[str, T], list[int]], limit: int) -> list[tuple[str, T, int, int]]:
    """The ``limit`` best by revenue of each currency, currencies in order."""
    ranked = sorted(items.items(), key=lambda kv: (kv[0][0], -kv[1][1], -kv[1][0], str(kv[0][1])))
    out: list[tuple[str, T, int, int]] = []
    taken: dict[str, int] = defaultdict(int)
    for (currency, key), (units, revenue) in ranked:
        if taken[currency] < limit:
            taken[currency] += 1
            out.append((currency, key, units, revenue))
    return out


async def sales_report(
    db: AsyncSession,
    vendor_id: uuid.UUID,
    *,
    first: date,
    last: date,
    granularity: Granularity,
    tz: str | None,
    settings: ReportSettings,
) -> SalesReportOut:
    own, settled = store_zone(settings, *await repository.zone_of_store(db, vendor_id))
    zone = zone_of(tz or own)
    if first > last:
        raise ReportRangeInvalid(
            "'from' must not be after 'to'.", details={"from": str(first), "to": str(last)}
        )
    if (last - first).days + 1 > settings.max_range_days:
        raise ReportRangeInvalid(
            f"A report covers at most {settings.max_range_days} days.",
            details={"max_range_days": settings.max_range_days},
        )
    days, products = await gather(
        db, vendor_id, first, last, zone=zone, rollups=settled and zone.key == own
    )
    names = await repository.product_names(db, vendor_id, {p for (_, _, p) in products})
    by_product = {(c, p): value for (_, c, p), value in products.items()}
    by_category: dict[tuple[str, uuid.UUID | None], list[int]] = defaultdict(lambda: [0, 0])
    category_names: dict[uuid.UUID | None, str | None] = {None: None}
    for (currency, product_id), (units, revenue) in by_product.items():
        _, category_id, category_name = names.get(product_id, (None, None, None))
        category_names[category_id] = category_name
        found = by_category[(currency, category_id)]
        found[0] += units
        found[1] += revenue
    return SalesReportOut(
        from_=first,
        to=last,
        granularity=granularity,
        tz=zone.key,
        totals=buckets(days, [(first, last)])[0],
        buckets=buckets(days, list(bucket_starts(first, last, granularity))),
        top_products=[
            TopProduct(
                product_id=product_id,
                title=names[product_id][0] if product_id in names else None,
                currency=currency,
                units=units,
                revenue=revenue,
            )
            for currency, product_id, units, revenue in _top(by_product, settings.top_items)
        ],
        top_categories=[
            TopCategory(
                category_id=category_id,
                name=category_names.get(category_id),
                currency=currency,
                units=units,
                revenue=revenue,
            )
            for currency, category_id, units, revenue in _top(by_category, settings.top_items)
        ],
    )


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank ``p``-th percentile (0 < p ≤ 100); None of nothing."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _hours(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds() / 3600, 2)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


StoreRow = tuple[uuid.UUID, str, str | None, str | None]
"""(id, name, zone, rollups' zone) of a store."""


async def performance(
    db: AsyncSession,
    settings: ReportSettings,
    stores: Sequence[StoreRow],
    *,
    only: uuid.UUID | None,
) -> list[PerformanceOut]:
    """The performance figures of each of ``stores`` over the window of days in its own zone;
    ``only`` scopes every read to one store (a vendor route). Stores are measured a zone at a
    time (and apart while their rollups are being moved to a new zone)."""
    groups: dict[tuple[str, bool], list[tuple[uuid.UUID, str]]] = defaultdict(list)
    for vendor_id, name, zone, rollup_zone in stores:
        groups[store_zone(settings, zone, rollup_zone)].append((vendor_id, name))
    found: dict[uuid.UUID, PerformanceOut] = {}
    for (zone, settled), members in sorted(groups.items()):
        scope = only or repository.stores_in_zone(zone, settings.time_zone, settled=settled)
        for result in await _performance_in(
            db, settings, members, scope, zone=zone_of(zone), rollups=settled
        ):
            found[result.vendor_id] = result
    return [found[row[0]] for row in stores]


async def _performance_in(
    db: AsyncSession,
    settings: ReportSettings,
    stores: Sequence[tuple[uuid.UUID, str]],
    scope: repository.Scope,
    *,
    zone: ZoneInfo,
    rollups: bool,
) -> list[PerformanceOut]:
    now = utcnow()
    last = rollup.local_today(zone, now)
    first = last - timedelta(days=settings.performance_days - 1)
    start, end = rollup.day_bounds(first, last, zone)
    days, _ = await gather(db, scope, first, last, zone=zone, rollups=rollups, now=now)
    totals: dict[uuid.UUID, Figures] = defaultdict(Figures)
    for (vendor, _, _), figures in days.sales.items():
        totals[vendor].add(figures)
    visitors: dict[uuid.UUID, int] = defaultdict(int)
    for (vendor, _), n in days.visitors.items():
        visitors[vendor] += n
    shipped: dict[uuid.UUID, list[float]] = defaultdict(list)
    delivered: dict[uuid.UUID, list[bool]] = defaultdict(list)
    on_time = timedelta(days=settings.on_time_days)
    for vendor, confirmed_at, shipped_at, delivered_at in await repository.fulfilment_rows(
        db, start, end, scope
    ):
        if shipped_at is not None and start <= shipped_at < end:
            shipped[vendor].append(_hours(confirmed_at, shipped_at))
        if delivered_at is not None and start <= delivered_at < end:
            delivered[vendor].append(delivered_at - confirmed_at <= on_time)
    replies: dict[uuid.UUID, list[float]] = defaultdict(list)
    for vendor, reviewed_at, replied_at in await repository.reply_rows(db, start, end, scope):
        replies[vendor].append(_hours(reviewed_at, replied_at))
    ratings = await repository.ratings(db, scope)
    out = []
    for vendor_id, name in stores:
        figures = totals[vendor_id]
        count, rating_sum = ratings.get(vendor_id, (0, 0))
        result = PerformanceOut(
            vendor_id=vendor_id,
            name=name,
            from_=first,
            to=last,
            visitors=visitors[vendor_id],
            orders=figures.orders,
            conversion=_rate(figures.orders, visitors[vendor_id]),
            fulfilment_hours_p50=percentile(shipped[vendor_id], 50),
            fulfilment_hours_p90=percentile(shipped[vendor_id], 90),
            cancellation_rate=_rate(figures.canceled, figures.orders),
            return_rate=_rate(figures.returned, figures.orders),
            on_time_rate=_rate(sum(delivered[vendor_id]), len(delivered[vendor_id])),
            average_rating=round(rating_sum / count, 2) if count else None,
            reviews=count,
            review_response_hours_p50=percentile(replies[vendor_id], 50),
            below_threshold=False,
            failed_thresholds=[],
        )
        result.failed_thresholds = failed_thresholds(result, settings)
        result.below_threshold = bool(result.failed_thresholds)
        out.append(result)
    return out


def failed_thresholds(p: PerformanceOut, settings: ReportSettings) -> list[str]:
    checks: list[tuple[str, float | None, bool]] = [
        (
            "conversion",
            p.conversion,
            p.conversion is not None and p.conversion < settings.min_conversion,
        ),
        (
            "cancellation_rate",
            p.cancellation_rate,
            p.cancellation_rate is not None
            and p.cancellation_rate > settings.max_cancellation_rate,
        ),
        (
            "return_rate",
            p.return_rate,
            p.return_rate is not None and p.return_rate > settings.max_return_rate,
        ),
        (
            "on_time_rate",
            p.on_time_rate,
            p.on_time_rate is not None and p.on_time_rate < settings.min_on_time_rate,
        ),
        (
            "average_rating",
            p.average_rating,
            p.average_rating is not None and p.average_rating < settings.min_average_rating,
        ),
        (
            "fulfilment_hours_p90",
            p.fulfilment_hours_p90,
            p.fulfilment_hours_p90 is not None
            and p.fulfilment_hours_p90 > settings.max_fulfilment_p90_hours,
        ),
    ]
    return [name for name, _, failed in checks if failed]


async def store_performance(
    db: AsyncSession, vendor_id: uuid.UUID, settings: ReportSettings
) -> PerformanceOut:
    name = await repository.store_name(db, vendor_id)
    zone, rollup_zone = await repository.zone_of_store(db, vendor_id)
    (found,) = await performance(
        db, settings, [(vendor_id, name, zone, rollup_zone)], only=vendor_id
    )
    return found


async def all_performance(
    db: AsyncSession,
    settings: ReportSettings,
    *,
    sort: PerformanceSort,
    order: SortOrder,
    paging: PageParams,
) -> Page[PerformanceOut]:
    """Every approved store's figures, sorted (stores without the figure last), one page."""
    stores = [(row[0], row[1], row[2], row[3]) for row in await repository.approved_stores(db)]
    results = await performance(db, settings, stores, only=None)
    key = str(sort)
    present = [r for r in results if getattr(r, key) is not None]
    absent = [r for r in results if getattr(r, key) is None]
    present.sort(key=lambda r: (getattr(r, key), str(r.vendor_id)), reverse=order == SortOrder.desc)
    ordered = present + absent
    window = ordered[paging.offset : paging.offset + paging.per_page]
    return Page[PerformanceOut].of(window, total=len(ordered), params=paging)
