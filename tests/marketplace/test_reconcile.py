"""``oja reconcile`` over the marketplace: a paid checkout reconciles; each broken book is named."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import insert, select, update

from oja.core.clock import utcnow
from oja.core.db import unit_of_work
from oja.marketplace.catalog.models import ProductVariant
from oja.marketplace.ledger.models import LedgerAccount
from oja.marketplace.orders.models import OrderGroup
from oja.marketplace.payouts import repository, transfers
from oja.marketplace.payouts.models import Payout, PayoutStatus
from oja.marketplace.reviews.models import ReviewSummary
from oja.reconcile import Finding, run
from oja.sandbox.paystack import PaystackFake
from tests.conftest import Jobs

from .conftest import person
from .payouts_kit import book_in, paid_store
from .shop import add, checkout, paid_webhook, paystack, paystack_server, settings, shop

__all__ = ["paystack", "paystack_server", "settings"]

MARKETPLACE = ("stock", "orders", "ledger", "payouts", "ratings")


def marketplace(findings: list[Finding]) -> dict[str, Finding]:
    return {f.check: f for f in findings if f.check in MARKETPLACE}


async def placed(client: httpx.AsyncClient, variant_id: str) -> dict[str, Any]:
    buyer = await person(client)
    assert (await add(client, buyer, variant_id, 1)).status_code == 201
    answer = await checkout(client, buyer)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def test_the_marketplace_reconciles_and_each_broken_book_is_named(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    store = await shop(app, client, "Books", [{"sku": "B-1", "price": 1500, "stock": 5}])
    variant_id = store.variant()["id"]
    paid = await placed(client, variant_id)
    reference = paid["payment"]["reference"]
    assert await paid_webhook(app, client, paystack, jobs, reference) == ["succeeded"]
    unpaid = await placed(client, variant_id)  # awaiting payment, its reservation not yet due
    expired = await placed(client, variant_id)
    runtime = app.state.runtime

    found = marketplace((await run(runtime, stale_after=600)).findings)
    assert sorted(found) == sorted(MARKETPLACE)
    assert [f.check for f in found.values() if not f.ok] == [], found
    assert found["stock"].summary == "1 variants, each at the sum of its movements"
    assert found["orders"].summary.startswith("1 paid groups")

    old = utcnow() - timedelta(hours=2)
    async with runtime.database.engine.begin() as conn:
        # Stock that no movement explains (one unit created from nothing).
        await conn.execute(
            update(ProductVariant)
            .where(ProductVariant.id == uuid.UUID(variant_id))
            .values(stock=ProductVariant.stock + 1)
        )
        # A group marked paid that was never booked nor applied (its order still pending).
        await conn.execute(
            update(OrderGroup)
            .where(OrderGroup.id == uuid.UUID(unpaid["order_group_id"]))
            .values(status="paid", paid_at=old)
        )
        # An unpaid group two hours past its expiry, still holding its stock.
        await conn.execute(
            update(OrderGroup)
            .where(OrderGroup.id == uuid.UUID(expired["order_group_id"]))
            .values(expires_at=old)
        )
        # A running balance moved without postings (money created).
        account = (await conn.execute(select(LedgerAccount.id, LedgerAccount.key).limit(1))).one()
        await conn.execute(
            update(LedgerAccount)
            .where(LedgerAccount.id == account.id)
            .values(balance=LedgerAccount.balance + 5)
        )
        # A rating summary no published review supports.
        product_id = uuid.UUID(store.products[0]["id"])
        await conn.execute(
            insert(ReviewSummary).values(
                subject_id=product_id, subject="product", count=1, total=5, r5=1
            )
        )

    found = marketplace((await run(runtime, stale_after=600)).findings)
    # No payout was made: its books are the only ones still right.
    assert {check: f.ok for check, f in found.items()} == {
        **dict.fromkeys(MARKETPLACE, False),
        "payouts": True,
    }
    assert found["stock"].samples == (f"variant {variant_id} (B-1) stock 3 != sum of movements 2",)
    assert sorted(found["orders"].samples) == sorted(
        [
            f"paid group {unpaid['order_group_id']} ({unpaid['payment']['reference']}) "
            "not booked in the ledger",
            f"store order {unpaid['orders'][0]['id']} of paid group "
            f"{unpaid['order_group_id']} still pending",
            f"unpaid group {expired['order_group_id']} still reserved, expired at {old}",
        ]
    )
    assert len(found["ledger"].samples) == 2
    assert found["ledger"].samples[0].startswith(f"account {account.key} balance ")
    assert found["ledger"].samples[1].endswith("accounts sum to 5, not 0")
    assert found["ratings"].samples == (
        f"rating summary {product_id} is "
        "{'count': 1, 'total': 5, 'r1': 0, 'r2': 0, 'r3': 0, 'r4': 0, 'r5': 1}, the reviews say "
        "{'r1': 0, 'r2': 0, 'r3': 0, 'r4': 0, 'r5': 0, 'count': 0, 'total': 0}",
    )


async def booked(
    app: Any,
    store_id: str,
    amount: int,
    sequence: int,
    *,
    credit: int,
    status: PayoutStatus | None = None,
    reason: str | None = None,
) -> tuple[uuid.UUID, str]:
    """``credit`` made available to the store, then a payout of ``amount`` booked as the job books
    it (whatever the balance) and moved to ``status`` as the provider's answer moves it."""
    async with unit_of_work(app.state.runtime.database) as db:
        payout = await book_in(db, store_id, amount, sequence, credit=credit)
        if status is not None:
            await transfers.move_to(db, payout, status, None, reason)
    return payout.id, payout.reference


async def test_each_broken_payout_book_is_named(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake
) -> None:
    a, _ = await paid_store(app, client, paystack, "Payout Books")
    b, _ = await paid_store(app, client, paystack, "Payout Ledger")
    a1 = await booked(app, a.id, 200_000, 1, credit=200_000, status=PayoutStatus.paid)
    a2 = await booked(
        app, a.id, 30_000, 2, credit=30_000, status=PayoutStatus.failed, reason="Account closed"
    )
    a3 = await booked(
        app, a.id, 40_000, 3, credit=40_000, status=PayoutStatus.reversed, reason="Bank said no"
    )
    b2 = await booked(app, b.id, 10_000, 1, credit=10_000)
    runtime = app.state.runtime

    found = marketplace((await run(runtime, stale_after=600)).findings)["payouts"]
    assert (found.ok, found.summary) == (
        True,
        "4 payouts, each booked for its amount, settled or moving, failed ones returned once with "
        "a reason, none above its store's available balance",
    )

    old = utcnow() - timedelta(hours=2)
    async with runtime.database.engine.begin() as conn:
        # Paid 199,999 while the ledger booked 200,000.
        await conn.execute(update(Payout).where(Payout.id == a1[0]).values(amount=199_999))
        # Failed with no reason given.
        await conn.execute(update(Payout).where(Payout.id == a2[0]).values(failure_reason=None))
        # Reversed, its money returned, and then called paid.
        await conn.execute(update(Payout).where(Payout.id == a3[0]).values(status="paid"))
        # Failed, its money never returned.
        await conn.execute(
            update(Payout)
            .where(Payout.id == b2[0])
            .values(status="failed", failure_reason="Account closed")
        )
    # Booked above the store's available balance (50,000), then left pending for two hours.
    b1 = await booked(app, b.id, 80_000, 2, credit=50_000)
    # A payout with no ledger transaction at all.
    async with unit_of_work(runtime.database) as db:
        account = await repository.active_account(db, uuid.UUID(a.id))
        assert account is not None
        ghost = Payout(
            id=uuid.uuid4(),
            vendor_id=account.vendor_id,
            reference=transfers.reference_for(account.vendor_id, utcnow().date(), 4),
            currency="NGN",
            amount=1_000,
            status=PayoutStatus.paid,
            provider="paystack",
            account_id=account.id,
            recipient_code=account.recipient_code,
            run_date=utcnow().date(),
            sequence=4,
        )
        db.add(ghost)
    async with runtime.database.engine.begin() as conn:
        await conn.execute(update(Payout).where(Payout.id == b1[0]).values(updated_at=old))

    found = marketplace((await run(runtime, stale_after=600)).findings)["payouts"]
    assert (found.ok, found.summary) == (
        False,
        "7 payout problems (unbooked, stuck, unreturned, or above the store's balance)",
    )
    assert sorted(found.samples) == sorted(
        [
            f"payout {a1[0]} ({a1[1]}) of 199999 booked as 200000",
            f"payout {a2[0]} ({a2[1]}) failed without a reason",
            f"payout {a3[0]} ({a3[1]}) paid yet its money was returned",
            f"payout {b2[0]} ({b2[1]}) failed but its money was never returned",
            f"payout {b1[0]} ({b1[1]}) still pending since {old}",
            f"payout {ghost.id} ({ghost.reference}) has no ledger transaction",
            f"payout {b1[0]} ({b1[1]}) of 80000 above the store's available 50000",
        ]
    )
