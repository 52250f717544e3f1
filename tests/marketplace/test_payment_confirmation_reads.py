"""A verified payment's webhook job reads the paid group, its store orders and their lines once:
checkout's confirmation hands them to the ledger's booking of the same event and the lines to the
orders' ``order.confirmed`` handlers (search sales, purchases), in the same transaction."""

from __future__ import annotations

from typing import Any

import httpx

from oja.core.db import unit_of_work
from oja.core.jobs.runner import execute
from oja.marketplace.ledger import checks as ledger_checks
from oja.sandbox.paystack import PaystackFake
from tests.billing.conftest import paystack_headers
from tests.conftest import Jobs
from tests.core.test_statement_budget import kinds, statements

from .conftest import count, person, rows
from .shop import (
    WEBHOOK,
    add,
    checkout,
    paid_webhook,
    paystack,
    paystack_server,
    settings,
    shop,
)

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


def _confirmation_budget(postgres: bool, *, first: bool) -> list[str]:
    """The billing job confirming a paid two-store group (one line per store), statement by
    statement: what a new statement in the job would cost every payment."""
    accounts = (
        ["WITH"]  # found or created, both transactions' accounts, one statement
        if postgres
        else ["SELECT ledger_account", "INSERT", "SELECT ledger_account"]
        if first
        else ["SELECT ledger_account"]
    )
    confirm_store_order = [
        "UPDATE",  # store_order ... RETURNING
        "INSERT",  # order_transition
        "INSERT",  # realtime_event (order.updated)
        "INSERT",  # realtime_event_topic
        "UPDATE",  # search_document sales, from the lines in hand
    ]
    return [
        "SELECT job",
        "UPDATE",  # job claimed
        "SELECT webhook_event",
        "SELECT payment",
        "UPDATE",  # payment success
        "INSERT",  # billing's ledger_entry
        "SELECT order_group",
        "UPDATE",  # order_group paid
        "SELECT store_order",
        "SELECT order_line",  # the group's lines, once: sales, purchases and the ledger's split
        "SELECT vendor_member",  # both stores' members, once
        *confirm_store_order,
        "INSERT",  # behaviour_event purchase, from the lines in hand
        "INSERT",  # job: the notifications' fan-out
        *confirm_store_order,
        "UPDATE",  # job: the fan-out's payload takes the second order's event
        "INSERT",  # behaviour_event purchase
        "SELECT product",  # the lines' categories
        "SELECT commission_rule",
        "INSERT",  # ledger_transaction payment
        *accounts,
        "INSERT",  # ledger_posting
        "UPDATE",  # ledger_account balances (executemany)
        "INSERT",  # ledger_transaction fee
        "INSERT",  # ledger_posting
        "UPDATE",  # ledger_account balances
        "INSERT",  # store_settlement
        "UPDATE",  # webhook_event processed
        "UPDATE",  # job succeeded
        "UPDATE",  # realtime_event pushed
    ]


async def test_the_confirmation_job_sends_its_exact_statement_budget(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs, database_url: str
) -> None:
    """Two paid two-store checkouts of the same stores: the first creates the ledger's accounts,
    the second finds them. The order lines are read once per confirmation (not once more per
    store order for search sales and again for purchases), the stores' members once, the ledger's
    accounts in one statement on PostgreSQL (for both of its transactions); what they feed is
    still exact."""
    postgres = database_url.startswith("postgresql")
    a = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 5}])
    b = await shop(app, client, "Store B", [{"sku": "B-1", "price": 999, "stock": 3}])
    sent_by_payment = []
    for _ in range(2):
        buyer = await person(client)
        await add(client, buyer, a.variant(0)["id"], 2)
        await add(client, buyer, b.variant(0)["id"], 1)
        reference = (await checkout(client, buyer)).json()["payment"]["reference"]
        transaction = paystack.settle(reference, "success")
        body = paystack.webhook_body("charge.success", transaction)
        answer = await client.post(WEBHOOK, content=body, headers=paystack_headers(body))
        assert answer.status_code == 200, answer.text
        confirmation = jobs.published.pop(0)
        with statements(app) as sent:
            assert await execute(str(confirmation), app.state.runtime) == "succeeded"
        sent_by_payment.append(sent)
        await jobs.run_kinds(app)  # the notifications
    first, second = (
        ["WITH" if kind.startswith("WITH") else kind for kind in kinds(sent)]
        for sent in sent_by_payment
    )
    assert first == _confirmation_budget(postgres, first=True)
    assert second == _confirmation_budget(postgres, first=False)
    assert await count(app, "order_group", "status = 'paid'") == 2
    assert await count(app, "store_order", "status = 'confirmed'") == 4
    assert await count(app, "ledger_account") == 5  # clearing, revenue, fees, two stores'
    assert await count(app, "ledger_transaction") == 4  # a payment and a fee each, once
    assert await count(app, "store_settlement") == 4
    sales = await rows(
        app,
        "SELECT v.sku, d.sales FROM search_document d "
        "JOIN product_variant v ON v.product_id = d.product_id ORDER BY v.sku",
    )
    assert [tuple(row) for row in sales] == [("A-1", 4), ("B-1", 2)]
    assert await count(app, "behaviour_event", "kind = 'purchase'") == 4
    async with unit_of_work(app.state.runtime.database) as db:
        assert await ledger_checks.unbalanced_transactions(db) == []
        assert await ledger_checks.drifted_accounts(db) == []
