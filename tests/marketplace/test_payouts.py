"""Payouts: the payout account (resolved, the name rule, the admin's approval, the 24-hour hold
of a change, owners only); the payout job (deterministic reference, one transfer however often it
runs or races, nothing held, too small or negative paid); transfers settled by webhooks and verify
(failed and reversed return the money once, duplicated, reordered and forged deliveries change
nothing they should not); the admin's list, retry, hold and release."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import update

from oja.billing.config import BillingSettings
from oja.core.clock import utcnow
from oja.core.db import unit_of_work
from oja.marketplace.config import MarketplaceSettings
from oja.marketplace.payouts import transfers
from oja.marketplace.payouts.models import Payout, PayoutHold
from oja.marketplace.payouts.service import names_match
from oja.sandbox.paystack import PaystackFake
from tests.conftest import Jobs

from .conftest import admin, count, error_code, person, rows
from .payouts_kit import (
    BANK,
    available,
    credit,
    deliver,
    log_of,
    notified,
    paid_store,
    payout_entries,
    payouts,
    put_account,
    run_job,
    select,
    verify,
)
from .shop import paystack, paystack_server, settings, shop

__all__ = ["paystack", "paystack_server", "settings"]


def market(app: Any) -> MarketplaceSettings:
    return app.state.runtime.settings.section(MarketplaceSettings)  # type: ignore[no-any-return]


def billing(app: Any) -> BillingSettings:
    return app.state.runtime.settings.section(BillingSettings)  # type: ignore[no-any-return]


def test_the_name_rule() -> None:
    assert names_match("MAMA PUT FOODS VENTURES LTD", "Mama Put Foods")
    assert names_match("OBI, ADA CHIOMA", "Ada Obi Fabrics")  # 2 of the smaller set's 3
    assert not names_match("OBI ADA CHIOMA", "Ada Fabrics")  # 1 of 2
    assert not names_match("SANDBOX ACCOUNT 6789", "Mama Put Foods")
    assert not names_match("LTD", "The Store")  # nothing significant left


# The payout account


async def test_the_owner_sets_the_first_account_at_once_and_a_change_waits_and_holds(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    store, number = await paid_store(app, client, paystack)
    got = (await client.get("/vendors/me/payout-account", headers=store.owner.headers)).json()
    assert got["active"]["account_number"] == "******" + number[-4:]
    assert got["active"]["account_name"] == "MAMA PUT FOODS VENTURES"
    assert (got["pending"], got["held"], got["held_until"]) == (None, False, None)
    assert len(paystack.recipients) == 1

    # A manager may read it but not change it: refused, nothing written.
    manager = await person(client, "manager")
    added = await client.post(
        "/vendors/me/staff",
        json={"email": manager.email, "role": "manager"},
        headers=store.owner.headers,
    )
    assert added.status_code == 201, added.text
    refused = await put_account(client, manager, "1234567890")
    assert (refused.status_code, error_code(refused)) == (403, "vendor_role_required")
    assert await count(app, "payout_account") == 1

    # An account the provider cannot resolve: 422, nothing written.
    unresolved = await put_account(client, store.owner, "0001234567")
    assert (unresolved.status_code, error_code(unresolved)) == (422, "payout_account_unresolved")
    invalid = await put_account(client, store.owner, "12345")
    assert invalid.status_code == 422
    assert await count(app, "payout_account") == 1

    # A holder unlike the store: waits for an admin; the first account still pays.
    paystack.accounts[(BANK, "2222222222")] = "JOHN DOE"
    changed = (await put_account(client, store.owner, "2222222222")).json()
    assert changed["active"]["account_number"].endswith(number[-4:])
    assert changed["pending"]["status"] == "pending_approval"
    assert changed["pending"]["name_matched"] is False
    assert changed["held_until"] is None

    boss = await admin(app, client)
    approved = await client.post(
        f"/admin/vendors/{store.id}/payout-account/approve", headers=boss.headers
    )
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["active"]["account_number"] == "******2222"
    assert body["pending"] is None
    held_until = body["held_until"]
    assert held_until is not None
    again = await client.post(
        f"/admin/vendors/{store.id}/payout-account/approve", headers=boss.headers
    )
    assert (again.status_code, error_code(again)) == (409, "no_pending_payout_account")
    assert await log_of(app, store.id) == [
        ("account_set", None),
        ("account_awaiting_approval", None),
        ("account_approved", None),
    ]
    statuses = await rows(app, "SELECT status FROM payout_account ORDER BY created_at")
    assert statuses == [("replaced",), ("active",)]

    # The change holds payouts: the store has money, the job pays nothing for 24 hours.
    await credit(app, store.id, 500_000)
    await run_job(app, jobs)
    assert await payouts(app) == []
    assert paystack.transfers == {}
    # Every change was told to the owner (the account_changed notifications).
    await jobs.run(app)
    assert await notified(app, "payout.account_changed", store.owner.id) == 3


# The payout job


async def test_a_due_store_is_paid_once_under_a_deterministic_reference(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    store, _ = await paid_store(app, client, paystack)
    small, _ = await paid_store(app, client, paystack, "Small Chops")
    await credit(app, store.id, 150_000)
    await credit(app, small.id, market(app).payout_minimum - 1)

    ran = await run_job(app, jobs)
    assert ("marketplace.payouts.send_batch", "succeeded") in ran
    reference = f"payout_{uuid.UUID(store.id).hex}_{utcnow():%Y%m%d}_1"
    assert await payouts(app) == [(reference, 150_000, "processing")]
    assert [(t.reference, t.amount) for t in paystack.transfers.values()] == [(reference, 150_000)]
    assert await available(app, store.id) == 0
    assert await available(app, small.id) == market(app).payout_minimum - 1
    # The job again, and the payout's send again: the payout is in flight, nothing is sent.
    await run_job(app, jobs)
    (payout_id,) = [r[0] for r in await select(app, sa.select(Payout.id))]
    async with unit_of_work(app.state.runtime.database) as db:
        outcome = await transfers.send(db, uuid.UUID(store.id), payout_id, billing(app))
    assert outcome == "already:processing"
    assert len(paystack.transfers) == 1
    assert await payout_entries(app, store.id) == [(f"payout:{payout_id}", "payout", 150_000)]

    # The verify sweep (a webhook lost) settles it as the provider says: paid.
    async with unit_of_work(app.state.runtime.database) as db:
        await db.execute(update(Payout).values(updated_at=utcnow() - timedelta(hours=1)))
    await verify(app, jobs)
    assert await payouts(app) == [(reference, 150_000, "paid")]
    # A new payout the next time money is available: the day's second reference.
    await credit(app, store.id, 100_000)
    await run_job(app, jobs)
    assert [p[0] for p in await payouts(app)][-1] == reference[:-1] + "2"
    assert len(paystack.transfers) == 2


async def test_a_send_whose_commit_was_lost_adopts_the_transfer_the_provider_has(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    store, _ = await paid_store(app, client, paystack)
    await credit(app, store.id, 200_000)
    async with unit_of_work(app.state.runtime.database) as db:
        payout = await transfers.make_payout(db, uuid.UUID(store.id), utcnow(), market(app))
    assert payout is not None
    payout_id = payout.id

    class Crash(Exception):
        pass

    async def send_then_die() -> None:
        async with unit_of_work(app.state.runtime.database) as db:
            await transfers.send(db, uuid.UUID(store.id), payout_id, billing(app))
            raise Crash

    # The provider accepts the transfer, then the process dies before its commit.
    with pytest.raises(Crash):
        await send_then_die()
    assert len(paystack.transfers) == 1
    assert [p[2] for p in await payouts(app)] == ["pending"]
    # The verify sweep finds it stuck pending and sends it again under the same reference:
    # refused as a duplicate, the transfer the provider has is adopted.
    async with unit_of_work(app.state.runtime.database) as db:
        await db.execute(update(Payout).values(updated_at=utcnow() - timedelta(hours=1)))
    ran = await verify(app, jobs)
    assert ("marketplace.payouts.send", "succeeded") in ran
    assert [p[2] for p in await payouts(app)] == ["paid"]  # the fake settles test transfers at once
    assert len(paystack.transfers) == 1
    assert await available(app, store.id) == 0
    assert await count(app, "ledger_transaction", "source LIKE 'payout-return:%'") == 0


async def test_two_job_runs_racing_make_one_payout(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    stores = [(await paid_store(app, client, paystack, f"Race {n}"))[0] for n in range(3)]
    for store in stores:
        await credit(app, store.id, 300_000)

    async def run() -> int:
        """One run: each store due, booked in its own unit of work, as the jobs do."""
        async with unit_of_work(app.state.runtime.database) as db:
            due = await transfers.due(db, utcnow(), market(app))
        made = 0
        for vendor_id in due:
            async with unit_of_work(app.state.runtime.database) as db:
                made += (
                    await transfers.make_payout(db, vendor_id, utcnow(), market(app)) is not None
                )
        return made

    made = await asyncio.gather(*(run() for _ in range(4)))
    assert sum(made) == 3
    for store in stores:
        assert [p[1:] for p in await payouts(app, store.id)] == [(300_000, "pending")]
        assert await available(app, store.id) == 0
    assert await count(app, "ledger_transaction", "kind = 'payout'") == 3


async def test_holds_negative_balances_and_missing_accounts_pay_nothing(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    held, _ = await paid_store(app, client, paystack, "Held Store")
    negative, _ = await paid_store(app, client, paystack, "Owing Store")
    no_account = await shop(app, client, "No Account", [])
    await credit(app, held.id, 400_000)
    await credit(app, negative.id, -50_000)
    await credit(app, no_account.id, 400_000)
    boss = await admin(app, client)
    hold = await client.post(
        f"/admin/vendors/{held.id}/payout-hold", json={"reason": "KYC review"}, headers=boss.headers
    )
    assert hold.status_code == 200, hold.text
    assert hold.json()["held"] is True
    missing = await client.post(
        f"/admin/vendors/{held.id}/payout-hold", json={}, headers=boss.headers
    )
    assert missing.status_code == 422
    nobody = await client.post(
        f"/admin/vendors/{uuid.uuid4()}/payout-hold", json={"reason": "x"}, headers=boss.headers
    )
    assert (nobody.status_code, error_code(nobody)) == (404, "vendor_not_found")
    mine = (await client.get("/vendors/me/payout-account", headers=held.owner.headers)).json()
    assert (mine["held"], mine["hold_reason"]) == (True, "KYC review")

    await run_job(app, jobs)
    assert await payouts(app) == []
    assert paystack.transfers == {}
    assert await available(app, negative.id) == -50_000

    released = await client.post(
        f"/admin/vendors/{held.id}/payout-release", json={"reason": "cleared"}, headers=boss.headers
    )
    assert released.json()["held"] is False
    await run_job(app, jobs)
    assert [p[1:] for p in await payouts(app)] == [(400_000, "processing")]
    assert await log_of(app, held.id) == [
        ("account_set", None),
        ("hold", "KYC review"),
        ("release", "cleared"),
    ]


# Settling by webhook


async def test_a_failed_transfer_returns_the_money_once_whatever_the_webhooks_do(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    store, _ = await paid_store(app, client, paystack)
    await credit(app, store.id, 250_000)
    paystack.transfer_outcome = "failed"
    await run_job(app, jobs)
    ((reference, _, status),) = await payouts(app)
    assert status == "processing"
    (failed,) = [o.body for o in paystack.webhooks.sent if o.event == "transfer.failed"]

    # Forged: refused at the door, nothing stored, nothing moved.
    assert await deliver(client, failed, forged=True) == 400
    await jobs.run(app)
    assert [p[2] for p in await payouts(app)] == ["processing"]
    # Authentic, delivered three times: the money comes back once.
    for _ in range(3):
        assert await deliver(client, failed) == 200
    await jobs.run(app)
    assert await payouts(app) == [(reference, 250_000, "failed")]
    assert await available(app, store.id) == 250_000
    (payout_id,) = [r[0] for r in await select(app, sa.select(Payout.id))]
    assert await payout_entries(app, store.id) == [
        (f"payout:{payout_id}", "payout", 250_000),
        (f"payout-return:{payout_id}", "adjustment", -250_000),
    ]
    assert await notified(app, "payout.failed") == 1
    # The verify sweep later: the provider still says failed, nothing more.
    async with unit_of_work(app.state.runtime.database) as db:
        await db.execute(update(Payout).values(updated_at=utcnow() - timedelta(hours=1)))
    await verify(app, jobs)
    assert await available(app, store.id) == 250_000

    # The admin retries it under a new reference; the old one is never sent again.
    paystack.transfer_outcome = "success"
    boss = await admin(app, client)
    retried = await client.post(f"/admin/payouts/{payout_id}/retry", headers=boss.headers)
    assert retried.status_code == 200, retried.text
    assert retried.json()["reference"] == f"{reference}-r1"
    await jobs.run(app)
    assert sorted(paystack.transfers) == [reference, f"{reference}-r1"]
    assert paystack.transfers[f"{reference}-r1"].amount == 250_000
    assert await available(app, store.id) == 0
    twice = await client.post(f"/admin/payouts/{payout_id}/retry", headers=boss.headers)
    assert (twice.status_code, error_code(twice)) == (409, "payout_not_retryable")
    retry_id = retried.json()["id"]
    not_failed = await client.post(f"/admin/payouts/{retry_id}/retry", headers=boss.headers)
    assert (not_failed.status_code, error_code(not_failed)) == (409, "payout_not_retryable")
    unknown = await client.post(f"/admin/payouts/{uuid.uuid4()}/retry", headers=boss.headers)
    assert (unknown.status_code, error_code(unknown)) == (404, "payout_not_found")


async def test_a_reversal_arriving_before_the_success_returns_the_money_once(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    store, _ = await paid_store(app, client, paystack)
    await credit(app, store.id, 180_000)
    paystack.webhooks.hold()
    await run_job(app, jobs)
    ((reference, _, _),) = await payouts(app)
    record = paystack.transfers[reference]
    # The bank sends the money back: Paystack reverses the transfer it had reported a success.
    record.status = "reversed"
    await paystack.send_event("transfer.reversed", paystack._transfer(record))
    success, reversed_ = [o.body for o in paystack.webhooks.held]
    for body in (reversed_, success, reversed_, success):  # out of order, and duplicated
        assert await deliver(client, body) == 200
        await jobs.run(app)
    assert await payouts(app) == [(reference, 180_000, "reversed")]
    assert await available(app, store.id) == 180_000
    assert await count(app, "ledger_transaction", "source LIKE 'payout-return:%'") == 1


async def test_a_signed_webhook_that_lies_moves_nothing_the_provider_does_not_confirm(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    store, _ = await paid_store(app, client, paystack)
    await credit(app, store.id, 120_000)
    await run_job(app, jobs)
    ((reference, _, _),) = await payouts(app)
    record = paystack.transfers[reference]
    # A "failed" event for a transfer the provider says succeeded (and one for no payout).
    lie = paystack._transfer(record) | {"status": "failed"}
    import json

    body = json.dumps({"event": "transfer.failed", "data": lie}).encode()
    unknown = json.dumps(
        {"event": "transfer.failed", "data": lie | {"reference": "payout_nobody", "id": 1}}
    ).encode()
    assert await deliver(client, body) == 200
    assert await deliver(client, unknown) == 200
    await jobs.run(app)
    assert await payouts(app) == [(reference, 120_000, "paid")]
    assert await available(app, store.id) == 0
    assert await count(app, "ledger_transaction", "source LIKE 'payout-return:%'") == 0


# Listings


async def test_stores_see_their_own_payouts_and_admins_filter_every_store(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    one, _ = await paid_store(app, client, paystack, "First Store")
    two, _ = await paid_store(app, client, paystack, "Second Store")
    await credit(app, one.id, 110_000)
    await credit(app, two.id, 220_000)
    paystack.transfer_outcome = "failed"
    await run_job(app, jobs)
    mine = (await client.get("/vendors/me/payouts", headers=one.owner.headers)).json()
    assert [(p["vendor_id"], p["amount"]) for p in mine["items"]] == [(one.id, 110_000)]
    assert mine["total"] == 1
    boss = await admin(app, client)
    everyone = (await client.get("/admin/payouts", headers=boss.headers)).json()
    assert sorted(p["amount"] for p in everyone["items"]) == [110_000, 220_000]
    theirs = await client.get(
        "/admin/payouts", params={"vendor_id": two.id, "status": "processing"}, headers=boss.headers
    )
    assert [p["amount"] for p in theirs.json()["items"]] == [220_000]
    bad = await client.get("/admin/payouts", params={"status": "lost"}, headers=boss.headers)
    assert bad.status_code == 422
    denied = await client.get("/admin/payouts", headers=one.owner.headers)
    assert denied.status_code == 403


async def test_hold_rows_are_one_per_store(app: Any, client: httpx.AsyncClient) -> None:
    store = await shop(app, client, "Hold Race", [])
    boss = await admin(app, client)
    answers = await asyncio.gather(
        *(
            client.post(
                f"/admin/vendors/{store.id}/payout-hold",
                json={"reason": f"r{n}"},
                headers=boss.headers,
            )
            for n in range(3)
        )
    )
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert await count(app, PayoutHold.__tablename__) == 1
