"""Property: any sequence of paid and unpaid groups over several stores, partial refunds,
cancellations, releases, payouts and paid, failed or reversed transfers keeps every ledger
transaction balanced, every running balance equal to the sum of its postings, each store's balance
equal to its shares less what refunds took back and payouts paid it, no payout above the store's
available balance (none of a negative one), and the provider clearing account equal to money in
less money out — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from hypothesis import HealthCheck, given
from hypothesis import example as also
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.db import Database, unit_of_work
from oja.marketplace.config import MarketplaceSettings
from oja.marketplace.ledger import checks as ledger_checks
from oja.marketplace.ledger import settlement
from oja.marketplace.ledger.models import AccountKind, StoreSettlement
from oja.marketplace.ledger.service import account_key
from oja.marketplace.orders.models import GroupStatus, StoreOrder
from oja.marketplace.payouts import repository as payouts
from oja.marketplace.payouts import transfers
from oja.marketplace.payouts.models import RETURNED, AccountStatus, PayoutAccount, PayoutStatus

from . import ledger_kit

STORES = 3
MARKET = MarketplaceSettings(commission_percent=12.5, payout_minimum=1)  # type: ignore[arg-type]

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
payout = st.tuples(st.just("payout"), st.integers(0, STORES - 1))
transfer = st.tuples(
    st.just("transfer"), st.integers(0, 50), st.sampled_from(["paid", "failed", "reversed"])
)
operations = st.lists(
    st.one_of(pay, refund, cancel, release, payout, transfer), min_size=1, max_size=14
)


@dataclass
class Model:
    """What the books must say, kept beside them by the test."""

    paid_in: int = 0
    paid_out: int = 0
    orders: list[StoreOrder] = field(default_factory=list)
    refunded: dict[uuid.UUID, int] = field(default_factory=dict)
    payouts: list[tuple[uuid.UUID, uuid.UUID, int]] = field(default_factory=list)
    """(store, payout, amount) of every payout made."""
    paid_to: dict[uuid.UUID, int] = field(default_factory=dict)
    """What payouts took from each store and did not give back."""
    returned_or_paid: set[uuid.UUID] = field(default_factory=set)
    """Payouts no longer in flight."""


async def example(url: str, ops: list[tuple[object, ...]]) -> None:
    database = Database(url)
    try:
        async with unit_of_work(database) as db:
            buyer, stores = await ledger_kit.people(db, STORES)
            db.add_all(
                PayoutAccount(
                    vendor_id=store,
                    provider="paystack",
                    bank_code="058",
                    account_number="0123456789",
                    account_name="STORE",
                    recipient_code=f"RCP_{store.hex[:12]}",
                    currency="NGN",
                    status=AccountStatus.active,
                )
                for store in stores
            )
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
        if op[0] in ("payout", "transfer"):
            await pay_out(db, stores, model, op)
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


async def pay_out(
    db: AsyncSession, stores: list[uuid.UUID], model: Model, op: tuple[object, ...]
) -> None:
    if op[0] == "payout":
        store = stores[int(op[1])]  # type: ignore[call-overload]
        key = account_key(AccountKind.store_available, store, "NGN")
        available = -(await ledger_kit.balances(db)).get(key, 0)
        made = await transfers.make_payout(db, store, utcnow(), MARKET)
        in_flight = any(p[0] == store and p[1] not in model.returned_or_paid for p in model.payouts)
        if made is None:
            assert available < MARKET.payout_minimum or in_flight
            return
        # Never above available, never of a negative balance: the whole available balance.
        assert not in_flight
        assert made.amount == available > 0
        model.payouts.append((store, made.id, made.amount))
        model.paid_to[store] = model.paid_to.get(store, 0) + made.amount
        model.paid_out += made.amount
        return
    if not model.payouts:
        return
    store, payout_id, amount = model.payouts[int(op[1]) % len(model.payouts)]  # type: ignore[call-overload]
    row = await payouts.payout(db, store, payout_id, lock=True)
    assert row is not None
    before = PayoutStatus(row.status)
    target = PayoutStatus(str(op[2]))
    outcome = await transfers.move_to(db, row, target, None, "property")
    moved = outcome == str(target)
    allowed = before in (PayoutStatus.pending, PayoutStatus.processing) or (
        before == PayoutStatus.paid and target == PayoutStatus.reversed
    )
    assert moved == (allowed and before != target)
    if moved:
        model.returned_or_paid.add(payout_id)
        if target in RETURNED:  # the money is back, once
            model.paid_to[store] -= amount
            model.paid_out -= amount


async def check(
    database: Database, stores: list[uuid.UUID], model: Model, before: dict[str, int]
) -> None:
    async with unit_of_work(database) as db:
        assert await ledger_checks.unbalanced_transactions(db) == []
        assert await ledger_checks.drifted_accounts(db) == []
        balances = await ledger_kit.balances(db)
        settled = (
            (await db.execute(select(StoreSettlement).where(StoreSettlement.vendor_id.in_(stores))))
            .scalars()
            .all()
        )
    assert sum(balances.values()) == 0
    clearing = account_key(AccountKind.provider_clearing, None, "NGN")
    assert balances.get(clearing, 0) - before.get(clearing, 0) == model.paid_in - model.paid_out
    # A store is owed what it sold, less commission, less what refunds reversed, less what
    # payouts paid it: never more than it sold, and never below zero but for payouts.
    for store in stores:
        owed = model.paid_to.get(store, 0) - sum(
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
# Always: a payout of released money, failed (money back), paid again, then reversed (back
# again), a refund that leaves available negative, and a payout that must not be made.
@also(
    ops=[
        ("pay", {0: [40_000, 10_000], 1: [5_000]}, True),
        ("release", 0, 0),
        ("release", 1, 0),
        ("payout", 0),
        ("payout", 0),
        ("transfer", 0, "failed"),
        ("transfer", 0, "failed"),
        ("payout", 0),
        ("transfer", 1, "paid"),
        ("transfer", 1, "reversed"),
        ("payout", 0),
        ("cancel", 0, 0),
        ("payout", 0),
        ("payout", 1),
        ("transfer", 3, "paid"),
    ]
)
def test_any_sequence_keeps_the_books_balanced(
    database_url: str, ops: list[tuple[object, ...]]
) -> None:
    asyncio.run(example(database_url, ops))
