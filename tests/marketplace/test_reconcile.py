"""``oja reconcile`` over the marketplace: a paid checkout reconciles; each broken book is named."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import insert, select, update

from oja.core.clock import utcnow
from oja.marketplace.catalog.models import ProductVariant
from oja.marketplace.ledger.models import LedgerAccount
from oja.marketplace.orders.models import OrderGroup
from oja.marketplace.reviews.models import ReviewSummary
from oja.reconcile import Finding, run
from oja.sandbox.paystack import PaystackFake
from tests.conftest import Jobs

from .conftest import person
from .shop import add, checkout, paid_webhook, paystack, paystack_server, settings, shop

__all__ = ["paystack", "paystack_server", "settings"]

MARKETPLACE = ("stock", "orders", "ledger", "ratings")


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
    assert {check: f.ok for check, f in found.items()} == dict.fromkeys(MARKETPLACE, False)
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
