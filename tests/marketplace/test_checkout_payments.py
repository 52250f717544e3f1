"""Paying an order group, over real HTTP to the provider fakes.

Flutterwave Standard at checkout: hosted link in major units, webhook (``verif-hash`` or the v4
``flutterwave-signature``) → inbox → verify by id or by ``tx_ref`` → the same settlement as Paystack;
forged, lying and replayed deliveries change nothing. Failed payments: the group waits with the
reason and is paid again under a new reference; a late success of an earlier attempt pays it once;
the reservation expiry still cancels it."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from oja.core.clock import utcnow
from oja.core.config import Settings
from oja.core.db import unit_of_work
from oja.marketplace.checkout.jobs import expire_reservations
from oja.marketplace.orders.models import OrderGroup
from oja.sandbox import flutterwave as flutterwave_fake
from oja.sandbox import paystack as paystack_fake
from oja.sandbox.flutterwave import DEFAULT_SECRET_HASH, FlutterwaveFake, hmac_signature
from oja.sandbox.paystack import PaystackFake
from tests.billing.conftest import Served as BillingServed
from tests.billing.conftest import flutterwave, flutterwave_server, paystack_headers
from tests.conftest import Jobs, make_settings

from .conftest import Person, admin, count, error_code, person, rows
from .shop import Served, Store, add, checkout, paystack, paystack_server, shop

__all__ = ["flutterwave", "flutterwave_server", "paystack", "paystack_server"]

WEBHOOK = "/payments/flutterwave/webhook"
V3 = {"content-type": "application/json", "verif-hash": DEFAULT_SECRET_HASH}


@pytest.fixture
def settings(
    tmp_path: Path,
    database_url: str,
    paystack_server: Served,
    flutterwave_server: BillingServed,
) -> Settings:
    """Billing pointed at both fakes."""
    return make_settings(
        tmp_path,
        database_url,
        paystack_base_url=paystack_server.url,
        paystack_secret_key=paystack_fake.DEFAULT_SECRET_KEY,
        flutterwave_base_url=flutterwave_server.url,
        flutterwave_secret_key=flutterwave_fake.DEFAULT_SECRET_KEY,
        flutterwave_secret_hash=flutterwave_fake.DEFAULT_SECRET_HASH,
        flutterwave_redirect_url="http://testserver/payments/flutterwave/return",
    )


async def two_stores(app: Any, client: httpx.AsyncClient) -> tuple[Store, Store, Person]:
    boss = await admin(app, client)
    a = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1050, "stock": 5}], boss=boss)
    b = await shop(app, client, "Store B", [{"sku": "B-1", "price": 999, "stock": 3}], boss=boss)
    buyer = await person(client)
    await add(client, buyer, a.variant()["id"], 2)
    await add(client, buyer, b.variant()["id"], 1)
    return a, b, buyer


async def group_state(app: Any) -> list[Any]:
    return await rows(app, "SELECT status, provider, flag_reason FROM order_group")


async def inbox(app: Any) -> list[str]:
    return [o for (o,) in await rows(app, "SELECT outcome FROM webhook_event ORDER BY received_at")]


async def order_states(app: Any) -> list[Any]:
    return await rows(app, "SELECT status FROM store_order ORDER BY status")


async def test_checkout_paid_through_flutterwave_once(
    app: Any,
    client: httpx.AsyncClient,
    flutterwave: FlutterwaveFake,
    flutterwave_server: BillingServed,
    paystack: PaystackFake,
    jobs: Jobs,
) -> None:
    a, b, buyer = await two_stores(app, client)
    response = await checkout(client, buyer, provider="flutterwave")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["status"], body["total"], body["currency"]) == ("awaiting_payment", 3099, "NGN")
    reference = body["payment"]["reference"]
    charge = flutterwave.by_reference(reference)
    assert body["payment"] == {
        "provider": "flutterwave",
        "reference": reference,
        "authorization_url": f"{flutterwave_server.url}/v3/hosted/pay/{charge.token}",
    }
    assert charge.amount == Decimal("30.99")  # major units on the wire only
    assert charge.meta["order_group_id"] == body["order_group_id"]
    assert paystack.calls["initialize"] == 0
    assert await rows(app, "SELECT provider, amount, status FROM payment") == [
        ("flutterwave", 3099, "pending")
    ]

    # Forged deliveries: nothing stored, nothing verified.
    flutterwave.settle(reference, "successful")
    delivery = flutterwave.webhook_body(charge)
    for headers in (
        {"content-type": "application/json", "verif-hash": "not-the-hash"},
        {"content-type": "application/json"},
        {"flutterwave-signature": hmac_signature("another-secret", delivery)},
    ):
        forged = await client.post(WEBHOOK, content=delivery, headers=headers)
        assert forged.status_code == 400, forged.text
    assert await count(app, "webhook_event") == 0
    assert await group_state(app) == [("awaiting_payment", "flutterwave", None)]

    # The real delivery, twice: one event, one verify by Flutterwave's id, one booking.
    for _ in range(2):
        answer = await client.post(WEBHOOK, content=delivery, headers=V3)
        assert answer.status_code == 200, answer.text
    assert await count(app, "webhook_event") == 1
    outcomes = [o for kind, o in await jobs.run_kinds(app) if kind.startswith("billing.")]
    assert outcomes == ["succeeded"]
    assert await inbox(app) == ["credited"]
    assert flutterwave.calls["verify"] == 1
    assert await group_state(app) == [("paid", "flutterwave", None)]
    assert await order_states(app) == [("confirmed",), ("confirmed",)]
    booked = await rows(
        app, "SELECT source, kind, amount, currency FROM ledger_transaction ORDER BY source"
    )
    fee = 43  # Flutterwave's app_fee on 30.99 NGN (the fake's 1.4 %), in kobo
    assert booked == [
        (f"fee:{reference}", "fee", fee, "NGN"),
        (f"payment:{reference}", "payment", 3099, "NGN"),
    ]
    shares = await rows(
        app,
        "SELECT a.kind, a.vendor_id, p.amount FROM ledger_posting p "
        "JOIN ledger_account a ON a.id = p.account_id ORDER BY a.kind, p.amount",
    )
    assert sum(amount for _, _, amount in shares) == 0
    assert [(kind, amount) for kind, _, amount in shares if kind == "provider_clearing"] == [
        ("provider_clearing", -fee),
        ("provider_clearing", 3099),
    ]
    store_shares = {
        str(uuid.UUID(str(v))): -amount for kind, v, amount in shares if kind == "store_pending"
    }
    revenue = -sum(amount for kind, _, amount in shares if kind == "platform_revenue")
    assert set(store_shares) == {a.id, b.id}
    assert sum(store_shares.values()) + revenue == 3099

    # A v4 delivery of the same news (HMAC signature, its envelope, no numeric id: verify by
    # tx_ref) is stored, verified, and changes nothing.
    v4 = json.dumps(
        {
            "id": "wbk_checkout_1",
            "type": "charge.completed",
            "timestamp": 1,
            "data": {"id": "chg_x", "reference": reference, "status": "succeeded"},
        }
    ).encode()
    signed = {"flutterwave-signature": hmac_signature(DEFAULT_SECRET_HASH, v4)}
    assert (await client.post(WEBHOOK, content=v4, headers=signed)).status_code == 200
    outcomes = [o for kind, o in await jobs.run_kinds(app) if kind.startswith("billing.")]
    assert outcomes == ["succeeded"]
    assert await inbox(app) == ["credited", "unchanged"]
    assert flutterwave.calls["verify_by_reference"] == 1
    assert await count(app, "ledger_transaction") == 2
    assert await group_state(app) == [("paid", "flutterwave", None)]


async def test_a_lying_verify_flags_the_group_and_confirms_nothing(
    app: Any, client: httpx.AsyncClient, flutterwave: FlutterwaveFake, jobs: Jobs
) -> None:
    _, _, buyer = await two_stores(app, client)
    response = await checkout(client, buyer, provider="flutterwave")
    reference = response.json()["payment"]["reference"]
    charge = flutterwave.settle(reference, "successful")
    flutterwave.misreport_next_verify(amount=30.98)  # one kobo short
    answer = await client.post(WEBHOOK, content=flutterwave.webhook_body(charge), headers=V3)
    assert answer.status_code == 200
    outcomes = [o for kind, o in await jobs.run_kinds(app) if kind.startswith("billing.")]
    assert outcomes == ["succeeded"]
    assert await inbox(app) == ["amount_mismatch"]
    [(status, provider, reason)] = await group_state(app)
    assert (status, provider) == ("flagged", "flutterwave")
    assert reason.startswith("amount_mismatch")
    assert await order_states(app) == [("pending",), ("pending",)]
    assert await count(app, "ledger_transaction") == 0


async def test_a_paystack_event_naming_a_flutterwave_group_changes_nothing(
    app: Any,
    client: httpx.AsyncClient,
    flutterwave: FlutterwaveFake,
    paystack: PaystackFake,
    jobs: Jobs,
) -> None:
    _, _, buyer = await two_stores(app, client)
    response = await checkout(client, buyer, provider="flutterwave")
    reference = response.json()["payment"]["reference"]
    body = json.dumps(
        {"event": "charge.success", "data": {"id": 1, "reference": reference}}
    ).encode()
    signature = paystack_fake.sign(paystack_fake.DEFAULT_SECRET_KEY, body)
    answer = await client.post(
        "/payments/paystack/webhook",
        content=body,
        headers={"content-type": "application/json", "x-paystack-signature": signature},
    )
    assert answer.status_code == 200
    outcomes = [o for kind, o in await jobs.run_kinds(app) if kind.startswith("billing.")]
    assert outcomes == ["succeeded"]
    assert await inbox(app) == ["ignored:other_provider"]
    assert paystack.calls["verify"] == 0
    assert await group_state(app) == [("awaiting_payment", "flutterwave", None)]
    assert await count(app, "ledger_transaction") == 0


# Failed payments: the group waits with the reason; the buyer pays again under a new reference.

PAYSTACK_WEBHOOK = "/payments/paystack/webhook"


async def paystack_says(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs, ref: str, outcome: str
) -> None:
    transaction = paystack.settle(ref, outcome)
    event = "charge.success" if outcome == "success" else "charge.failed"
    body = paystack.webhook_body(event, transaction)
    answer = await client.post(PAYSTACK_WEBHOOK, content=body, headers=paystack_headers(body))
    assert answer.status_code == 200, answer.text
    await jobs.run_kinds(app)


async def group_row(app: Any) -> tuple[Any, ...]:
    [row] = await rows(
        app, "SELECT status, payment_reference, failure_reason, flag_reason FROM order_group"
    )
    return tuple(row)


async def test_a_failed_payment_waits_and_is_paid_again_under_a_new_reference(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    _, _, buyer = await two_stores(app, client)
    placed = (await checkout(client, buyer)).json()
    group_id, first = placed["order_group_id"], placed["payment"]["reference"]
    await paystack_says(app, client, paystack, jobs, first, "failed")
    assert await group_row(app) == ("awaiting_payment", first, "Declined", None)
    assert await order_states(app) == [("pending",), ("pending",)]
    told = "SELECT user_id, event, title FROM notification WHERE event = 'payment.failed'"
    assert [(str(uuid.UUID(str(u))), e, t) for u, e, t in await rows(app, told)] == [
        (buyer.id, "payment.failed", f"Payment for order {group_id} failed")
    ]
    assert await rows(app, "SELECT sku, stock FROM product_variant ORDER BY sku") == [
        ("A-1", 3),
        ("B-1", 2),
    ]  # still reserved
    shown = await client.get(f"/order-groups/{group_id}", headers=buyer.headers)
    assert (shown.json()["status"], shown.json()["failure_reason"]) == (
        "awaiting_payment",
        "Declined",
    )

    # Another buyer cannot touch it; the buyer pays again.
    other = await person(client)
    stranger = await client.post(f"/order-groups/{group_id}/pay", headers=other.headers)
    assert stranger.status_code == 404
    again = await client.post(
        f"/order-groups/{group_id}/pay",
        json={"callback_url": "https://shop.example/paid"},
        headers=buyer.headers,
    )
    assert again.status_code == 201, again.text
    second = again.json()["payment"]["reference"]
    assert second != first
    assert again.json()["payment"]["provider"] == "paystack"
    assert paystack.transactions[second].callback_url == "https://shop.example/paid"
    assert paystack.calls["initialize"] == 2
    assert await group_row(app) == ("awaiting_payment", second, None, None)
    assert await rows(app, "SELECT reference, status, amount FROM payment ORDER BY created_at") == [
        (first, "failed", 3099),
        (second, "pending", 3099),
    ]

    # While the new attempt is open, paying again is refused and starts nothing.
    twice = await client.post(f"/order-groups/{group_id}/pay", headers=buyer.headers)
    assert (twice.status_code, error_code(twice)) == (409, "payment_not_retryable")
    assert twice.json()["error"]["details"] == {"payment_status": "pending"}
    assert paystack.calls["initialize"] == 2

    await paystack_says(app, client, paystack, jobs, second, "success")
    assert await group_row(app) == ("paid", second, None, None)
    assert await order_states(app) == [("confirmed",), ("confirmed",)]
    assert await rows(app, "SELECT source FROM ledger_transaction WHERE kind = 'payment'") == [
        (f"payment:{second}",)
    ]

    # The first attempt turning out paid after all changes nothing for the group or the ledger
    # (the money is credited in billing for an operator's refund).
    await paystack_says(app, client, paystack, jobs, first, "success")
    assert await group_row(app) == ("paid", second, None, None)
    assert await rows(app, "SELECT source FROM ledger_transaction WHERE kind = 'payment'") == [
        (f"payment:{second}",)
    ]
    assert await inbox(app) == ["moved", "credited", "credited"]
    assert len(await rows(app, told)) == 1  # told once
    paid = await client.post(f"/order-groups/{group_id}/pay", headers=buyer.headers)
    assert (paid.status_code, error_code(paid)) == (409, "payment_not_retryable")
    assert paid.json()["error"]["details"] == {"status": "paid"}


async def test_an_earlier_attempt_verified_late_pays_the_group_once(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    _, _, buyer = await two_stores(app, client)
    placed = (await checkout(client, buyer)).json()
    group_id, first = placed["order_group_id"], placed["payment"]["reference"]
    await paystack_says(app, client, paystack, jobs, first, "failed")
    again = await client.post(f"/order-groups/{group_id}/pay", headers=buyer.headers)
    second = again.json()["payment"]["reference"]

    await paystack_says(app, client, paystack, jobs, first, "success")  # the bank relented
    assert await group_row(app) == ("paid", first, None, None)
    assert await order_states(app) == [("confirmed",), ("confirmed",)]
    await paystack_says(app, client, paystack, jobs, second, "success")
    assert await group_row(app) == ("paid", first, None, None)
    assert await rows(
        app, "SELECT source, amount FROM ledger_transaction WHERE kind = 'payment'"
    ) == [(f"payment:{first}", 3099)]


async def test_a_failure_of_a_replaced_attempt_or_another_buyers_metadata_changes_nothing(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    _, _, buyer = await two_stores(app, client)
    placed = (await checkout(client, buyer)).json()
    group_id, first = placed["order_group_id"], placed["payment"]["reference"]
    await paystack_says(app, client, paystack, jobs, first, "failed")
    second = (await client.post(f"/order-groups/{group_id}/pay", headers=buyer.headers)).json()[
        "payment"
    ]["reference"]
    # A replayed failure of the first attempt: the current one is untouched.
    transaction = paystack.transactions[first]
    body = paystack.webhook_body("charge.failed", transaction)
    await client.post(PAYSTACK_WEBHOOK, content=body, headers=paystack_headers(body))
    await jobs.run_kinds(app)
    assert await group_row(app) == ("awaiting_payment", second, None, None)

    # Another user's own payment whose metadata names this group does not pay it.
    intruder = await person(client)
    started = await client.post(
        "/payments/paystack/initiate",
        json={"amount": 3099, "metadata": {"order_group_id": group_id}},
        headers=intruder.headers,
    )
    assert started.status_code == 201, started.text
    await paystack_says(app, client, paystack, jobs, started.json()["reference"], "success")
    assert await group_row(app) == ("awaiting_payment", second, None, None)
    assert await count(app, "ledger_transaction") == 0


async def test_the_reservation_expiry_still_cancels_a_failed_group(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    _, _, buyer = await two_stores(app, client)
    placed = (await checkout(client, buyer)).json()
    group_id, first = placed["order_group_id"], placed["payment"]["reference"]
    await paystack_says(app, client, paystack, jobs, first, "failed")
    async with unit_of_work(app.state.runtime.database) as db:
        await db.execute(update(OrderGroup).values(expires_at=utcnow() - timedelta(seconds=1)))
    late = await client.post(f"/order-groups/{group_id}/pay", headers=buyer.headers)
    assert (late.status_code, error_code(late)) == (409, "payment_not_retryable")
    assert late.json()["error"]["details"] == {"status": "expired"}
    assert paystack.calls["initialize"] == 1
    async with unit_of_work(app.state.runtime.database) as db:
        expire_reservations.enqueue(db)
    await jobs.run(app)
    assert (await group_row(app))[0] == "expired"
    assert await order_states(app) == [("canceled",), ("canceled",)]
    assert await rows(app, "SELECT sku, stock FROM product_variant ORDER BY sku") == [
        ("A-1", 5),
        ("B-1", 3),
    ]
    assert paystack.calls["initialize"] == 1


async def test_a_failed_flutterwave_payment_is_paid_again_through_flutterwave(
    app: Any,
    client: httpx.AsyncClient,
    flutterwave: FlutterwaveFake,
    paystack: PaystackFake,
    jobs: Jobs,
) -> None:
    _, _, buyer = await two_stores(app, client)
    placed = (await checkout(client, buyer, provider="flutterwave")).json()
    group_id, first = placed["order_group_id"], placed["payment"]["reference"]
    charge = flutterwave.settle(first, "failed")
    answer = await client.post(WEBHOOK, content=flutterwave.webhook_body(charge), headers=V3)
    assert answer.status_code == 200
    await jobs.run_kinds(app)
    assert await group_row(app) == ("awaiting_payment", first, "Declined", None)
    again = await client.post(f"/order-groups/{group_id}/pay", headers=buyer.headers)
    assert again.status_code == 201, again.text
    second = again.json()["payment"]["reference"]
    assert (second != first, again.json()["payment"]["provider"]) == (True, "flutterwave")
    assert flutterwave.by_reference(second).amount == Decimal("30.99")
    assert paystack.calls["initialize"] == 0
    charge = flutterwave.settle(second, "successful")
    await client.post(WEBHOOK, content=flutterwave.webhook_body(charge), headers=V3)
    await jobs.run_kinds(app)
    assert await group_row(app) == ("paid", second, None, None)
    assert await rows(app, "SELECT source FROM ledger_transaction WHERE kind = 'payment'") == [
        (f"payment:{second}",)
    ]


@pytest.mark.postgres
async def test_concurrent_retries_open_one_attempt(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        return  # the race needs real concurrent transactions
    _, _, buyer = await two_stores(app, client)
    placed = (await checkout(client, buyer)).json()
    group_id, first = placed["order_group_id"], placed["payment"]["reference"]
    await paystack_says(app, client, paystack, jobs, first, "failed")
    answers = await asyncio.gather(
        *(client.post(f"/order-groups/{group_id}/pay", headers=buyer.headers) for _ in range(5))
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * 4
    [won] = [a.json()["payment"]["reference"] for a in answers if a.status_code == 201]
    assert {error_code(a) for a in answers if a.status_code == 409} == {"payment_not_retryable"}
    assert await group_row(app) == ("awaiting_payment", won, None, None)
    # Every loser's transaction was dropped with its request: one attempt besides the first.
    assert await rows(app, "SELECT reference, status FROM payment ORDER BY created_at") == [
        (first, "failed"),
        (won, "pending"),
    ]
