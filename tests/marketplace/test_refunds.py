"""Automated refunds: a paid order's cancellation and a received return pay back exactly what was
paid for those lines, through one provider refund, and end ``processed`` once — however often
the refund job runs, and when a run dies after the provider answered."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from oja.billing.config import BillingSettings
from oja.core.clock import utcnow
from oja.core.db import unit_of_work
from oja.marketplace.orders import refunds
from oja.marketplace.orders.jobs import VERIFY_AFTER, issue_refund, track_refunds
from oja.marketplace.orders.models import OrderRefund, OrderStatus
from oja.sandbox.paystack import PaystackFake
from tests.conftest import Jobs

from . import orders_kit
from .conftest import count, rows
from .orders_kit import Heard, Placed, Shop, place, shop, webhook_headers

paystack_server, paystack, settings, heard = (
    orders_kit.paystack_server,
    orders_kit.paystack,
    orders_kit.settings,
    orders_kit.heard,
)


class WorkerKilled(Exception):
    """The run stopped between the provider's answer and its commit."""


async def killed_run(app: Any, refund_id: uuid.UUID) -> None:
    """The refund job's work, its transaction lost after the provider answered."""
    billing = app.state.runtime.settings.section(BillingSettings)
    async with unit_of_work(app.state.runtime.database) as db:
        raise WorkerKilled(await refunds.issue(db, refund_id, billing))


async def order_view(client: httpx.AsyncClient, store: Shop, placed: Placed) -> dict[str, Any]:
    answer = await client.get(f"/orders/{placed.order_id}", headers=store.buyer.headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def settle(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs, refund_id: int
) -> None:
    """Paystack finishes the refund and says so by webhook (delivered twice, as it may be)."""
    body = paystack.finish_refund(refund_id)
    for _ in range(2):
        answer = await client.post(
            "/payments/paystack/webhook", content=body, headers=webhook_headers(body)
        )
        assert answer.status_code == 200, answer.text
    await jobs.run(app)


async def test_a_paid_cancellation_is_refunded_once_even_when_its_job_runs_twice(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs, heard: Heard
) -> None:
    store = await shop(app, client)
    placed = await place(app, paystack, store, [(0, 2), (1, 1)], status=OrderStatus.confirmed)
    canceled = await client.post(f"/orders/{placed.order_id}/cancel", headers=store.buyer.headers)
    assert canceled.status_code == 200, canceled.text
    [refund] = canceled.json()["refunds"]
    assert (refund["amount"], refund["status"]) == (2 * 1000 + 2500, "pending")
    assert paystack.refunds == []  # the provider is called by the job, after commit

    await jobs.run(app)
    async with unit_of_work(app.state.runtime.database) as db:  # the job delivered twice
        issue_refund.enqueue(db, refund_id=uuid.UUID(refund["id"]))
    await jobs.run(app)
    assert [(r.amount, r.merchant_note) for r in paystack.refunds] == [
        (4500, f"oja-order-refund:{refund['id']}")
    ]
    view = await order_view(client, store, placed)
    assert view["refunds"][0]["status"] == "processing"
    assert view["refunded_amount"] == 4500

    await settle(app, client, paystack, jobs, paystack.refunds[0].id)
    view = await order_view(client, store, placed)
    assert view["refunds"][0]["status"] == "processed"
    assert view["refunds"][0]["processed_at"] is not None
    [announced] = heard.of("refund.processed")
    assert str(announced["refund_id"]) == refund["id"]
    assert announced["amount"] == 4500
    assert {str(r) for r in announced["recipient_ids"]} == {store.buyer.id, store.owner.id}
    assert len(paystack.refunds) == 1
    [(amount_refunded,)] = await rows(app, "SELECT amount_refunded FROM payment")
    assert amount_refunded == 4500
    assert await count(app, "refund") == 1


async def test_a_run_killed_after_the_provider_answered_still_refunds_once(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs, heard: Heard
) -> None:
    store = await shop(app, client)
    placed = await place(app, paystack, store, [(1, 2)], status=OrderStatus.confirmed)
    canceled = await client.post(
        f"/vendors/me/orders/{placed.order_id}/cancel",
        json={"reason": "cannot deliver to this address"},
        headers=store.owner.headers,
    )
    refund_id = uuid.UUID(canceled.json()["refunds"][0]["id"])
    with pytest.raises(WorkerKilled, match="issued"):
        await killed_run(app, refund_id)
    assert len(paystack.refunds) == 1  # the provider refunded; we recorded nothing
    assert await count(app, "refund") == 0
    assert (await order_view(client, store, placed))["refunds"][0]["status"] == "pending"

    await jobs.run(app)  # the job, retried
    assert len(paystack.refunds) == 1
    [(provider_id, status)] = await rows(app, "SELECT provider_refund_id, status FROM order_refund")
    assert (provider_id, status) == (str(paystack.refunds[0].id), "processing")
    await settle(app, client, paystack, jobs, paystack.refunds[0].id)
    view = await order_view(client, store, placed)
    assert [(r["amount"], r["status"]) for r in view["refunds"]] == [(5000, "processed")]
    assert len(heard.of("refund.processed")) == 1
    assert len(paystack.refunds) == 1


async def test_partial_and_full_return_refunds_pay_exactly_what_was_paid(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs, heard: Heard
) -> None:
    store = await shop(app, client)
    # 3 units at 1000 less 99 each: the line paid 2703, not divisible by 3 units.
    placed = await place(
        app, paystack, store, [(0, 3)], status=OrderStatus.delivered, unit_discount=99
    )
    assert placed.total == 2703
    for quantity in (1, 2):
        made = await client.post(
            f"/orders/{placed.order_id}/returns",
            json={
                "lines": [{"order_line_id": placed.line_ids[0], "quantity": quantity}],
                "reason": "colour runs",
            },
            headers=store.buyer.headers,
        )
        assert made.status_code == 201, made.text
        base = f"/vendors/me/returns/{made.json()['id']}"
        await client.post(f"{base}/approve", headers=store.owner.headers)
        received = await client.post(f"{base}/receive", headers=store.owner.headers)
        assert received.status_code == 200, received.text
        await jobs.run(app)
        await settle(app, client, paystack, jobs, paystack.refunds[-1].id)
    view = await order_view(client, store, placed)
    assert [(r["source"], r["amount"], r["status"]) for r in view["refunds"]] == [
        ("return", 901, "processed"),
        ("return", 1802, "processed"),
    ]
    assert view["refunded_amount"] == 2703 == view["total"]
    assert view["status"] == "returned"
    assert [r.amount for r in paystack.refunds] == [901, 1802]
    assert paystack.transactions[placed.reference].refunded == 2703
    assert [p["amount"] for p in heard.of("refund.processed")] == [901, 1802]


async def test_an_unpaid_group_and_a_rejected_return_refund_nothing(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    store = await shop(app, client)
    placed = await place(app, paystack, store, [(0, 1)], status=OrderStatus.delivered)
    made = await client.post(
        f"/orders/{placed.order_id}/returns",
        json={"lines": [{"order_line_id": placed.line_ids[0], "quantity": 1}], "reason": "meh"},
        headers=store.buyer.headers,
    )
    await client.post(
        f"/vendors/me/returns/{made.json()['id']}/reject", headers=store.owner.headers
    )
    unpaid = await place(app, None, store, [(0, 1)], status=OrderStatus.pending, paid=False)
    await client.post(f"/orders/{unpaid.order_id}/cancel", headers=store.buyer.headers)
    await jobs.run(app)
    assert await count(app, "order_refund") == 0
    assert paystack.refunds == []


async def test_a_refund_whose_webhook_never_came_is_verified(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs, heard: Heard
) -> None:
    store = await shop(app, client)
    placed = await place(app, paystack, store, [(0, 1)], status=OrderStatus.confirmed)
    await client.post(f"/orders/{placed.order_id}/cancel", headers=store.buyer.headers)
    await jobs.run(app)
    paystack.finish_refund(paystack.refunds[0].id)  # Paystack is done; its webhook is lost

    async def track() -> list[str]:
        async with unit_of_work(app.state.runtime.database) as db:
            track_refunds.enqueue(db)
        return await jobs.run(app)

    await track()  # accepted a moment ago: not yet worth asking
    assert (await order_view(client, store, placed))["refunds"][0]["status"] == "processing"
    async with unit_of_work(app.state.runtime.database) as db:
        await db.execute(
            update(OrderRefund).values(updated_at=utcnow() - VERIFY_AFTER - timedelta(minutes=1))
        )
    await track()
    await track()
    assert (await order_view(client, store, placed))["refunds"][0]["status"] == "processed"
    assert len(heard.of("refund.processed")) == 1
    assert paystack.calls["refund.fetch"] == 1
    assert len(paystack.refunds) == 1
