"""The ledger in the real refund flow: a return received through the API, refunded by the job,
confirmed by Paystack's webhook (delivered twice), reverses exactly the returned units' share and
commission once; a cancellation reverses the rest."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from oja.core.db import unit_of_work
from oja.marketplace.config import MarketplaceSettings
from oja.marketplace.ledger import checks as ledger_checks
from oja.marketplace.ledger import settlement
from oja.marketplace.orders.models import OrderStatus
from oja.sandbox.paystack import PaystackFake
from tests.conftest import Jobs

from . import ledger_kit, orders_kit
from .conftest import count, rows
from .orders_kit import Placed, Shop, place, shop
from .test_refunds import settle

paystack_server, paystack, settings = (
    orders_kit.paystack_server,
    orders_kit.paystack,
    orders_kit.settings,
)


async def balances(app: Any) -> dict[str, int]:
    async with unit_of_work(app.state.runtime.database) as db:
        assert await ledger_checks.unbalanced_transactions(db) == []
        assert await ledger_checks.drifted_accounts(db) == []
        found = await ledger_kit.balances(db)
    assert sum(found.values()) == 0
    return found


async def return_units(
    app: Any,
    client: httpx.AsyncClient,
    paystack: PaystackFake,
    jobs: Jobs,
    store: Shop,
    placed: Placed,
    quantity: int,
) -> None:
    """``quantity`` units of the first line returned, received, refunded by the job; the ledger
    books nothing until Paystack's webhook (delivered twice) says the buyer was paid back."""
    made = await client.post(
        f"/orders/{placed.order_id}/returns",
        json={
            "lines": [{"order_line_id": placed.line_ids[0], "quantity": quantity}],
            "reason": "torn",
        },
        headers=store.buyer.headers,
    )
    assert made.status_code == 201, made.text
    base = f"/vendors/me/returns/{made.json()['id']}"
    assert (await client.post(f"{base}/approve", headers=store.owner.headers)).status_code == 200
    assert (await client.post(f"{base}/receive", headers=store.owner.headers)).status_code == 200
    refunds = await count(app, "ledger_transaction", "kind = 'refund'")
    await jobs.run(app)
    assert await count(app, "ledger_transaction", "kind = 'refund'") == refunds
    await settle(app, client, paystack, jobs, paystack.refunds[-1].id)


async def test_a_returned_unit_reverses_its_share_and_commission_once(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    store = await shop(app, client)
    # 3 units at 1000 less 99: the line paid 2703; 10 % is 270.3 → the platform takes 271.
    placed = await place(
        app, paystack, store, [(0, 3)], status=OrderStatus.delivered, unit_discount=99
    )
    market = app.state.runtime.settings.section(MarketplaceSettings)
    async with unit_of_work(app.state.runtime.database) as db:
        assert await settlement.book_payment(db, placed.reference, market) == "booked"
    pending = f"store_pending:{store.store['id']}:NGN"
    revenue = "platform_revenue:platform:NGN"
    assert (await balances(app))[pending] == -(2703 - 271)

    await return_units(app, client, paystack, jobs, store, placed, 1)

    # One unit paid 901: the store's part is its share rounded down, 901 − 271 × 901 / 2703 =
    # 810.67 → 810; the commission (90.33) rounded up, 91, comes back.
    found = await balances(app)
    assert found[pending] == -(2703 - 271) + 810
    assert found[revenue] == -271 + 91
    assert found["provider_clearing:platform:NGN"] == 2703 - 901
    [(kind, amount, order_id)] = await rows(
        app, "SELECT kind, amount, order_id FROM ledger_transaction WHERE kind = 'refund'"
    )
    assert (kind, amount, uuid.UUID(str(order_id))) == ("refund", 901, uuid.UUID(placed.order_id))
    history = await client.get("/transactions?kind=refund", headers=store.buyer.headers)
    assert [(t["kind"], t["amount"], t["order_id"]) for t in history.json()["items"]] == [
        ("refund", 901, placed.order_id)
    ]
    statement = await client.get("/vendors/me/ledger?type=refund", headers=store.owner.headers)
    assert [(e["amount"], e["account"]) for e in statement.json()["items"]] == [
        (-810, "store_pending")
    ]

    # The other two units come back too: everything the store and the platform got is reversed.
    await return_units(app, client, paystack, jobs, store, placed, 2)
    found = await balances(app)
    assert (found[pending], found[revenue], found["provider_clearing:platform:NGN"]) == (0, 0, 0)
    assert await count(app, "ledger_transaction", "kind = 'refund'") == 2
