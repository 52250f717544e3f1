"""Checkout: one transaction from cart to orders and a payment; stock reserved atomically, nothing
kept on any failure; the verified payment confirms the orders once; unpaid reservations expire."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from oja.core.clock import utcnow
from oja.core.db import unit_of_work
from oja.core.events import subscribe
from oja.core.jobs import Job
from oja.marketplace.checkout.jobs import expire_reservations
from oja.marketplace.orders.models import OrderGroup
from oja.sandbox.paystack import PaystackFake
from tests.billing.conftest import paystack_headers
from tests.conftest import Jobs, use_settings
from tests.core.test_statement_budget import statements

from .conftest import Person, admin, count, error_code, person, rows
from .scoping import statement_log
from .shop import (
    ADDRESS,
    Store,
    add,
    checkout,
    new_key,
    paid_webhook,
    paystack,
    paystack_server,
    settings,
    shop,
)

__all__ = ["paystack", "paystack_server", "settings"]

CREATED_TABLES = ("order_group", "store_order", "order_line", "order_transition", "payment")


async def created(app: Any) -> dict[str, int]:
    return {table: await count(app, table) for table in CREATED_TABLES}


async def stocks(app: Any) -> dict[str, int]:
    return dict(await rows(app, "SELECT sku, stock FROM product_variant"))


async def two_stores(app: Any, client: httpx.AsyncClient) -> tuple[Store, Store, Person]:
    boss = await admin(app, client)
    a = await shop(
        app,
        client,
        "Store A",
        [{"sku": "A-1", "price": 1000, "stock": 5}, {"sku": "A-2", "price": 2000, "stock": 5}],
        boss=boss,
    )
    b = await shop(app, client, "Store B", [{"sku": "B-1", "price": 999, "stock": 3}], boss=boss)
    buyer = await person(client)
    await add(client, buyer, a.variant(0)["id"], 2)
    await add(client, buyer, a.variant(1)["id"], 1)
    await add(client, buyer, b.variant()["id"], 3)
    return a, b, buyer


async def test_checkout_two_stores_with_a_code(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake
) -> None:
    a, b, buyer = await two_stores(app, client)
    code = await client.post(
        "/vendors/me/discounts",
        json={
            "type": "percentage",
            "value": 10,
            "scope": "store",
            "code": "WELCOME",
            "usage_limit": 5,
        },
        headers=a.owner.headers,
    )
    assert code.status_code == 201, code.text
    response = await checkout(client, buyer, discount_code="welcome")
    assert response.status_code == 201, response.text
    body = response.json()
    # A: 2 × 1000 − 10 % and 1 × 2000 − 10 % = 3600 (discount 400); B: 3 × 999 = 2997.
    assert (body["status"], body["subtotal"], body["discount_total"], body["total"]) == (
        "awaiting_payment",
        6997,
        400,
        6597,
    )
    assert body["currency"] == "NGN"
    orders = {o["vendor_id"]: o for o in body["orders"]}
    assert {
        k: (o["status"], o["subtotal"], o["discount_total"], o["total"]) for k, o in orders.items()
    } == {
        a.id: ("pending", 4000, 400, 3600),
        b.id: ("pending", 2997, 0, 2997),
    }
    lines = [
        (
            ln["sku"],
            ln["quantity"],
            ln["unit_price"],
            ln["unit_discount"],
            ln["tax"],
            ln["line_total"],
            ln["discount_id"],
        )
        for o in (orders[a.id], orders[b.id])
        for ln in o["lines"]
    ]
    assert lines == [
        ("A-1", 2, 1000, 100, 0, 1800, code.json()["id"]),
        ("A-2", 1, 2000, 200, 0, 1800, code.json()["id"]),
        ("B-1", 3, 999, 0, 0, 2997, None),
    ]
    reference = body["payment"]["reference"]
    assert body["payment"]["authorization_url"].endswith(
        paystack.transactions[reference].access_code
    )
    assert paystack.transactions[reference].amount == 6597
    assert paystack.transactions[reference].metadata["order_group_id"] == body["order_group_id"]
    assert await rows(app, "SELECT amount, currency, status FROM payment") == [
        (6597, "NGN", "pending")
    ]
    assert await stocks(app) == {"A-1": 3, "A-2": 4, "B-1": 0}
    assert sorted(
        await rows(app, "SELECT reason, delta FROM stock_movement WHERE reason = 'checkout'")
    ) == [
        ("checkout", -3),
        ("checkout", -2),
        ("checkout", -1),
    ]
    assert await rows(app, "SELECT from_status, to_status, note FROM order_transition") == [
        (None, "pending", "checkout"),
        (None, "pending", "checkout"),
    ]
    assert await rows(app, "SELECT used_count FROM discount") == [(1,)]
    assert await count(app, "discount_redemption") == 1
    assert await count(app, "cart_item") == 0
    group = await one_group(app)
    assert (group.shipping_address["city"], group.shipping_address["country"]) == ("Ikeja", "NG")
    assert (group.discount_code, group.provider) == ("WELCOME", "paystack")
    assert group.expires_at - group.created_at == timedelta(minutes=30)


async def one_group(app: Any) -> OrderGroup:
    async with unit_of_work(app.state.runtime.database) as db:
        return (await db.execute(select(OrderGroup))).scalar_one()


async def test_out_of_stock_reserves_nothing(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake
) -> None:
    a, b, buyer = await two_stores(app, client)
    url = f"/products/{b.products[0]['id']}/variants/{b.variant()['id']}/stock"
    assert (await client.post(url, json={"adjust": -2}, headers=b.owner.headers)).status_code == 200
    before, stock_before = await created(app), await stocks(app)
    movements = await count(app, "stock_movement")
    refused = await checkout(client, buyer)
    assert (refused.status_code, error_code(refused)) == (409, "out_of_stock")
    assert refused.json()["error"]["details"] == {
        "lines": [{"variant_id": b.variant()["id"], "sku": "B-1", "requested": 3, "available": 1}]
    }
    assert await created(app) == before == dict.fromkeys(CREATED_TABLES, 0)
    assert await stocks(app) == stock_before == {"A-1": 5, "A-2": 5, "B-1": 1}
    assert await count(app, "stock_movement") == movements
    assert await count(app, "cart_item") == 3
    assert paystack.calls["initialize"] == 0


async def test_provider_failure_keeps_nothing(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake
) -> None:
    _, _, buyer = await two_stores(app, client)
    paystack.fail_next()
    down = await checkout(client, buyer)
    assert (down.status_code, error_code(down)) == (502, "provider_unavailable")
    assert await created(app) == dict.fromkeys(CREATED_TABLES, 0)
    assert await stocks(app) == {"A-1": 5, "A-2": 5, "B-1": 3}
    assert await count(app, "cart_item") == 3
    # Flutterwave without its key on this deployment: a clear 503, and nothing kept either.
    flutterwave = await checkout(client, buyer, provider="flutterwave")
    assert (flutterwave.status_code, error_code(flutterwave)) == (503, "not_configured")
    assert flutterwave.json()["error"]["details"]["settings"] == ["OJA_FLUTTERWAVE_SECRET_KEY"]
    assert await created(app) == dict.fromkeys(CREATED_TABLES, 0)
    assert await stocks(app) == {"A-1": 5, "A-2": 5, "B-1": 3}
    bad = await client.post(
        "/checkout", json={"shipping_address": {"name": "X"}}, headers=buyer.headers
    )
    assert bad.status_code == 422
    anonymous = await client.post("/checkout", json={"shipping_address": ADDRESS})
    assert anonymous.status_code == 401
    assert paystack.calls["initialize"] == 1


async def test_idempotent_replay(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake
) -> None:
    _, _, buyer = await two_stores(app, client)
    key = new_key()
    first = await checkout(client, buyer, key)
    assert first.status_code == 201, first.text
    again = await checkout(client, buyer, key)
    assert (again.status_code, again.json()) == (201, first.json())
    other = await checkout(client, buyer, key, discount_code="NOPE")
    assert (other.status_code, error_code(other)) == (409, "idempotency_key_reused")
    assert await created(app) == {
        "order_group": 1,
        "store_order": 2,
        "order_line": 3,
        "order_transition": 2,
        "payment": 1,
    }
    assert paystack.calls["initialize"] == 1
    empty = await checkout(client, buyer, new_key())
    assert (empty.status_code, error_code(empty)) == (409, "cart_empty")


async def test_three_stores_one_payment_each_store_its_own_order(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake
) -> None:
    boss = await admin(app, client)
    stores = [
        await shop(
            app,
            client,
            f"Store {n}",
            [{"sku": f"S{n}", "price": 100 * (n + 1), "stock": 4}],
            boss=boss,
        )
        for n in range(3)
    ]
    buyer = await person(client)
    for store in stores:
        await add(client, buyer, store.variant()["id"], 2)
    with statement_log(app.state.runtime.database.engine) as log, log.on():
        response = await checkout(client, buyer)
    assert response.status_code == 201, response.text
    assert log.unscoped() == []
    body = response.json()
    assert body["total"] == 1200
    assert paystack.calls["initialize"] == 1
    assert await count(app, "payment") == 1
    owners = {o["vendor_id"]: [ln["sku"] for ln in o["lines"]] for o in body["orders"]}
    assert owners == {s.id: [s.store["name"].replace("Store ", "S")] for s in stores}
    per_store = await rows(
        app,
        "SELECT o.vendor_id, l.vendor_id, v.vendor_id FROM store_order o "
        "JOIN order_line l ON l.order_id = o.id JOIN product_variant v ON v.id = l.variant_id",
    )
    assert len(per_store) == 3
    assert all(len({str(x) for x in row}) == 1 for row in per_store)


async def test_verified_payment_confirms_every_order_once(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    heard: list[dict[str, Any]] = []

    async def listen(**payload: Any) -> None:
        heard.append(payload)

    subscribe("order.confirmed", listen)
    _, _, buyer = await two_stores(app, client)
    body = (await checkout(client, buyer)).json()
    reference = body["payment"]["reference"]
    assert await paid_webhook(app, client, paystack, jobs, reference) == ["succeeded"]
    assert await rows(app, "SELECT status, flag_reason FROM order_group") == [("paid", None)]
    assert await rows(app, "SELECT DISTINCT status FROM store_order") == [("confirmed",)]
    confirmed = "SELECT from_status, to_status, actor_id, note FROM order_transition WHERE to_status = 'confirmed'"
    assert await rows(app, confirmed) == [("pending", "confirmed", None, "payment verified")] * 2
    assert sorted(str(e["order_id"]) for e in heard) == sorted(o["id"] for o in body["orders"])
    # The same webhook again, and a fresh delivery of the same charge: nothing new.
    transaction = paystack.transactions[reference]
    replay = paystack.webhook_body("charge.success", transaction)
    for _ in range(2):
        await client.post(
            "/payments/paystack/webhook", content=replay, headers=paystack_headers(replay)
        )
    await jobs.run(app)
    assert await rows(app, confirmed) == [("pending", "confirmed", None, "payment verified")] * 2
    assert len(heard) == 2
    assert await count(app, "order_transition") == 4


async def test_amount_mismatch_is_flagged_and_confirms_nothing(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    _, _, buyer = await two_stores(app, client)
    reference = (await checkout(client, buyer)).json()["payment"]["reference"]
    paystack.misreport_next_verify(100)
    await paid_webhook(app, client, paystack, jobs, reference)
    [(status, reason)] = await rows(app, "SELECT status, flag_reason FROM order_group")
    assert status == "flagged"
    assert reason == "amount_mismatch: the provider verified 100 NGN, the group is 6997 NGN"
    assert await rows(app, "SELECT DISTINCT status FROM store_order") == [("pending",)]
    assert await count(app, "order_transition", "to_status = 'confirmed'") == 0


async def _due(app: Any) -> None:
    async with unit_of_work(app.state.runtime.database) as db:
        await db.execute(update(OrderGroup).values(expires_at=utcnow() - timedelta(seconds=1)))


async def test_expiry_returns_stock_once_and_a_late_payment_is_flagged(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    a, _, buyer = await two_stores(app, client)
    await client.post(
        "/vendors/me/discounts",
        json={"type": "fixed", "value": 100, "scope": "store", "code": "TAKE100"},
        headers=a.owner.headers,
    )
    reference = (await checkout(client, buyer, discount_code="TAKE100")).json()["payment"][
        "reference"
    ]
    assert await stocks(app) == {"A-1": 3, "A-2": 4, "B-1": 0}
    assert await rows(app, "SELECT used_count FROM discount") == [(1,)]
    await expire(app, jobs)  # not yet due: nothing happens
    assert await rows(app, "SELECT status FROM order_group") == [("awaiting_payment",)]
    await _due(app)
    assert await expire(app, jobs) == [{"expired": 1}]
    assert await expire(app, jobs) == [{"expired": 0}]
    assert await rows(app, "SELECT status FROM order_group") == [("expired",)]
    assert await rows(app, "SELECT DISTINCT status, cancel_reason FROM store_order") == [
        ("canceled", "reservation expired")
    ]
    assert await count(app, "order_transition", "to_status = 'canceled'") == 2
    assert await stocks(app) == {"A-1": 5, "A-2": 5, "B-1": 3}
    assert sorted(
        await rows(app, "SELECT delta FROM stock_movement WHERE reason = 'reservation_expired'")
    ) == [(1,), (2,), (3,)]
    assert await rows(app, "SELECT used_count FROM discount") == [(0,)]
    assert await count(app, "discount_redemption") == 0
    # The buyer pays after all: the group is flagged for a refund, never resurrected.
    await paid_webhook(app, client, paystack, jobs, reference)
    assert await rows(app, "SELECT status, flag_reason FROM order_group") == [
        ("flagged", "paid_after_expiry")
    ]
    assert await rows(app, "SELECT DISTINCT status FROM store_order") == [("canceled",)]
    assert await stocks(app) == {"A-1": 5, "A-2": 5, "B-1": 3}


async def expire(app: Any, jobs: Jobs) -> list[Any]:
    async with unit_of_work(app.state.runtime.database) as db:
        expire_reservations.enqueue(db)
    await jobs.run(app)
    async with unit_of_work(app.state.runtime.database) as db:
        found = await db.execute(
            select(Job.result)
            .where(Job.kind == expire_reservations.kind)
            .order_by(Job.created_at.desc())
            .limit(1)
        )
        return list(found.scalars())


def shapes(sent: list[str]) -> list[str]:
    """``VERB table`` per statement: the table read, written or deleted from."""
    out = []
    for statement in sent:
        words = statement.replace('"', "").split()
        verb = words[0].upper()
        after = {"SELECT": "FROM", "INSERT": "INTO", "DELETE": "FROM", "UPDATE": "UPDATE"}[verb]
        out.append(f"{verb} {words[words.index(after) + 1]}")
    return out


async def ten_lines_three_stores(app: Any, client: httpx.AsyncClient) -> Person:
    boss = await admin(app, client)
    buyer = await person(client)
    for n, size in enumerate((4, 3, 3)):
        store = await shop(
            app,
            client,
            f"Store {n}",
            [{"sku": f"S{n}-{i}", "price": 100 * (i + 1), "stock": 50} for i in range(size)],
            boss=boss,
        )
        for index in range(size):
            await add(client, buyer, store.variant(index)["id"], 2)
    return buyer


async def test_checkout_statement_budget(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake
) -> None:
    """A 10-line cart across 3 stores, with an Idempotency-Key: every statement, counted."""
    buyer = await ten_lines_three_stores(app, client)
    with statements(app) as sent:
        response = await checkout(client, buyer, new_key())
    assert response.status_code == 201, response.text
    assert len(response.json()["orders"]) == 3
    assert shapes(sent) == [
        "SELECT user",
        "SELECT order_group",
        "SELECT cart_item",
        "SELECT discount",
        "SELECT vendor_subscription",
        "SELECT store_visitor",
        "UPDATE product_variant",
        "INSERT payment",
        "INSERT order_group",
        "INSERT store_order",
        "INSERT order_line",
        "INSERT order_transition",
        "INSERT stock_movement",
        "DELETE cart_item",
    ]
    assert len(sent) == 14 <= 40


# A race: proven on PostgreSQL only (SQLite serialises every writer).
@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_two_hundred_checkouts_for_ten_in_stock(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, database_url: str
) -> None:
    # 200 buyers of one store: beyond the free tier's distinct users (the traffic limit).
    use_settings(app, argon2_memory_cost=1024, argon2_time_cost=1, free_tier_users=200)
    store = await shop(app, client, "Scarce", [{"sku": "LAST-10", "price": 5000, "stock": 10}])
    buyers = [await person(client) for _ in range(200)]
    for buyer in buyers:
        assert (await add(client, buyer, store.variant()["id"])).status_code == 201
    answers = await asyncio.gather(*(checkout(client, buyer) for buyer in buyers))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] * 10 + [409] * 190
    refused = [a for a in answers if a.status_code == 409]
    assert {error_code(a) for a in refused} == {"out_of_stock"}
    assert {a.json()["error"]["details"]["lines"][0]["available"] for a in refused} == {0}
    assert await stocks(app) == {"LAST-10": 0}
    assert await count(app, "order_group") == 10
    assert await count(app, "store_order") == 10
    assert await count(app, "payment") == 10
    assert paystack.calls["initialize"] == 10
    assert await rows(
        app, "SELECT min(stock_after), count(*) FROM stock_movement WHERE reason = 'checkout'"
    ) == [(0, 10)]
    assert await count(app, "cart_item") == 190
