"""A verified payment's webhook job reads the paid group and its store orders once: checkout's
confirmation hands them to the ledger's booking of the same event (same transaction)."""

from __future__ import annotations

from typing import Any

import httpx

from oja.sandbox.paystack import PaystackFake
from tests.conftest import Jobs
from tests.core.test_statement_budget import statements

from .conftest import count, person
from .shop import add, checkout, paid_webhook, paystack, paystack_server, settings, shop

__all__ = ["paystack", "paystack_server", "settings"]


async def _pay_a_two_store_cart(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> list[str]:
    """A buyer checks out a cart from two stores and pays; the statements the webhook job sent."""
    a = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 5}])
    b = await shop(app, client, "Store B", [{"sku": "B-1", "price": 999, "stock": 3}])
    buyer = await person(client)
    await add(client, buyer, a.variant(0)["id"], 2)
    await add(client, buyer, b.variant(0)["id"], 1)
    reference = (await checkout(client, buyer)).json()["payment"]["reference"]
    with statements(app) as sent:
        assert await paid_webhook(app, client, paystack, jobs, reference) == ["succeeded"]
    return list(sent)


async def test_the_ledger_books_the_group_checkout_just_paid_without_reading_it_again(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    sent = await _pay_a_two_store_cart(app, client, paystack, jobs)
    by_reference = [s for s in sent if "WHERE order_group.payment_reference =" in s]
    orders_of_group = [
        s for s in sent if "FROM store_order" in s and "WHERE store_order.group_id =" in s
    ]
    assert len(by_reference) == 1, by_reference  # checkout's; the ledger's was a second
    assert len(orders_of_group) == 1, orders_of_group
    assert await count(app, "order_group", "status = 'paid'") == 1
    assert await count(app, "store_order", "status = 'confirmed'") == 2
    assert await count(app, "ledger_transaction") == 2  # payment and fee, booked once
    assert await count(app, "store_settlement") == 2


async def test_confirming_a_store_order_reads_it_back_in_its_update(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    """Each store order's move to ``confirmed`` is one ``UPDATE … RETURNING`` that refreshes the
    order in the session, not an UPDATE and then a SELECT of the same row."""
    sent = await _pay_a_two_store_cart(app, client, paystack, jobs)
    updates = [s for s in sent if s.startswith("UPDATE store_order SET status")]
    assert len(updates) == 2, updates
    assert all(" RETURNING " in s for s in updates), updates
    reloads = [s for s in sent if "FROM store_order" in s and "WHERE store_order.id =" in s]
    assert reloads == []
    assert await count(app, "order_transition", "to_status = 'confirmed'") == 2
    assert await count(app, "store_order", "status = 'confirmed'") == 2
