"""Payouts and what the store still owes or was paid: refunds in flight on released orders are
held back from a payout (so the later refund never drives ``available`` negative), a held order's
refund reserves nothing, a failed refund frees its reservation; ``paid_out`` and ``in_transit`` on
``GET /vendors/me/balance`` equal a brute-force sum after a mix of payouts and split settlements."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import sqlalchemy as sa

from oja.core.clock import utcnow
from oja.core.db import unit_of_work
from oja.marketplace.config import MarketplaceSettings
from oja.marketplace.ledger import settlement
from oja.marketplace.ledger.models import LedgerPosting, LedgerTransaction
from oja.marketplace.orders.models import OrderRefund, RefundSource, RefundStatus
from oja.marketplace.payouts import repository, transfers
from oja.marketplace.payouts.models import Payout, PayoutStatus
from oja.sandbox.paystack import PaystackFake

from . import ledger_kit, payouts_kit
from .payouts_kit import available, credit, paid_store, payouts, select
from .shop import paystack, paystack_server, settings

__all__ = ["paystack", "paystack_server", "settings"]

SALE = 1_000_000
"""One line; 10 % commission: the store's share is 900,000."""


def market(app: Any) -> MarketplaceSettings:
    return app.state.runtime.settings.section(MarketplaceSettings)  # type: ignore[no-any-return]


async def sale(app: Any, vendor_id: str, *, released: bool, split: bool = False) -> uuid.UUID:
    """A paid one-line order of ``SALE`` booked in the ledger (released, or still held; or
    settled by Paystack's split); its store order id."""
    vendor = uuid.UUID(vendor_id)
    async with unit_of_work(app.state.runtime.database) as db:
        buyer, _ = await ledger_kit.people(db, 0)
        group, [order], _ = await ledger_kit.add_group(db, buyer, {vendor: [SALE]})
        assert group.payment_reference is not None
        sent = {order.id: ("ACCT_split", SALE * 9 // 10)} if split else None
        booked = await settlement.book_payment(
            db,
            group.payment_reference,
            market(app),
            sent=sent,
            split_shares={"ACCT_split": SALE * 9 // 10} if split else None,
        )
        assert booked == "booked"
        if released:
            assert await settlement.release(db, vendor, order.id, utcnow())
        return order.id


async def refund(
    app: Any,
    vendor_id: str,
    order_id: uuid.UUID,
    amount: int,
    source: RefundSource = RefundSource.cancellation,
) -> uuid.UUID:
    """A refund of ``amount`` the provider is still processing (a cancellation of the order, or a
    return without lines: its amount is then the store's alone); its id."""
    async with unit_of_work(app.state.runtime.database) as db:
        row = OrderRefund(
            vendor_id=uuid.UUID(vendor_id),
            order_id=order_id,
            group_id=await _group_of(db, order_id),
            source=source,
            source_id=order_id if source == RefundSource.cancellation else uuid.uuid4(),
            amount=amount,
            currency="NGN",
            status=RefundStatus.processing,
            provider="paystack",
        )
        db.add(row)
        await db.flush()
        return row.id


async def _group_of(db: Any, order_id: uuid.UUID) -> uuid.UUID:
    query = sa.select(settlement.StoreSettlement.group_id).where(
        settlement.StoreSettlement.order_id == order_id
    )
    return (await db.execute(query)).scalar_one()  # type: ignore[no-any-return]


async def finish(app: Any, vendor_id: str, refund_id: uuid.UUID, status: RefundStatus) -> None:
    """The refund ends as the provider reports: ``processed`` books it (as the refund webhook's
    handler does), ``failed`` books nothing."""
    async with unit_of_work(app.state.runtime.database) as db:
        row = await db.get_one(OrderRefund, refund_id)
        row.status = str(status)
        if status == RefundStatus.processed:
            outcome = await settlement.book_refund(
                db,
                refund_id=row.id,
                vendor_id=uuid.UUID(vendor_id),
                order_id=row.order_id,
                source=row.source,
                source_id=row.source_id,
                amount=row.amount,
            )
            assert outcome == "booked"


async def pay(app: Any, vendor_id: str) -> Payout | None:
    async with unit_of_work(app.state.runtime.database) as db:
        return await transfers.make_payout(db, uuid.UUID(vendor_id), utcnow(), market(app))


async def settle_as(app: Any, payout: Payout, target: PayoutStatus) -> None:
    async with unit_of_work(app.state.runtime.database) as db:
        found = await repository.payout(db, payout.vendor_id, payout.id, lock=True)
        assert found is not None
        assert await transfers.move_to(db, found, target, None, "test") == str(target)


async def test_a_refund_in_flight_on_a_released_order_is_held_back_until_it_is_booked(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake
) -> None:
    store, _ = await paid_store(app, client, paystack)
    order_id = await sale(app, store.id, released=True)
    await credit(app, store.id, 200_000)
    assert await available(app, store.id) == 900_000 + 200_000
    # Two refunds in flight on the order: the cancellation's 500,000 gives back 50,000 of
    # commission (the store owes 450,000); a return of no line's 300,000 is the store's alone.
    first = await refund(app, store.id, order_id, 500_000)
    second = await refund(app, store.id, order_id, 300_000, RefundSource.return_)

    payout = await pay(app, store.id)
    assert payout is not None
    assert payout.amount == 1_100_000 - 750_000
    assert await available(app, store.id) == 750_000

    # The refunds are booked later: exactly what was held back leaves, never below zero.
    await settle_as(app, payout, PayoutStatus.paid)
    await finish(app, store.id, first, RefundStatus.processed)
    assert await available(app, store.id) == 300_000
    await finish(app, store.id, second, RefundStatus.processed)
    assert await available(app, store.id) == 0
    assert await pay(app, store.id) is None
    assert [p[1:] for p in await payouts(app, store.id)] == [(350_000, "paid")]


async def test_too_little_left_after_the_reservation_pays_nothing(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake
) -> None:
    store, _ = await paid_store(app, client, paystack)
    order_id = await sale(app, store.id, released=True)
    await refund(app, store.id, order_id, SALE - 50_000)  # reserves 855,000 of 900,000
    assert await pay(app, store.id) is None
    assert await payouts(app, store.id) == []
    assert await available(app, store.id) == 900_000


async def test_a_held_orders_refund_reserves_nothing(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake
) -> None:
    store, _ = await paid_store(app, client, paystack)
    order_id = await sale(app, store.id, released=False)
    await credit(app, store.id, 200_000)
    held_refund = await refund(app, store.id, order_id, SALE)

    payout = await pay(app, store.id)
    assert payout is not None
    assert payout.amount == 200_000
    # Booked, it reverses the held share from pending: available is untouched.
    await finish(app, store.id, held_refund, RefundStatus.processed)
    assert await available(app, store.id) == 0
    pending = await select(
        app,
        sa.text("SELECT balance FROM ledger_account WHERE key = :k").bindparams(
            k=f"store_pending:{store.id}:NGN"
        ),
    )
    assert int(pending[0][0]) == 0


async def test_a_failed_refund_releases_its_reservation(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake
) -> None:
    store, _ = await paid_store(app, client, paystack)
    order_id = await sale(app, store.id, released=True)
    await credit(app, store.id, 200_000)
    failing = await refund(app, store.id, order_id, 500_000)

    first = await pay(app, store.id)
    assert first is not None
    assert first.amount == 1_100_000 - 450_000
    await settle_as(app, first, PayoutStatus.paid)
    assert await pay(app, store.id) is None  # the rest is reserved

    await finish(app, store.id, failing, RefundStatus.failed)
    second = await pay(app, store.id)
    assert second is not None
    assert second.amount == 450_000
    assert await available(app, store.id) == 0


async def brute_force(app: Any, vendor_id: str) -> tuple[int, int]:
    """(paid out, in transit) summed from every payout row and every split posting."""
    vendor = uuid.UUID(vendor_id)
    paid = await select(
        app,
        sa.select(sa.func.coalesce(sa.func.sum(Payout.amount), 0)).where(
            Payout.vendor_id == vendor, Payout.status == PayoutStatus.paid
        ),
    )
    split = await select(
        app,
        sa.select(sa.func.coalesce(sa.func.sum(LedgerPosting.amount), 0))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
        .where(LedgerPosting.vendor_id == vendor, LedgerTransaction.source.like("split:%")),
    )
    flying = await select(
        app,
        sa.select(sa.func.coalesce(sa.func.sum(Payout.amount), 0)).where(
            Payout.vendor_id == vendor,
            Payout.status.in_(["pending", "processing", "otp_required"]),
        ),
    )
    return int(paid[0][0]) + int(split[0][0]), int(flying[0][0])


async def booked(app: Any, vendor_id: str, amount: int, sequence: int) -> Payout:
    async with unit_of_work(app.state.runtime.database) as db:
        return await payouts_kit.book_in(db, vendor_id, amount, sequence)


async def balance(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    answer = await client.get("/vendors/me/balance", headers=headers)
    assert answer.status_code == 200, answer.text
    [row] = answer.json()["balances"]
    return row  # type: ignore[no-any-return]


async def test_paid_out_and_in_transit_match_a_brute_force_sum(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake
) -> None:
    store, _ = await paid_store(app, client, paystack)
    other, _ = await paid_store(app, client, paystack, "Small Chops")
    await sale(app, store.id, released=False, split=True)  # Paystack settles 900,000
    await sale(app, store.id, released=False, split=True)
    await sale(app, other.id, released=False, split=True)

    paid = await booked(app, store.id, 200_000, 1)
    await settle_as(app, paid, PayoutStatus.processing)
    await settle_as(app, paid, PayoutStatus.paid)
    failed = await booked(app, store.id, 50_000, 2)
    await settle_as(app, failed, PayoutStatus.failed)
    reversed_ = await booked(app, store.id, 70_000, 3)
    await settle_as(app, reversed_, PayoutStatus.paid)
    await settle_as(app, reversed_, PayoutStatus.reversed)  # the bank sent it back
    reversed_early = await booked(app, store.id, 40_000, 4)
    await settle_as(app, reversed_early, PayoutStatus.reversed)
    flying = await booked(app, store.id, 30_000, 5)
    await settle_as(app, flying, PayoutStatus.otp_required)

    row = await balance(client, store.owner.headers)
    assert (row["paid_out"], row["in_transit"]) == (2 * 900_000 + 200_000, 30_000)
    assert (row["paid_out"], row["in_transit"]) == await brute_force(app, store.id)
    assert row["available"] == 50_000 + 70_000 + 40_000  # returned payouts are available again

    # The other store sees only its own.
    theirs = await balance(client, other.owner.headers)
    assert (theirs["paid_out"], theirs["in_transit"]) == (900_000, 0)
    assert (theirs["paid_out"], theirs["in_transit"]) == await brute_force(app, other.id)

    # A paid payout reversed later comes off; the one in flight paid moves across.
    await settle_as(app, flying, PayoutStatus.paid)
    await settle_as(app, paid, PayoutStatus.reversed)
    row = await balance(client, store.owner.headers)
    assert (row["paid_out"], row["in_transit"]) == (2 * 900_000 + 30_000, 0)
    assert (row["paid_out"], row["in_transit"]) == await brute_force(app, store.id)
