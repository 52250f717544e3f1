"""Sales reports and store performance.

Orders are written straight to the tables and booked by the real ledger code (payments and
refunds, with the ledger's clock set to the day being generated); the report's figures must equal
a brute-force recount from the order and ledger rows, in the rollup zone (rollups + live days)
and in another zone (live over the whole range). The rollup job is idempotent and picks up a late
refund; one store never sees another's figures.
"""

from __future__ import annotations

import csv
import io
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select, update

from oja.core.db import unit_of_work
from oja.marketplace.catalog.models import Product
from oja.marketplace.config import MarketplaceSettings
from oja.marketplace.ledger import service as ledger_service
from oja.marketplace.ledger import settlement
from oja.marketplace.ledger.models import (
    EntryType,
    LedgerPosting,
    LedgerTransaction,
    StoreSettlement,
    TransactionKind,
)
from oja.marketplace.orders.models import (
    GroupStatus,
    OrderGroup,
    OrderLine,
    OrderRefund,
    OrderStatus,
    RefundSource,
    RefundStatus,
    ReturnLine,
    ReturnRequest,
    ReturnStatus,
    StoreOrder,
)
from oja.marketplace.recommendations.models import BehaviourEvent
from oja.marketplace.reports import rollup
from oja.marketplace.reports.config import ReportSettings
from oja.marketplace.reports.jobs import rollup_days
from oja.marketplace.reports.models import StoreProductDay, StoreSalesDay, StoreVisitDay
from oja.marketplace.reviews.models import Review
from tests.conftest import Jobs

from .conftest import admin, error_code
from .orders_kit import Shop, shop

LAGOS = ZoneInfo("Africa/Lagos")
FIGURES = rollup.FIGURE_NAMES


@dataclass
class World:
    a: Shop
    b: Shop
    today: date
    orders: dict[str, list[StoreOrder]] = field(default_factory=dict)
    refunded: set[uuid.UUID] = field(default_factory=set)


def at(day: date, hour: int, zone: ZoneInfo = LAGOS) -> datetime:
    return datetime.combine(day, time(hour, 17), tzinfo=zone).astimezone(UTC)


async def _book(app: Any, monkeypatch: pytest.MonkeyPatch, when: datetime, call: Any) -> None:
    """Run a ledger booking with the ledger's clock at ``when``."""
    monkeypatch.setattr(ledger_service, "utcnow", lambda: when)
    async with unit_of_work(app.state.runtime.database) as db:
        await call(db)
    monkeypatch.undo()


async def sell(
    app: Any,
    monkeypatch: pytest.MonkeyPatch,
    store: Shop,
    when: datetime,
    lines: list[tuple[int, int, int]],
) -> tuple[StoreOrder, list[OrderLine]]:
    """A paid order of ``lines`` (variant index, quantity, unit discount), booked at ``when``."""
    vendor_id, buyer_id = uuid.UUID(store.store["id"]), uuid.UUID(store.buyer.id)
    rows = []
    for index, quantity, discount in lines:
        price = int(store.variant(index)["price"])
        rows.append(
            (store.variant(index), quantity, price, discount, quantity * (price - discount))
        )
    subtotal = sum(q * p for _, q, p, _, _ in rows)
    total = sum(t for *_, t in rows)
    reference = f"oja-report-{uuid.uuid4().hex}"
    async with unit_of_work(app.state.runtime.database) as db:
        group = OrderGroup(
            buyer_id=buyer_id,
            status=GroupStatus.paid,
            currency="NGN",
            subtotal=subtotal,
            discount_total=subtotal - total,
            total=total,
            shipping_address={},
            provider="paystack",
            payment_reference=reference,
            expires_at=when + timedelta(minutes=30),
            paid_at=when,
        )
        db.add(group)
        await db.flush()
        order = StoreOrder(
            vendor_id=vendor_id,
            group_id=group.id,
            buyer_id=buyer_id,
            status=str(OrderStatus.confirmed),
            currency="NGN",
            subtotal=subtotal,
            discount_total=subtotal - total,
            total=total,
            confirmed_at=when,
        )
        db.add(order)
        await db.flush()
        made = [
            OrderLine(
                vendor_id=vendor_id,
                order_id=order.id,
                product_id=uuid.UUID(store.product["id"]),
                variant_id=uuid.UUID(variant["id"]),
                title=store.product["title"],
                sku=variant["sku"],
                options={},
                quantity=quantity,
                unit_price=price,
                unit_discount=discount,
                line_total=line_total,
            )
            for variant, quantity, price, discount, line_total in rows
        ]
        db.add_all(made)
    market = app.state.runtime.settings.section(MarketplaceSettings)

    async def book(db: Any) -> None:
        assert await settlement.book_payment(db, reference, market) == "booked"
        await db.execute(
            update(StoreSettlement)
            .where(StoreSettlement.vendor_id == vendor_id, StoreSettlement.order_id == order.id)
            .values(created_at=when)
        )

    await _book(app, monkeypatch, when, book)
    return order, made


async def refund(
    app: Any,
    monkeypatch: pytest.MonkeyPatch,
    order: StoreOrder,
    when: datetime,
    *,
    line: OrderLine | None = None,
    units: int = 0,
) -> None:
    """Cancel ``order`` (no ``line``) or receive ``units`` of ``line`` back, refunded at ``when``."""
    async with unit_of_work(app.state.runtime.database) as db:
        if line is None:
            source, amount = RefundSource.cancellation, order.total
            source_id = order.id
            await db.execute(
                update(StoreOrder)
                .where(StoreOrder.vendor_id == order.vendor_id, StoreOrder.id == order.id)
                .values(status=str(OrderStatus.canceled), canceled_at=when)
            )
        else:
            source, amount = RefundSource.return_, units * (line.unit_price - line.unit_discount)
            request = ReturnRequest(
                vendor_id=order.vendor_id,
                order_id=order.id,
                buyer_id=order.buyer_id,
                status=str(ReturnStatus.received),
                reason="torn",
                photos=[],
                decided_at=when,
                received_at=when,
            )
            db.add(request)
            await db.flush()
            db.add(
                ReturnLine(
                    vendor_id=order.vendor_id,
                    return_id=request.id,
                    order_line_id=line.id,
                    quantity=units,
                    amount=amount,
                    restock=True,
                )
            )
            source_id = request.id
        made = OrderRefund(
            id=uuid.uuid4(),
            vendor_id=order.vendor_id,
            order_id=order.id,
            group_id=order.group_id,
            source=str(source),
            source_id=source_id,
            amount=amount,
            currency="NGN",
            status=str(RefundStatus.processed),
            provider="paystack",
            processed_at=when,
        )
        db.add(made)
    refund_id = made.id

    async def book(db: Any) -> None:
        outcome = await settlement.book_refund(
            db,
            refund_id=refund_id,
            vendor_id=order.vendor_id,
            order_id=order.id,
            source=str(source),
            source_id=source_id,
            amount=amount,
        )
        assert outcome == "booked"

    await _book(app, monkeypatch, when, book)


async def visit(app: Any, store: Shop, subject: str, when: datetime) -> None:
    async with unit_of_work(app.state.runtime.database) as db:
        db.add(
            BehaviourEvent(
                kind="view",
                subject=subject,
                product_id=uuid.UUID(store.product["id"]),
                created_at=when,
            )
        )


async def generate(app: Any, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> World:
    """Two stores; A sells on each of the last 12 days (and today) with discounts, cancellations,
    partial returns and visits, some in the first and last hour of a Lagos day (another UTC day);
    B sells too, on the same days."""
    boss = await admin(app, client)
    world = World(
        await shop(app, client, "Report A", boss),
        await shop(app, client, "Report B", boss),
        datetime.now(LAGOS).date(),
    )
    rng = random.Random(23)
    for store in (world.a, world.b):
        placed = world.orders.setdefault(store.store["id"], [])
        for back in range(12, -1, -1):
            day = world.today - timedelta(days=back)
            for n in range(rng.randint(0, 3)):
                hour = rng.choice([0, 8, 13, 23]) if back else 0
                lines = [
                    (i, rng.randint(1, 3), rng.choice([0, 0, 50]))
                    for i in (0, 1)
                    if rng.random() < 0.7
                ]
                if not lines:
                    lines = [(0, 2, 0)]
                order, made = await sell(app, monkeypatch, store, at(day, hour), lines)
                placed.append(order)
                later = min(back, rng.randint(0, 3))
                fate = rng.random()
                when = at(world.today - timedelta(days=back - later), hour if later else 0)
                if fate < 0.4:
                    world.refunded.add(order.id)
                if fate < 0.15:
                    await refund(app, monkeypatch, order, max(when, at(day, hour)))
                elif fate < 0.4:
                    line = max(made, key=lambda x: x.quantity)
                    await refund(
                        app, monkeypatch, order, max(when, at(day, hour)), line=line, units=1
                    )
            for n in range(rng.randint(0, 4)):
                subject = f"c:visitor-{rng.randint(1, 5)}"
                await visit(app, store, subject, at(day, rng.choice([0, 9, 23]) if back else 0))
    return world


async def brute_force(
    app: Any, vendor_id: uuid.UUID, zone: ZoneInfo
) -> tuple[dict[date, dict[str, int]], dict[date, int], dict[uuid.UUID, list[int]]]:
    """Per local day the figures, visitors, and per product [units, revenue], by walking every
    order, settlement, ledger and return row in Python."""
    async with unit_of_work(app.state.runtime.database) as db:
        orders = {o.id: o for o in (await db.scalars(select(StoreOrder))).all()}
        settled = (await db.scalars(select(StoreSettlement))).all()
        lines = (await db.scalars(select(OrderLine))).all()
        transactions = (await db.scalars(select(LedgerTransaction))).all()
        postings = (await db.scalars(select(LedgerPosting))).all()
        returns = (await db.scalars(select(ReturnRequest))).all()
        return_lines = (await db.scalars(select(ReturnLine))).all()
        events = (await db.scalars(select(BehaviourEvent))).all()
        products = {p.id: p.vendor_id for p in (await db.scalars(select(Product))).all()}
    days: dict[date, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
    per_product: dict[uuid.UUID, list[int]] = defaultdict(lambda: [0, 0])
    sold_at = {}
    for s in settled:
        if s.vendor_id != vendor_id:
            continue
        order = orders[s.order_id]
        day = days[s.created_at.astimezone(zone).date()]
        sold_at[order.id] = s.created_at
        day["orders"] += 1
        day["gross_sales"] += order.subtotal + (order.total - order.subtotal + order.discount_total)
        day["discounts"] += order.discount_total
        day["commission"] += s.commission
        if order.canceled_at is not None:
            days[order.canceled_at.astimezone(zone).date()]["canceled"] += 1
    for line in lines:
        if line.order_id in sold_at:
            days[sold_at[line.order_id].astimezone(zone).date()]["units"] += line.quantity
            per_product[line.product_id][0] += line.quantity  # type: ignore[index]
            per_product[line.product_id][1] += line.line_total  # type: ignore[index]
    for t in transactions:
        if t.kind == TransactionKind.refund and orders[t.order_id].vendor_id == vendor_id:  # type: ignore[index]
            days[t.created_at.astimezone(zone).date()]["refunds"] += t.amount
    for p in postings:
        if p.entry_type == EntryType.commission_refund and p.order_id is not None:
            if orders[p.order_id].vendor_id != vendor_id:
                continue
            days[p.created_at.astimezone(zone).date()]["commission"] -= p.amount
    for r in returns:
        if r.vendor_id == vendor_id and r.received_at is not None:
            day = days[r.received_at.astimezone(zone).date()]
            day["returned"] += 1
            day["returned_units"] += sum(x.quantity for x in return_lines if x.return_id == r.id)
    seen: dict[date, set[str]] = defaultdict(set)
    for e in events:
        if products.get(e.product_id) == vendor_id:  # type: ignore[arg-type]
            seen[e.created_at.astimezone(zone).date()].add(e.subject)
    return dict(days), {d: len(s) for d, s in seen.items()}, dict(per_product)


def expected_bucket(
    days: dict[date, dict[str, int]], visitors: dict[date, int], start: date, end: date
) -> dict[str, Any]:
    total = dict.fromkeys(FIGURES, 0)
    for day, figures in days.items():
        if start <= day <= end:
            for name in FIGURES:
                total[name] += figures[name]
    net = total["gross_sales"] - total["discounts"] - total["refunds"]
    sales = []
    if any(start <= d <= end for d in days):
        sales = [
            {
                "currency": "NGN",
                **total,
                "net_sales": net,
                "net_payable": net - total["commission"],
                "average_order_value": (total["gross_sales"] - total["discounts"])
                // total["orders"]
                if total["orders"]
                else 0,
            }
        ]
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "visitors": sum(n for d, n in visitors.items() if start <= d <= end),
        "sales": sales,
    }


async def run_rollup(app: Any, jobs: Jobs, first: date) -> list[str]:
    async with unit_of_work(app.state.runtime.database) as db:
        rollup_days.enqueue(db, first=first.isoformat())
    return await jobs.run(app)


async def rollup_rows(app: Any) -> list[str]:
    async with unit_of_work(app.state.runtime.database) as db:
        sales = [
            (r.vendor_id, r.day, r.currency, *(getattr(r, n) for n in FIGURES))
            for r in (await db.scalars(select(StoreSalesDay))).all()
        ]
        products = [
            (r.vendor_id, r.day, r.currency, r.product_id, r.units, r.revenue)
            for r in (await db.scalars(select(StoreProductDay))).all()
        ]
        visits = [
            (r.vendor_id, r.day, r.visitors)
            for r in (await db.scalars(select(StoreVisitDay))).all()
        ]
    return sorted(map(str, sales)) + sorted(map(str, products)) + sorted(map(str, visits))


def report_url(first: date, last: date, **extra: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"from": first, "to": last, **extra}.items())
    return f"/vendors/me/reports/sales?{query}"


async def test_report_equals_a_brute_force_recount(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await generate(app, client, monkeypatch)
    first = world.today - timedelta(days=12)
    assert await run_rollup(app, jobs, first) == ["succeeded"]
    stored = await rollup_rows(app)
    assert stored

    for store in (world.a, world.b):
        vendor_id = uuid.UUID(store.store["id"])
        days, visitors, per_product = await brute_force(app, vendor_id, LAGOS)
        assert sum(d["refunds"] for d in days.values()) > 0
        assert sum(d["returned_units"] for d in days.values()) > 0
        assert sum(d["canceled"] for d in days.values()) > 0
        # Daily buckets: closed days from the rollups, the last two counted live.
        found = await client.get(report_url(first, world.today), headers=store.owner.headers)
        assert found.status_code == 200, found.text
        body = found.json()
        assert body["tz"] == "Africa/Lagos"
        assert body["buckets"] == [
            expected_bucket(days, visitors, first + timedelta(days=n), first + timedelta(days=n))
            for n in range(13)
        ]
        assert body["totals"] == expected_bucket(days, visitors, first, world.today)
        [product] = per_product
        assert body["top_products"] == [
            {
                "product_id": str(product),
                "title": store.product["title"],
                "currency": "NGN",
                "units": per_product[product][0],
                "revenue": per_product[product][1],
            }
        ]
        assert body["top_categories"] == [
            {
                "category_id": None,
                "name": None,
                "currency": "NGN",
                **dict(zip(("units", "revenue"), per_product[product], strict=True)),
            }
        ]
        # Weekly and monthly buckets add up the same days.
        for granularity in ("week", "month"):
            grouped = await client.get(
                report_url(first, world.today, granularity=granularity), headers=store.owner.headers
            )
            assert grouped.status_code == 200, grouped.text
            buckets = grouped.json()["buckets"]
            assert buckets[0]["start"] == first.isoformat()
            assert buckets[-1]["end"] == world.today.isoformat()
            assert [
                expected_bucket(
                    days, visitors, date.fromisoformat(b["start"]), date.fromisoformat(b["end"])
                )
                for b in buckets
            ] == buckets
        # Another zone: counted live from the raw rows, cut at UTC midnights.
        utc_days, utc_visitors, _ = await brute_force(app, vendor_id, ZoneInfo("UTC"))
        utc_first = first - timedelta(days=1)
        in_utc = await client.get(
            report_url(utc_first, world.today, tz="UTC"), headers=store.owner.headers
        )
        assert in_utc.status_code == 200, in_utc.text
        assert in_utc.json()["totals"] == expected_bucket(
            utc_days, utc_visitors, utc_first, world.today
        )
        assert list(in_utc.json()["buckets"]) == [
            expected_bucket(
                utc_days, utc_visitors, utc_first + timedelta(days=n), utc_first + timedelta(days=n)
            )
            for n in range(14)
        ]

    # The job again: the same rows, none added.
    assert await run_rollup(app, jobs, first) == ["succeeded"]
    assert await rollup_rows(app) == stored

    # A late refund (an order of 10 days ago, refunded three days ago) lands on its own day once
    # the job recomputes that day; the sale's day is unchanged.
    a_id = uuid.UUID(world.a.store["id"])
    old = next(
        o
        for o in world.orders[world.a.store["id"]]
        if o.id not in world.refunded
        and (world.today - o.confirmed_at.astimezone(LAGOS).date()).days >= 8  # type: ignore[union-attr]
    )
    three_days_ago = world.today - timedelta(days=3)
    await refund(app, monkeypatch, old, at(three_days_ago, 12))
    before = (
        await client.get(report_url(three_days_ago, three_days_ago), headers=world.a.owner.headers)
    ).json()
    assert await run_rollup(app, jobs, three_days_ago) == ["succeeded"]
    days, visitors, _ = await brute_force(app, a_id, LAGOS)
    after = (await client.get(report_url(first, world.today), headers=world.a.owner.headers)).json()
    assert after["totals"] == expected_bucket(days, visitors, first, world.today)
    refunds_before = sum(s["refunds"] for s in before["totals"]["sales"])
    assert after["buckets"][9]["sales"][0]["refunds"] == refunds_before + old.total


async def test_csv_holds_the_buckets_and_bad_input_is_422(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await shop(app, client, "Csv store")
    today = datetime.now(LAGOS).date()
    order, made = await sell(
        app, monkeypatch, store, at(today - timedelta(days=3), 10), [(0, 3, 100)]
    )
    await refund(app, monkeypatch, order, at(today - timedelta(days=2), 10), line=made[0], units=1)
    first = today - timedelta(days=4)
    assert await run_rollup(app, jobs, first) == ["succeeded"]
    as_json = (await client.get(report_url(first, today), headers=store.owner.headers)).json()
    found = await client.get(report_url(first, today, format="csv"), headers=store.owner.headers)
    assert found.status_code == 200, found.text
    assert found.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(found.text)))
    assert [
        (
            r["start"],
            r["gross_sales"],
            r["discounts"],
            r["refunds"],
            r["net_sales"],
            r["orders"],
            r["units"],
            r["returned_units"],
        )
        for r in table
    ] == [
        ((today - timedelta(days=3)).isoformat(), "3000", "300", "0", "2700", "1", "3", "0"),
        ((today - timedelta(days=2)).isoformat(), "0", "0", "900", "-900", "0", "0", "1"),
    ]
    assert [b["start"] for b in as_json["buckets"] if b["sales"]] == [r["start"] for r in table]
    # Another store sees none of it.
    other = await shop(app, client, "Other store")
    theirs = (await client.get(report_url(first, today), headers=other.owner.headers)).json()
    assert theirs["totals"]["sales"] == []
    assert theirs["top_products"] == []

    rows_before = await rollup_rows(app)
    for url, code in [
        (report_url(today, first), "report_range_invalid"),
        (report_url(today - timedelta(days=366), today), "report_range_invalid"),
        (report_url(first, today, granularity="hour"), "validation_error"),
        (report_url(first, today, tz="Mars/Olympus"), "unknown_time_zone"),
        ("/vendors/me/reports/sales?from=2026-13-01&to=2026-12-01", "validation_error"),
        ("/vendors/me/reports/sales?to=2026-12-01", "validation_error"),
    ]:
        refused = await client.get(url, headers=store.owner.headers)
        assert (refused.status_code, error_code(refused)) == (422, code), url
    assert await rollup_rows(app) == rows_before
    # The longest range allowed is fine.
    longest = await client.get(
        report_url(today - timedelta(days=365), today, granularity="month"),
        headers=store.owner.headers,
    )
    assert longest.status_code == 200, longest.text
    assert longest.json()["totals"]["sales"][0]["net_sales"] == 1800


async def test_performance_figures_and_thresholds(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    boss = await admin(app, client)
    good, bad = (
        await shop(app, client, "Good store", boss),
        await shop(app, client, "Slow store", boss),
    )
    today = datetime.now(LAGOS).date()
    day = at(today - timedelta(days=5), 9)
    # Good: 4 orders, shipped after 10, 20, 30, 40 hours, delivered within 3 days.
    for n, hours in enumerate((10, 20, 30, 40)):
        order, _ = await sell(app, monkeypatch, good, day, [(0, 1, 0)])
        async with unit_of_work(app.state.runtime.database) as db:
            await db.execute(
                update(StoreOrder)
                .where(StoreOrder.vendor_id == order.vendor_id, StoreOrder.id == order.id)
                .values(
                    status="delivered",
                    shipped_at=day + timedelta(hours=hours),
                    delivered_at=day + timedelta(hours=hours + 24),
                )
            )
    # Slow: 2 orders, one canceled, the other shipped after 100 hours and delivered after 10 days.
    order, _ = await sell(app, monkeypatch, bad, day - timedelta(days=12), [(0, 1, 0)])
    async with unit_of_work(app.state.runtime.database) as db:
        await db.execute(
            update(StoreOrder)
            .where(StoreOrder.vendor_id == order.vendor_id, StoreOrder.id == order.id)
            .values(
                status="delivered",
                shipped_at=day - timedelta(days=12) + timedelta(hours=100),
                delivered_at=day - timedelta(days=2),
            )
        )
    canceled, _ = await sell(app, monkeypatch, bad, day, [(0, 1, 0)])
    await refund(app, monkeypatch, canceled, day + timedelta(hours=1))
    for n in range(8):
        await visit(app, good, f"c:v{n}", day)
    await visit(app, bad, "c:v0", day)
    await visit(app, bad, "c:v1", day)
    async with unit_of_work(app.state.runtime.database) as db:
        for store, rating, replied in ((good, 5, 2), (good, 4, None), (bad, 2, None)):
            db.add(
                Review(
                    vendor_id=uuid.UUID(store.store["id"]),
                    subject="store",
                    subject_id=uuid.UUID(store.store["id"]),
                    source_id=uuid.uuid4(),
                    author_id=uuid.UUID(store.buyer.id),
                    rating=rating,
                    title="t",
                    body="b",
                    photos=[],
                    created_at=day,
                    reply="thanks" if replied else None,
                    replied_at=day + timedelta(hours=replied) if replied else None,
                )
            )

    # Closed days are read from the rollups.
    assert await run_rollup(app, jobs, today - timedelta(days=40)) == ["succeeded"]
    mine = await client.get("/vendors/me/performance", headers=good.owner.headers)
    assert mine.status_code == 200, mine.text
    settings = app.state.runtime.settings.section(ReportSettings)
    assert mine.json() == {
        "vendor_id": good.store["id"],
        "name": "Good store",
        "from": (today - timedelta(days=settings.performance_days - 1)).isoformat(),
        "to": today.isoformat(),
        "visitors": 8,
        "orders": 4,
        "conversion": 0.5,
        "fulfilment_hours_p50": 20.0,
        "fulfilment_hours_p90": 40.0,
        "cancellation_rate": 0.0,
        "return_rate": 0.0,
        "on_time_rate": 1.0,
        "average_rating": 4.5,
        "reviews": 2,
        "review_response_hours_p50": 2.0,
        "below_threshold": False,
        "failed_thresholds": [],
    }
    theirs = (await client.get("/vendors/me/performance", headers=bad.owner.headers)).json()
    assert {
        k: theirs[k]
        for k in (
            "orders",
            "visitors",
            "conversion",
            "cancellation_rate",
            "on_time_rate",
            "fulfilment_hours_p90",
            "average_rating",
        )
    } == {
        "orders": 2,
        "visitors": 2,
        "conversion": 1.0,
        "cancellation_rate": 0.5,
        "on_time_rate": 0.0,
        "fulfilment_hours_p90": 100.0,
        "average_rating": 2.0,
    }
    assert theirs["failed_thresholds"] == [
        "cancellation_rate",
        "on_time_rate",
        "average_rating",
        "fulfilment_hours_p90",
    ]
    assert theirs["below_threshold"] is True

    listed = await client.get(
        "/admin/vendors/performance?sort=average_rating&order=desc&per_page=100",
        headers=boss.headers,
    )
    assert listed.status_code == 200, listed.text
    names = [(s["name"], s["below_threshold"]) for s in listed.json()["items"]]
    assert names[:2] == [("Good store", False), ("Slow store", True)]
    assert (
        await client.get("/admin/vendors/performance?sort=bogus", headers=boss.headers)
    ).status_code == 422
    assert (
        await client.get("/admin/vendors/performance", headers=good.owner.headers)
    ).status_code == 403


async def test_the_periodic_run_recomputes_only_the_closed_days_of_its_window(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await shop(app, client, "Window store")
    today = datetime.now(LAGOS).date()
    for back in (0, 1, 3, 5):
        await sell(app, monkeypatch, store, at(today - timedelta(days=back), 10), [(0, 1, 0)])
    async with unit_of_work(app.state.runtime.database) as db:
        rollup_days.enqueue(db)
    assert await jobs.run(app) == ["succeeded"]
    settings = app.state.runtime.settings.section(ReportSettings)
    assert settings.recompute_days == 3
    async with unit_of_work(app.state.runtime.database) as db:
        days = sorted(r.day for r in (await db.scalars(select(StoreSalesDay))).all())
    # Yesterday and three days ago are in the window; today is never stored; five days ago is not.
    assert days == [today - timedelta(days=3), today - timedelta(days=1)]
