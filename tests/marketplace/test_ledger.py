"""The ledger: a verified payment split between stores and the platform once, to the kobo;
refunds reversed line by line; held shares released after the return window; balances kept
running; statements, CSV and the buyer's history; postings that cannot be changed."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text, update

from oja.core.clock import utcnow
from oja.core.db import unit_of_work
from oja.marketplace.config import MarketplaceSettings
from oja.marketplace.ledger import checks as ledger_checks
from oja.marketplace.ledger import settlement
from oja.marketplace.ledger.jobs import release_settlements
from oja.marketplace.ledger.models import (
    AccountKind,
    CommissionRule,
    EntryType,
    StoreSettlement,
    TransactionKind,
)
from oja.marketplace.ledger.service import Leg, UnbalancedTransaction, post
from oja.marketplace.orders.models import OrderStatus, StoreOrder
from oja.sandbox.paystack import PaystackFake
from tests.conftest import Jobs

from . import ledger_kit
from .conftest import count, rows
from .shop import Store, add, checkout, paid_webhook, paystack, paystack_server, settings, shop

__all__ = ["paystack", "paystack_server", "settings"]


def market(app: Any) -> MarketplaceSettings:
    return app.state.runtime.settings.section(MarketplaceSettings)  # type: ignore[no-any-return]


async def two_stores_paid(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> tuple[Store, Store, Any, dict[str, Any]]:
    a = await shop(
        app,
        client,
        "Store A",
        [{"sku": "A-1", "price": 1000, "stock": 5}, {"sku": "A-2", "price": 2000, "stock": 5}],
    )
    b = await shop(app, client, "Store B", [{"sku": "B-1", "price": 999, "stock": 3}])
    from .conftest import person

    buyer = await person(client)
    await add(client, buyer, a.variant(0)["id"], 2)
    await add(client, buyer, a.variant(1)["id"], 1)
    await add(client, buyer, b.variant(0)["id"], 3)
    body = (await checkout(client, buyer)).json()
    assert await paid_webhook(app, client, paystack, jobs, body["payment"]["reference"]) == [
        "succeeded"
    ]
    return a, b, buyer, body


def key(kind: AccountKind, vendor: str | None) -> str:
    return f"{kind}:{vendor or 'platform'}:NGN"


async def ledger_balances(app: Any) -> dict[str, int]:
    async with unit_of_work(app.state.runtime.database) as db:
        return await ledger_kit.balances(db)


async def invariants(app: Any) -> None:
    async with unit_of_work(app.state.runtime.database) as db:
        assert await ledger_checks.unbalanced_transactions(db) == []
        assert await ledger_checks.drifted_accounts(db) == []
    assert sum((await ledger_balances(app)).values()) == 0


async def test_a_verified_payment_is_split_once_between_the_stores_and_the_platform(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    a, b, buyer, body = await two_stores_paid(app, client, paystack, jobs)
    reference = body["payment"]["reference"]
    # 10 % default: A sold 4000 → 400; B sold 3 × 999 = 2997 → 299.7, the platform takes 300.
    # Paystack's fee (the fake's 1.5 %: 104) leaves clearing as the platform's expense.
    assert await ledger_balances(app) == {
        key(AccountKind.provider_clearing, None): 6997 - 104,
        key(AccountKind.provider_fees, None): 104,
        key(AccountKind.platform_revenue, None): -700,
        key(AccountKind.store_pending, a.id): -3600,
        key(AccountKind.store_pending, b.id): -2697,
    }
    assert await rows(
        app, "SELECT source, kind, amount FROM ledger_transaction ORDER BY source DESC"
    ) == [(f"payment:{reference}", "payment", 6997), (f"fee:{reference}", "fee", 104)]
    settled = await rows(
        app, "SELECT vendor_id, total, commission, status FROM store_settlement ORDER BY total"
    )
    assert [(uid(v), *rest) for v, *rest in settled] == [
        (uuid.UUID(b.id), 2997, 300, "held"),
        (uuid.UUID(a.id), 4000, 400, "held"),
    ]
    # The same charge.success again (replayed, and re-verified): nothing books twice.
    transaction = paystack.transactions[reference]
    replay = paystack.webhook_body("charge.success", transaction)
    from tests.billing.conftest import paystack_headers

    for _ in range(2):
        await client.post(
            "/payments/paystack/webhook", content=replay, headers=paystack_headers(replay)
        )
    await jobs.run(app)
    assert await count(app, "ledger_transaction") == 2
    assert await count(app, "ledger_posting") == 7
    assert await count(app, "store_settlement") == 2
    await invariants(app)

    balance = await client.get("/vendors/me/balance", headers=a.owner.headers)
    assert balance.status_code == 200, balance.text
    assert balance.json() == {
        "balances": [
            {
                "currency": "NGN",
                "pending": 3600,
                "available": 0,
                "frozen": 0,
                "paid_out": 0,
                "in_transit": 0,
            }
        ]
    }
    history = await client.get("/transactions", headers=buyer.headers)
    assert history.status_code == 200, history.text
    [payment] = history.json()["items"]
    assert (payment["kind"], payment["amount"], payment["reference"], payment["group_id"]) == (
        "payment",
        6997,
        reference,
        body["order_group_id"],
    )
    assert (await client.get("/transactions", headers=a.owner.headers)).json()["total"] == 0


async def test_a_flagged_payment_books_nothing(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    a = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 5}])
    from .conftest import person

    buyer = await person(client)
    await add(client, buyer, a.variant(0)["id"], 1)
    reference = (await checkout(client, buyer)).json()["payment"]["reference"]
    paystack.misreport_next_verify(100)
    await paid_webhook(app, client, paystack, jobs, reference)
    assert await count(app, "ledger_transaction") == 0
    assert await count(app, "ledger_account") == 0
    assert await count(app, "store_settlement") == 0


async def test_store_and_category_rules_override_the_default_and_round_up_for_the_platform(
    app: Any,
) -> None:
    async with unit_of_work(app.state.runtime.database) as db:
        buyer, (one, two, three) = await ledger_kit.people(db, 3)
        db.add(CommissionRule(vendor_id=one, percent_bps=250, fixed=10))  # 2.5 % + 10 a line
        db.add(CommissionRule(vendor_id=two, percent_bps=0, fixed=0))  # no commission
        group, _, _ = await ledger_kit.add_group(
            db, buyer, {one: [333, 1001], two: [500], three: [1]}
        )
        assert await settlement.book_payment(db, str(group.payment_reference), market(app)) == (
            "booked"
        )
    # one: 333 × 2.5 % + 10 + 1001 × 2.5 % + 10 = 53.35 → 54 (rounded up for the platform);
    # two: 0; three: 10 % of 1 kobo = 0.1 → the platform takes 1, the store 0.
    async with unit_of_work(app.state.runtime.database) as db:
        found = {
            s.vendor_id: (s.total, s.commission, sorted(s.lines.values()))
            for s in (await db.execute(select(StoreSettlement))).scalars()
        }
    assert found[three] == (1, 1, [[1, 1]])
    assert found[two] == (500, 0, [[500, 0]])
    total, fee, lines = found[one]
    assert (total, fee, sum(c for _, c in lines)) == (1334, 54, 54)
    # Per line, the differences of the rounded running total: 19 + 35 or 36 + 18.
    assert lines in ([[333, 18], [1001, 36]], [[333, 19], [1001, 35]])
    await invariants(app)


def uid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


async def book(
    app: Any, lines: dict[int, list[int]], stores: int = 2
) -> tuple[Any, list[uuid.UUID], list[StoreOrder], list[Any]]:
    async with unit_of_work(app.state.runtime.database) as db:
        buyer, vendors = await ledger_kit.people(db, stores)
        group, orders, made = await ledger_kit.add_group(
            db, buyer, {vendors[i]: totals for i, totals in lines.items()}
        )
        assert await settlement.book_payment(db, str(group.payment_reference), market(app)) == (
            "booked"
        )
    return group, vendors, orders, made


async def refund(
    app: Any, order: StoreOrder, amount: int, *, lines: list[tuple[Any, int]] | None = None
) -> str:
    """A processed refund of ``amount`` of ``order``: a cancellation, or a return of ``lines``."""
    from oja.marketplace.orders.models import ReturnLine, ReturnRequest

    async with unit_of_work(app.state.runtime.database) as db:
        source, source_id = "cancellation", order.id
        if lines is not None:
            request = ReturnRequest(
                vendor_id=order.vendor_id, order_id=order.id, buyer_id=order.buyer_id, reason="x"
            )
            db.add(request)
            await db.flush()
            db.add_all(
                ReturnLine(
                    vendor_id=order.vendor_id,
                    return_id=request.id,
                    order_line_id=line.id,
                    quantity=1,
                    amount=part,
                )
                for line, part in lines
            )
            await db.flush()
            source, source_id = "return", request.id
        return await settlement.book_refund(
            db,
            refund_id=uuid.uuid4(),
            vendor_id=order.vendor_id,
            order_id=order.id,
            source=source,
            source_id=source_id,
            amount=amount,
        )


async def test_refunds_reverse_exactly_the_refunded_lines_share_and_commission(app: Any) -> None:
    _, (one, two), orders, made = await book(app, {0: [1005, 2000], 1: [700]})
    first = next(o for o in orders if o.vendor_id == one)
    cheap, dear = made[0], made[1]
    # Commission booked: 3005 × 10 % = 300.5 → 301 (rounded up): 101 on the 1005 line, 200 on
    # the other. Half of the first line comes back: the store's part is its share rounded down,
    # 502 − 101 × 502 / 1005 = 451.55 → 451, so 51 of its commission (50.45 rounded up).
    assert await refund(app, first, 502, lines=[(cheap, 502)]) == "booked"
    pending = key(AccountKind.store_pending, str(one))
    assert (await ledger_balances(app))[pending] == -(3005 - 301) + (502 - 51)
    # The rest of the order is canceled: every kobo of share and commission is reversed.
    assert await refund(app, first, 3005 - 502) == "booked"
    balances = await ledger_balances(app)
    assert balances[pending] == 0
    assert balances[key(AccountKind.platform_revenue, None)] == -70  # the other store's sale
    assert balances[key(AccountKind.provider_clearing, None)] == 700
    assert await rows(
        app,
        "SELECT refunded, commission_refunded FROM store_settlement WHERE total = 3005",
    ) == [(3005, 301)]
    assert dear.line_total == 2000
    await invariants(app)


async def test_a_refund_books_once_and_an_unsettled_order_books_nothing(app: Any) -> None:
    _, _, [order], _ = await book(app, {0: [1000]}, stores=1)
    refund_id = uuid.uuid4()
    for _ in range(2):
        async with unit_of_work(app.state.runtime.database) as db:
            await settlement.book_refund(
                db,
                refund_id=refund_id,
                vendor_id=order.vendor_id,
                order_id=order.id,
                source="cancellation",
                source_id=order.id,
                amount=400,
            )
    assert await count(app, "ledger_transaction", "kind = 'refund'") == 1
    async with unit_of_work(app.state.runtime.database) as db:
        buyer, [vendor] = await ledger_kit.people(db, 1)
        _, [other], _ = await ledger_kit.add_group(db, buyer, {vendor: [500]})
        outcome = await settlement.book_refund(
            db,
            refund_id=uuid.uuid4(),
            vendor_id=vendor,
            order_id=other.id,
            source="cancellation",
            source_id=other.id,
            amount=500,
        )
    assert outcome == "not_settled"
    assert await count(app, "ledger_transaction") == 1 + 1


async def deliver(app: Any, order: StoreOrder, days_ago: float) -> None:
    async with unit_of_work(app.state.runtime.database) as db:
        await db.execute(
            update(StoreOrder)
            .where(StoreOrder.id == order.id, StoreOrder.vendor_id == order.vendor_id)
            .values(status="delivered", delivered_at=utcnow() - timedelta(days=days_ago))
        )


async def test_held_shares_become_available_after_the_return_window_once(
    app: Any, jobs: Jobs
) -> None:
    _, (one, two, three), orders, _ = await book(app, {0: [1000], 1: [2000], 2: [3000]}, stores=3)
    by_vendor = {o.vendor_id: o for o in orders}
    await deliver(app, by_vendor[one], days_ago=15)  # window (14 days) passed
    await deliver(app, by_vendor[two], days_ago=3)  # still in the window
    await deliver(app, by_vendor[three], days_ago=20)  # passed, but a return is open
    async with unit_of_work(app.state.runtime.database) as db:
        from oja.marketplace.orders.models import ReturnRequest

        db.add(
            ReturnRequest(
                vendor_id=three,
                order_id=by_vendor[three].id,
                buyer_id=by_vendor[three].buyer_id,
                reason="broken",
            )
        )
    async with unit_of_work(app.state.runtime.database) as db:
        release_settlements.enqueue(db)
    await jobs.run(app)
    async with unit_of_work(app.state.runtime.database) as db:
        release_settlements.enqueue(db)
    await jobs.run(app)
    balances = await ledger_balances(app)
    assert balances[key(AccountKind.store_pending, str(one))] == 0
    assert balances[key(AccountKind.store_available, str(one))] == -900
    assert balances[key(AccountKind.store_pending, str(two))] == -1800
    assert balances[key(AccountKind.store_pending, str(three))] == -2700
    assert key(AccountKind.store_available, str(two)) not in balances
    assert await count(app, "ledger_transaction", "kind = 'release'") == 1
    # A refund after release comes out of available, and may overdraw it.
    assert await refund(app, by_vendor[one], 1000) == "booked"
    balances = await ledger_balances(app)
    assert balances[key(AccountKind.store_available, str(one))] == 0
    assert balances[key(AccountKind.store_pending, str(one))] == 0
    await invariants(app)


async def test_an_unbalanced_transaction_writes_nothing_and_postings_cannot_change(
    app: Any,
) -> None:
    async with unit_of_work(app.state.runtime.database) as db:
        with pytest.raises(UnbalancedTransaction):
            await post(
                db,
                source="adjustment:1",
                kind=TransactionKind.adjustment,
                currency="NGN",
                legs=[
                    Leg(AccountKind.provider_clearing, EntryType.adjustment, 100),
                    Leg(AccountKind.platform_revenue, EntryType.adjustment, -99),
                ],
            )
    assert await count(app, "ledger_transaction") == 0
    assert await count(app, "ledger_account") == 0
    await book(app, {0: [1000]}, stores=1)
    for statement in (
        "UPDATE ledger_posting SET amount = amount + 1",
        "DELETE FROM ledger_posting",
    ):
        with pytest.raises(Exception, match="immutable"):
            async with unit_of_work(app.state.runtime.database) as db:
                await db.execute(text(statement))
    assert await count(app, "ledger_posting") == 3
    await invariants(app)


@pytest.mark.postgres
async def test_concurrent_bookings_of_one_payment_book_it_once_and_balances_stay_exact(
    app: Any, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        return  # the race needs real concurrent transactions
    async with unit_of_work(app.state.runtime.database) as db:
        buyer, vendors = await ledger_kit.people(db, 2)
        groups = [
            (await ledger_kit.add_group(db, buyer, {vendors[0]: [1000], vendors[1]: [n + 1]}))[0]
            for n in range(10)
        ]

    async def one(reference: str) -> str:
        async with unit_of_work(app.state.runtime.database) as db:
            return await settlement.book_payment(db, reference, market(app))

    outcomes = await asyncio.gather(
        *(one(str(g.payment_reference)) for g in groups for _ in range(3))
    )
    assert sorted(outcomes) == sorted(["booked"] * 10 + ["already_booked"] * 20)
    assert await count(app, "ledger_transaction") == 10
    balances = await ledger_balances(app)
    assert balances[key(AccountKind.provider_clearing, None)] == 10 * 1000 + sum(range(1, 11))
    assert balances[key(AccountKind.store_pending, str(vendors[0]))] == -9000
    await invariants(app)


async def test_the_statement_pages_filters_exports_csv_and_shows_only_the_callers_store(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    a, b, _, body = await two_stores_paid(app, client, paystack, jobs)
    statement = await client.get("/vendors/me/ledger", headers=a.owner.headers)
    assert statement.status_code == 200, statement.text
    found = statement.json()
    assert (found["total"], found["pages"]) == (1, 1)
    [entry] = found["items"]
    assert (entry["type"], entry["account"], entry["amount"], entry["currency"]) == (
        "sale",
        "store_pending",
        3600,
        "NGN",
    )
    assert entry["order_id"] in {o["id"] for o in body["orders"]}
    assert entry["source"] == f"payment:{body['payment']['reference']}"
    none = await client.get("/vendors/me/ledger?type=refund", headers=a.owner.headers)
    assert none.json()["total"] == 0
    later = (utcnow() + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert (
        await client.get(
            "/vendors/me/ledger", params={"created_from": later}, headers=a.owner.headers
        )
    ).json()["total"] == 0
    for params, headers in (({"format": "csv"}, {}), ({}, {"Accept": "text/csv"})):
        exported = await client.get(
            "/vendors/me/ledger", params=params, headers={**b.owner.headers, **headers}
        )
        assert exported.status_code == 200, exported.text
        assert exported.headers["content-type"].startswith("text/csv")
        [header, row] = list(csv.reader(io.StringIO(exported.text)))
        assert header == [
            "id",
            "created_at",
            "type",
            "account",
            "amount",
            "currency",
            "order_id",
            "source",
        ]
        assert row[2:6] == ["sale", "store_pending", "2697", "NGN"]


async def test_a_store_order_marked_delivered_through_the_flow_is_released(app: Any) -> None:
    _, _, [order], _ = await book(app, {0: [1000]}, stores=1)
    await deliver(app, order, days_ago=14.01)
    async with unit_of_work(app.state.runtime.database) as db:
        assert await settlement.release_due(db, utcnow(), market(app)) == 1
        assert await settlement.release_due(db, utcnow(), market(app)) == 0
    assert OrderStatus.delivered == "delivered"
    await invariants(app)


async def test_a_settlement_hold_shorter_than_the_return_window_releases_earlier(app: Any) -> None:
    _, _, [order], _ = await book(app, {0: [1000]}, stores=1)
    await deliver(app, order, days_ago=2.01)
    default, two_days = market(app), market(app).model_copy(update={"settlement_hold_days": 2})
    async with unit_of_work(app.state.runtime.database) as db:
        assert await settlement.release_due(db, utcnow(), default) == 0  # the 14-day window
        assert await settlement.release_due(db, utcnow(), two_days) == 1
        assert await settlement.release_due(db, utcnow(), two_days) == 0
    await invariants(app)


@pytest.mark.postgres
async def test_a_refund_racing_the_release_is_taken_from_where_the_share_really_is(
    app: Any, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        return  # the race needs real concurrent transactions
    booked = [await book(app, {0: [1000]}, stores=1) for _ in range(8)]
    for _, _, [order], _ in booked:
        await deliver(app, order, days_ago=30)

    async def released(order: StoreOrder) -> bool:
        async with unit_of_work(app.state.runtime.database) as db:
            return await settlement.release(db, order.vendor_id, order.id, utcnow())

    await asyncio.gather(
        *(released(order) for _, _, [order], _ in booked),
        *(refund(app, order, 400) for _, _, [order], _ in booked),
    )
    balances = await ledger_balances(app)
    for _, [vendor], [order], _ in booked:
        # 900 share, 400 refunded (40 of commission): 540 left, wherever the refund found it.
        pending = balances[key(AccountKind.store_pending, str(vendor))]
        available = balances.get(key(AccountKind.store_available, str(vendor)), 0)
        assert (pending, available) == (0, -540), order.id
    assert await count(app, "ledger_transaction", "kind = 'release'") == 8
    await invariants(app)
