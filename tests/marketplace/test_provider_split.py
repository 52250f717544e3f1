"""Paystack's native split (``OJA_MARKETPLACE_SETTLEMENT=provider_split``) over real HTTP to the
fake: a store whose payout account is active gets a subaccount; a checkout with it and a store
without one sends exactly the flat share of the first; the verified payment books the usual
entries and marks that share paid out by Paystack (the fake's books per subaccount agree); the
release and payout jobs pay only the other store; a replayed webhook books nothing twice; a split
that differs from the ledger is flagged to the admins, the ledger's entries standing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from oja.core.clock import utcnow
from oja.core.db import unit_of_work
from oja.marketplace.ledger import checks as ledger_checks
from oja.marketplace.ledger import settlement
from oja.marketplace.ledger.models import CommissionRule
from oja.sandbox.paystack import PaystackFake
from tests.conftest import Jobs, use_settings

from . import ledger_kit
from .conftest import Person, admin, person, rows
from .payouts_kit import BANK, notified, payouts, put_account, run_job
from .shop import Store, add, checkout, paid_webhook, paystack, paystack_server, settings, shop

__all__ = ["paystack", "paystack_server", "settings"]


async def with_account(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, store: Store
) -> None:
    number = f"{uuid.uuid4().int % 10**10:010d}"
    paystack.accounts[(BANK, number)] = f"{store.store['name'].upper()} VENTURES"
    answer = await put_account(client, store.owner, number)
    assert answer.status_code == 200, answer.text
    assert answer.json()["active"]["status"] == "active"


async def two_stores(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake
) -> tuple[Store, Store, Person]:
    """A (2 × 1000, with a subaccount) and B (999, payout account made before the deployment
    split, so no subaccount) in one basket."""
    boss = await admin(app, client)
    b = await shop(
        app, client, "Bola Kitchen Foods", [{"sku": "B-1", "price": 999, "stock": 3}], boss=boss
    )
    await with_account(app, client, paystack, b)
    use_settings(app, settlement="provider_split", payout_minimum=100)
    a = await shop(
        app, client, "Adaeze Fabrics House", [{"sku": "A-1", "price": 1000, "stock": 5}], boss=boss
    )
    await with_account(app, client, paystack, a)
    buyer = await person(client)
    await add(client, buyer, a.variant()["id"], 2)
    await add(client, buyer, b.variant()["id"], 1)
    return a, b, buyer


async def balances(app: Any, a: Store, b: Store) -> dict[str, int]:
    async with unit_of_work(app.state.runtime.database) as db:
        assert await ledger_checks.unbalanced_transactions(db) == []
        assert await ledger_checks.drifted_accounts(db) == []
        found = await ledger_kit.balances(db)
    assert sum(found.values()) == 0
    names = {a.id: "A", b.id: "B", "platform": "platform"}
    return {f"{k.split(':')[0]}:{names[k.split(':')[1]]}": v for k, v in found.items() if v}


@pytest.mark.parametrize("bearer", ["platform", "vendor"])
async def test_a_store_with_a_subaccount_is_settled_by_paystack_and_never_paid_again(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs, bearer: str
) -> None:
    use_settings(app, fee_bearer=bearer)
    a, b, buyer = await two_stores(app, client, paystack)
    [(vendor, code)] = await rows(app, "SELECT vendor_id, code FROM store_subaccount")
    assert str(uuid.UUID(str(vendor))) == a.id
    assert list(paystack.subaccounts) == [code]

    made = await checkout(client, buyer)
    assert made.status_code == 201, made.text
    reference = made.json()["payment"]["reference"]
    # A's share: 2000 less its 10 % commission; B (no subaccount) is not in the split.
    assert paystack.transactions[reference].split_request == {
        "type": "flat",
        "currency": "NGN",
        "subaccounts": [{"subaccount": code, "share": 1800}],
        "bearer_type": "account" if bearer == "platform" else "all-proportional",
    }
    assert await paid_webhook(app, client, paystack, jobs, reference) == ["succeeded"]

    fee = 2999 * 15 // 1000  # the fake's fee: 44
    # vendor: A bears 44 × 1800 ÷ 2999 = 26 (as Paystack allocates it), B 44 × 999 ÷ 2999 = 14.
    a_fee, b_fee = (26, 14) if bearer == "vendor" else (0, 0)
    assert paystack.subaccount_balances == {code: 1800 - a_fee}
    expected = {
        "provider_clearing:platform": 2999 - fee - (1800 - a_fee),
        "provider_fees:platform": fee - a_fee - b_fee,
        "platform_revenue:platform": -300,
        "store_pending:B": -(899 - b_fee),
    }
    assert await balances(app, a, b) == expected
    sources = sorted(s for (s,) in await rows(app, "SELECT source FROM ledger_transaction"))
    assert sources == [f"fee:{reference}", f"payment:{reference}", f"split:{reference}"]
    entries = await client.get("/vendors/me/ledger?type=payout", headers=a.owner.headers)
    assert [(e["amount"], e["account"]) for e in entries.json()["items"]] == [
        (-(1800 - a_fee), "store_pending")
    ]
    shown = (await client.get("/vendors/me/balance", headers=a.owner.headers)).json()
    assert [(x["pending"], x["available"]) for x in shown["balances"]] == [(0, 0)]
    # Paystack settled the share to the store: it shows as paid out, nothing in transit.
    assert [(x["paid_out"], x["in_transit"]) for x in shown["balances"]] == [(1800 - a_fee, 0)]

    # A replayed charge.success books nothing twice.
    await paid_webhook(app, client, paystack, jobs, reference)
    assert await balances(app, a, b) == expected
    assert await rows(app, "SELECT count(*) FROM ledger_transaction") == [(3,)]
    assert await notified(app, "payment.split_mismatch") == 0

    # The release job moves only B's share; the payout job pays only B.
    orders = await rows(app, "SELECT vendor_id, id FROM store_order ORDER BY total DESC")
    released = []
    for vendor_id, order_id in orders:
        async with unit_of_work(app.state.runtime.database) as db:
            released.append(
                await settlement.release(
                    db, uuid.UUID(str(vendor_id)), uuid.UUID(str(order_id)), utcnow()
                )
            )
    assert released == [False, True]
    await run_job(app, jobs)
    assert [amount for _, amount, _ in await payouts(app, b.id)] == [899 - b_fee]
    assert await payouts(app, a.id) == []
    assert [t.amount for t in paystack.transfers.values()] == [899 - b_fee]
    found = await balances(app, a, b)
    assert {k for k in found if k.endswith(":A")} == set()


async def test_a_split_that_differs_from_the_ledger_is_flagged_and_the_ledger_stands(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    a, b, buyer = await two_stores(app, client, paystack)
    reference = (await checkout(client, buyer)).json()["payment"]["reference"]
    # After checkout sent A 1800, A's commission becomes 20 %: the ledger now owes it 1600.
    async with unit_of_work(app.state.runtime.database) as db:
        db.add(CommissionRule(vendor_id=uuid.UUID(a.id), percent_bps=2000))
    assert await paid_webhook(app, client, paystack, jobs, reference) == ["succeeded"]
    found = await balances(app, a, b)
    assert found["platform_revenue:platform"] == -(400 + 100)
    assert "store_pending:A" not in found  # the ledger's 1600 was marked paid by Paystack
    assert found["provider_clearing:platform"] == 2999 - 44 - 1600
    assert paystack.subaccount_balances == {
        paystack.transactions[reference].split_request["subaccounts"][0]["subaccount"]: 1800
    }
    assert await notified(app, "payment.split_mismatch") == 1


async def test_a_store_paystack_did_not_pay_stays_ledger_settled_and_is_flagged(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    a, b, buyer = await two_stores(app, client, paystack)
    reference = (await checkout(client, buyer)).json()["payment"]["reference"]
    paystack.transactions[reference].split_code = None  # Paystack settled it all to the platform
    assert await paid_webhook(app, client, paystack, jobs, reference) == ["succeeded"]
    assert paystack.subaccount_balances == {}
    found = await balances(app, a, b)
    assert (found["store_pending:A"], found["store_pending:B"]) == (-1800, -899)
    assert await rows(app, "SELECT count(*) FROM ledger_transaction") == [(2,)]
    assert await notified(app, "payment.split_mismatch") == 1
