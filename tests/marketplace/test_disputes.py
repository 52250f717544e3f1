"""Disputes end to end over real HTTP to the Paystack fake: ``charge.dispute.*`` → inbox → the
dispute re-read from Paystack → one dispute row, the stores' shares frozen (not released, not
payable), everyone told; evidence sent through Paystack's API; won → released, lost → reversed
with the commission, balanced and once, whatever order the deliveries come in."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from oja.core.clock import utcnow
from oja.core.db import unit_of_work
from oja.core.runtime import running
from oja.marketplace.config import MarketplaceSettings
from oja.marketplace.ledger import disputes, settlement
from oja.marketplace.orders.models import StoreOrder
from oja.sandbox.paystack import PaystackFake
from oja.sandbox.paystack_records import DisputeRecord
from tests.billing.conftest import paystack_headers
from tests.conftest import Jobs

from .conftest import Person, admin, count, error_code, person, rows
from .shop import Store, add, checkout, paid_webhook, paystack, paystack_server, settings, shop

__all__ = ["paystack", "paystack_server", "settings"]

WEBHOOK = "/payments/paystack/webhook"
ADMIN = "/admin/disputes"
EVIDENCE = {
    "customer_email": "ada@example.com",
    "customer_name": "Ada Obi",
    "customer_phone": "+2348012345678",
    "service_details": "Delivered and signed for.",
    "delivery_date": "2026-12-01",
}


async def paid_group(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> tuple[Store, Store, Person, Person, str]:
    boss = await admin(app, client)
    a = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 5}], boss=boss)
    b = await shop(app, client, "Store B", [{"sku": "B-1", "price": 999, "stock": 3}], boss=boss)
    buyer = await person(client)
    await add(client, buyer, a.variant()["id"], 2)
    await add(client, buyer, b.variant()["id"], 1)
    reference = (await checkout(client, buyer)).json()["payment"]["reference"]
    await paid_webhook(app, client, paystack, jobs, reference)
    return a, b, buyer, boss, reference


async def deliver(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, paystack: PaystackFake, event: str, d: Any
) -> None:
    body = json.dumps({"event": event, "data": paystack._dispute(d)}).encode()
    answer = await client.post(WEBHOOK, content=body, headers=paystack_headers(body))
    assert answer.status_code == 200, answer.text
    await jobs.run_kinds(app)


def opened(paystack: PaystackFake, reference: str) -> DisputeRecord:
    """A chargeback at the fake (its own webhook is not sent: the test delivers it)."""
    tx = paystack.transactions[reference]
    record = DisputeRecord(900_000 + len(paystack.disputes), tx, tx.amount)
    paystack.disputes[record.id] = record
    return record


async def balances(client: httpx.AsyncClient, store: Store) -> dict[str, int]:
    answer = await client.get("/vendors/me/balance", headers=store.owner.headers)
    [only] = answer.json()["balances"]
    return {k: only[k] for k in ("pending", "available", "frozen")}


async def accounts(app: Any) -> dict[tuple[str, str | None], int]:
    found = await rows(app, "SELECT kind, vendor_id, balance FROM ledger_account")
    return {(k, None if v is None else str(uuid.UUID(str(v)))): int(b) for k, v, b in found}


async def unbalanced(app: Any) -> list[Any]:
    return await rows(
        app,
        "SELECT transaction_id FROM ledger_posting GROUP BY transaction_id HAVING SUM(amount) <> 0",
    )


async def dispute_outcomes(app: Any) -> list[str]:
    found = await rows(
        app, "SELECT outcome FROM webhook_event WHERE event_type LIKE 'charge.dispute.%'"
    )
    return sorted(o for (o,) in found)


async def test_a_dispute_freezes_takes_evidence_and_a_win_releases(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    a, b, buyer, boss, reference = await paid_group(app, client, paystack, jobs)
    before = {s.id: await balances(client, s) for s in (a, b)}
    assert before == {
        a.id: {"pending": 1800, "available": 0, "frozen": 0},  # 2000 less 10 % commission
        b.id: {"pending": 899, "available": 0, "frozen": 0},  # 999 less 100 (rounded up)
    }
    dispute = opened(paystack, reference)
    for event in ("charge.dispute.create", "charge.dispute.create", "charge.dispute.remind"):
        await deliver(app, client, jobs, paystack, event, dispute)
    assert await count(app, "dispute") == 1
    assert await count(app, "dispute_order") == 2
    assert {s.id: await balances(client, s) for s in (a, b)} == {
        a.id: {"pending": 0, "available": 0, "frozen": 1800},
        b.id: {"pending": 0, "available": 0, "frozen": 899},
    }
    assert await unbalanced(app) == []
    told = await rows(
        app, "SELECT user_id FROM notification WHERE event = 'dispute.opened' ORDER BY user_id"
    )
    expected = sorted({a.owner.id, b.owner.id, boss.id})
    assert sorted({str(uuid.UUID(str(u))) for (u,) in told}) == expected
    assert len(told) == 4  # each store's owner once, the admin once per store

    listed = await client.get(ADMIN, headers=boss.headers)
    assert listed.status_code == 200, listed.text
    [row] = listed.json()["items"]
    assert (row["status"], row["provider_dispute_id"], row["reference"], row["amount"]) == (
        "open",
        str(dispute.id),
        reference,
        2999,
    )
    assert {o["vendor_id"]: (o["frozen"], o["commission"]) for o in row["orders"]} == {
        a.id: (1800, 200),
        b.id: (899, 100),
    }
    assert (await client.get(ADMIN, headers=buyer.headers)).status_code == 403
    refused = await client.post(
        f"{ADMIN}/{row['id']}/evidence", json=EVIDENCE, headers=a.owner.headers
    )
    assert refused.status_code == 403
    assert dispute.evidence is None
    bad = await client.post(
        f"{ADMIN}/{row['id']}/evidence",
        json={**EVIDENCE, "customer_email": "x"},
        headers=boss.headers,
    )
    assert bad.status_code == 422
    assert dispute.evidence is None
    sent = await client.post(f"{ADMIN}/{row['id']}/evidence", json=EVIDENCE, headers=boss.headers)
    assert sent.status_code == 200, sent.text
    assert dispute.evidence is not None
    assert dispute.evidence["service_details"] == "Delivered and signed for."
    assert sent.json()["evidence_id"] == str(dispute.evidence["id"])
    missing = await client.post(
        f"{ADMIN}/{uuid.uuid4()}/evidence", json=EVIDENCE, headers=boss.headers
    )
    assert (missing.status_code, error_code(missing)) == (404, "dispute_not_found")

    # Declined: the merchant won. Replays change nothing.
    dispute.status, dispute.resolution = "resolved", "declined"
    transactions = await count(app, "ledger_transaction")
    for _ in range(2):
        await deliver(app, client, jobs, paystack, "charge.dispute.resolve", dispute)
    assert await count(app, "ledger_transaction") == transactions + 1
    assert {s.id: await balances(client, s) for s in (a, b)} == before
    assert await rows(app, "SELECT status, resolution FROM dispute") == [("won", "declined")]
    assert await unbalanced(app) == []
    assert await dispute_outcomes(app) == [  # three deliveries (the fake's bodies differ by time)
        "dispute:awaiting-merchant-feedback",
        "dispute:awaiting-merchant-feedback",
        "dispute:awaiting-merchant-feedback",
        "dispute:declined",
        "dispute:declined",
    ]
    closed = await client.post(f"{ADMIN}/{row['id']}/evidence", json=EVIDENCE, headers=boss.headers)
    assert (closed.status_code, error_code(closed)) == (409, "dispute_closed")


async def test_a_lost_dispute_reverses_shares_and_commission_once_even_out_of_order(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    a, b, _, _, reference = await paid_group(app, client, paystack, jobs)
    platform_before = await accounts(app)
    dispute = opened(paystack, reference)
    dispute.status, dispute.resolution = "resolved", "merchant-accepted"
    # The resolution arrives first (the dispute is re-read: it opens and resolves at once), then
    # the late create and a duplicate resolve.
    await deliver(app, client, jobs, paystack, "charge.dispute.resolve", dispute)
    await deliver(app, client, jobs, paystack, "charge.dispute.create", dispute)
    await deliver(app, client, jobs, paystack, "charge.dispute.resolve", dispute)
    assert await rows(app, "SELECT status, resolution FROM dispute") == [
        ("lost", "merchant-accepted")
    ]
    assert {s.id: await balances(client, s) for s in (a, b)} == {
        a.id: {"pending": 0, "available": 0, "frozen": 0},
        b.id: {"pending": 0, "available": 0, "frozen": 0},
    }
    after = await accounts(app)
    assert after[("provider_clearing", None)] == platform_before[("provider_clearing", None)] - 2999
    assert after[("platform_revenue", None)] == platform_before[("platform_revenue", None)] + 300
    assert after[("provider_clearing", None)] == -(2999 * 15 // 1000)  # the fee is not refunded
    assert after[("platform_revenue", None)] == 0
    sources = await rows(app, "SELECT source FROM ledger_transaction ORDER BY source")
    assert [s.split(":")[-1] for (s,) in sources if s.startswith("dispute:")] == [
        "freeze",
        "reversal",
    ]
    assert await unbalanced(app) == []
    assert sorted(await dispute_outcomes(app)) == [
        "dispute:merchant-accepted",
        "dispute:merchant-accepted",
        "dispute:merchant-accepted",
    ]
    # The settlements are fully reversed: nothing is left to release.
    assert await rows(
        app,
        "SELECT refunded = total, commission_refunded = commission, status FROM store_settlement",
    ) == [(True, True, "released"), (True, True, "released")]


async def test_forged_or_foreign_dispute_deliveries_change_nothing(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    _, _, _, _, reference = await paid_group(app, client, paystack, jobs)
    dispute = opened(paystack, reference)
    body = json.dumps({"event": "charge.dispute.create", "data": paystack._dispute(dispute)})
    forged = await client.post(
        WEBHOOK, content=body.encode(), headers=paystack_headers(body.encode(), secret="sk_wrong")
    )
    assert forged.status_code == 400
    # Authentic, but naming a dispute Paystack does not know: the re-read fails, nothing changes.
    ghost = json.dumps(
        {"event": "charge.dispute.create", "data": {**paystack._dispute(dispute), "id": 1}}
    ).encode()
    answer = await client.post(WEBHOOK, content=ghost, headers=paystack_headers(ghost))
    assert answer.status_code == 200
    await jobs.run_kinds(app)
    assert await rows(
        app, "SELECT outcome FROM webhook_event WHERE event_type LIKE 'charge.d%'"
    ) == [("ignored:unknown_dispute",)]
    assert await count(app, "dispute") == 0
    assert await count(app, "dispute_order") == 0
    assert await rows(app, "SELECT kind FROM ledger_transaction ORDER BY kind") == [
        ("fee",),
        ("payment",),
    ]


@pytest.mark.postgres
async def test_concurrent_deliveries_of_one_dispute_freeze_once(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        return  # the race needs real concurrent transactions
    a, b, _, _, reference = await paid_group(app, client, paystack, jobs)
    runtime = app.state.runtime

    async def one() -> str:
        with running(runtime):
            async with unit_of_work(runtime.database) as db:
                return await disputes.apply_dispute(
                    db,
                    provider="paystack",
                    provider_dispute_id="4242",
                    reference=reference,
                    provider_status="awaiting-merchant-feedback",
                    resolution=None,
                    amount=2999,
                    currency="NGN",
                    due_at=None,
                )

    assert sorted(await asyncio.gather(*(one() for _ in range(4)))) == ["opened"] + ["updated"] * 3
    assert await count(app, "dispute") == 1
    assert await count(app, "dispute_order") == 2
    assert await count(app, "ledger_transaction", "kind = 'dispute'") == 1
    assert {s.id: (await balances(client, s))["frozen"] for s in (a, b)} == {a.id: 1800, b.id: 899}
    assert await unbalanced(app) == []


async def test_the_release_job_skips_orders_under_an_open_dispute(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    a, b, _, _, reference = await paid_group(app, client, paystack, jobs)
    dispute = opened(paystack, reference)
    await deliver(app, client, jobs, paystack, "charge.dispute.create", dispute)
    long_ago = utcnow() - timedelta(days=60)
    async with unit_of_work(app.state.runtime.database) as db:
        await db.execute(update(StoreOrder).values(status="delivered", delivered_at=long_ago))
    market = app.state.runtime.settings.section(MarketplaceSettings)

    async def release() -> int:
        async with unit_of_work(app.state.runtime.database) as db:
            return await settlement.release_due(db, utcnow(), market)

    assert await release() == 0
    assert await rows(app, "SELECT DISTINCT status FROM store_settlement") == [("held",)]
    dispute.status, dispute.resolution = "resolved", "declined"
    await deliver(app, client, jobs, paystack, "charge.dispute.resolve", dispute)
    assert await release() == 2
    assert {s.id: await balances(client, s) for s in (a, b)} == {
        a.id: {"pending": 0, "available": 1800, "frozen": 0},
        b.id: {"pending": 0, "available": 899, "frozen": 0},
    }
    assert await unbalanced(app) == []
