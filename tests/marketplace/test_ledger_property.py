"""Property: any sequence of paid and unpaid groups over several stores, partial refunds,
cancellations and releases keeps every ledger transaction balanced, every running balance equal
to the sum of its postings, each store's balance equal to its shares less what refunds took back,
and the provider clearing account equal to money in less money out — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from oja.core.clock import utcnow
from oja.core.db import Database, unit_of_work
from oja.marketplace.config import MarketplaceSettings
from oja.marketplace.ledger import settlement
from oja.marketplace.ledger.models import AccountKind, StoreSettlement
from oja.marketplace.ledger.service import account_key
from oja.marketplace.orders.models import GroupStatus, StoreOrder

from . import ledger_kit

STORES = 3
MARKET = MarketplaceSettings(commission_percent=12.5)  # type: ignore[arg-type]

pay = st.tuples(
    st.just("pay"),
    st.dictionaries(
        st.integers(0, STORES - 1),
        st.lists(st.integers(1, 50_000), min_size=1, max_size=3),
        min_size=1,
    ),
    st.booleans(),  # verified (paid) or left unpaid
)
refund = st.tuples(st.just("refund"), st.integers(0, 50), st.integers(0, 50), st.floats(0.01, 1.0))
cancel = st.tuples(st.just("cancel"), st.integers(0, 50), st.integers(0, 50))
release = st.tuples(st.just("release"), st.integers(0, 50), st.integers(0, 50))
operations = st.lists(st.one_of(pay, refund, cancel, release), min_size=1, max_size=12)


@dataclass
class Model:
    """What the books must say, kept beside them by the test."""

    paid_in: int = 0
    paid_out: int = 0
    orders: list[StoreOrder] = field(default_factory=list)
    refunded: dict[uuid.UUID, int] = field(default_factory=dict)


async def example(url: str, ops: list[tuple[object, ...]]) -> None:
    database = Database(url)
    try:
        async with unit_of_work(database) as db:
            buyer, stores = await ledger_kit.people(db, STORES)
            before = await ledger_kit.balances(db)
        model = Model()
        for op in ops:
            await apply(database, buyer, stores, model, op)
            await check(database, stores, model, before)
    finally:
        await database.dispose()


async def apply(
    database: Database,
    buyer: uuid.UUID,
    stores: list[uuid.UUID],
    model: Model,
    op: tuple[object, ...],
) -> None:
    async with unit_of_work(database) as db:
        if op[0] == "pay":
            lines, verified = op[1], op[2]
            assert isinstance(lines, dict)
            group, orders, _ = await ledger_kit.add_group(
                db,
                buyer,
                {stores[i]: totals for i, totals in lines.items()},
                status=GroupStatus.paid if verified else GroupStatus.awaiting_payment,
            )
            outcome = await settlement.book_payment(db, str(group.payment_reference), MARKET)
            assert outcome == ("booked" if verified else "not_paid")
            if verified:
                model.paid_in += group.total
                model.orders.extend(orders)
            return
        if not model.orders:
            return
        order = model.orders[int(op[1]) % len(model.orders)]  # type: ignore[call-overload]
        done = model.refunded.get(order.id, 0)
        if op[0] in ("refund", "cancel"):
            left = order.total - done
            amount = left if op[0] == "cancel" else max(1, int(left * float(op[3])))  # type: ignore[arg-type]
            if left <= 0:
                return
            outcome = await settlement.book_refund(
                db,
                refund_id=uuid.uuid4(),
                vendor_id=order.vendor_id,
                order_id=order.id,
                source="cancellation",
                source_id=order.id,
                amount=amount,
            )
            assert outcome == "booked"
            model.refunded[order.id] = done + amount
            model.paid_out += amount
            return
        await db.execute(
            update(StoreOrder)
            .where(StoreOrder.id == order.id, StoreOrder.vendor_id == order.vendor_id)
            .values(status="delivered", delivered_at=utcnow() - timedelta(days=30))
        )
        await settlement.release(db, order.vendor_id, order.id, utcnow())


async def check(
    database: Database, stores: list[uuid.UUID], model: Model, before: dict[str, int]
) -> None:
    async with unit_of_work(database) as db:
        assert await ledger_kit.unbalanced_transactions(db) == []
        assert await ledger_kit.drifted_accounts(db) == []
        balances = await ledger_kit.balances(db)
        settled = (
            (await db.execute(select(StoreSettlement).where(StoreSettlement.vendor_id.in_(stores))))
            .scalars()
            .all()
        )
    assert sum(balances.values()) == 0
    clearing = account_key(AccountKind.provider_clearing, None, "NGN")
    assert balances.get(clearing, 0) - before.get(clearing, 0) == model.paid_in - model.paid_out
    # A store is owed what it sold, less commission, less what refunds reversed: never more
    # than it sold, and never below zero without payouts.
    for store in stores:
        owed = -sum(
            balances.get(account_key(kind, store, "NGN"), 0)
            for kind in (AccountKind.store_pending, AccountKind.store_available)
        )
        sold = sum(o.total for o in model.orders if o.vendor_id == store)
        kept = sum(
            o.total - model.refunded.get(o.id, 0) for o in model.orders if o.vendor_id == store
        )
        assert 0 <= owed <= kept <= sold
        assert owed == sum(
            (s.total - s.commission) - (s.refunded - s.commission_refunded)
            for s in settled
            if s.vendor_id == store
        )
    for row in settled:
        assert row.refunded == model.refunded.get(row.order_id, 0)
        assert row.commission_refunded <= row.commission
        if row.refunded == row.total:
            assert row.commission_refunded == row.commission


@hypothesis_settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_any_sequence_keeps_the_books_balanced(
    database_url: str, ops: list[tuple[object, ...]]
) -> None:
    asyncio.run(example(database_url, ops))
