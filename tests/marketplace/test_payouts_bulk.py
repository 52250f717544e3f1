"""Payouts sent in bulk (batches within the size, a run killed after the bulk call pays each payout
once); transfers held for an OTP and the admin's finalize and resend; the admin's list of payout
accounts awaiting approval and the rejection."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from oja.billing.config import BillingSettings
from oja.core.clock import utcnow
from oja.core.db import unit_of_work
from oja.marketplace.config import MarketplaceSettings
from oja.marketplace.payouts import bulk, transfers
from oja.marketplace.payouts.jobs import send_batch
from oja.sandbox.paystack import SANDBOX_OTP, PaystackFake
from tests.conftest import Jobs

from .conftest import admin, count, error_code, person, rows
from .payouts_kit import BANK, available, credit, log_of, paid_store, payouts, put_account, run_job
from .shop import paystack, paystack_server, settings, shop

__all__ = ["paystack", "paystack_server", "settings"]


def market(app: Any) -> MarketplaceSettings:
    return app.state.runtime.settings.section(MarketplaceSettings)  # type: ignore[no-any-return]


def billing(app: Any) -> BillingSettings:
    return app.state.runtime.settings.section(BillingSettings)  # type: ignore[no-any-return]


async def test_a_run_sends_its_payouts_in_bulk_batches_within_the_size(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    market(app).payout_bulk_size = 2
    market(app).payout_bulk_interval = 0
    stores = [(await paid_store(app, client, paystack, f"Bulk {n}"))[0] for n in range(3)]
    for n, store in enumerate(stores):
        await credit(app, store.id, 200_000 + n)

    ran = await run_job(app, jobs)
    # Three stores, batches of two: two bulk requests, no single transfer.
    assert [o for k, o in ran if k == "marketplace.payouts.send_batch"].count("succeeded") >= 2
    assert paystack.calls["transfer.bulk"] == 2
    assert paystack.calls["transfer"] == 0
    day = f"{utcnow():%Y%m%d}"
    expected = {f"payout_{uuid.UUID(s.id).hex}_{day}_1": 200_000 + n for n, s in enumerate(stores)}
    assert {r: t.amount for r, t in paystack.transfers.items()} == expected
    assert sorted((r, a, s) for r, a, s in await payouts(app)) == sorted(
        (r, a, "processing") for r, a in expected.items()
    )
    for store in stores:
        assert await available(app, store.id) == 0
    # The job again: nothing pending, nothing sent.
    await run_job(app, jobs, send_batch)
    assert paystack.calls["transfer.bulk"] == 2
    assert len(paystack.transfers) == 3


async def test_a_run_killed_after_the_bulk_call_pays_each_payout_once(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    stores = [(await paid_store(app, client, paystack, f"Killed {n}"))[0] for n in range(2)]
    for store in stores:
        await credit(app, store.id, 300_000)
        async with unit_of_work(app.state.runtime.database) as db:
            made = await transfers.make_payout(db, uuid.UUID(store.id), utcnow(), market(app))
            assert made is not None

    class Killed(Exception):
        pass

    async def bulk_then_die() -> None:
        async with unit_of_work(app.state.runtime.database) as db:
            await bulk.send_batch(db, billing(app), 100)
            raise Killed

    # The provider accepts both transfers; the run dies before recording them.
    with pytest.raises(Killed):
        await bulk_then_die()
    assert len(paystack.transfers) == 2
    assert [p[2] for p in await payouts(app)] == ["pending", "pending"]

    # Recovery: the batch again, same references: both refused as duplicates, both adopted.
    ran = await run_job(app, jobs, send_batch)
    assert ("marketplace.payouts.send_batch", "succeeded") in ran
    assert paystack.calls["transfer.bulk"] == 2
    assert paystack.calls["transfer.verify"] == 2
    references = sorted(p[0] for p in await payouts(app))
    assert sorted(paystack.transfers) == references
    assert [t.amount for t in paystack.transfers.values()] == [300_000, 300_000]
    assert [p[2] for p in await payouts(app)] == ["paid", "paid"]  # test mode settles at once
    for store in stores:
        assert await available(app, store.id) == 0
    assert await count(app, "ledger_transaction", "kind = 'payout'") == 2
    assert await count(app, "ledger_transaction", "source LIKE 'payout-return:%'") == 0


async def test_an_otp_transfer_waits_for_the_admin_and_is_finalized_once(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    paystack.otp_required = True
    store, _ = await paid_store(app, client, paystack)
    await credit(app, store.id, 250_000)

    await run_job(app, jobs)
    # Bulk is refused while OTP is on: the payout went alone and waits for its OTP.
    assert paystack.calls["transfer.bulk"] == 1
    assert paystack.calls["transfer"] == 1
    ((reference, amount, status),) = await payouts(app)
    assert (amount, status) == (250_000, "otp_required")
    assert paystack.transfers[reference].status == "otp"
    assert await available(app, store.id) == 0
    (payout_id,) = [r[0] for r in await rows(app, "SELECT id FROM payout")]
    payout_id = str(uuid.UUID(str(payout_id)))

    boss = await admin(app, client)
    resent = await client.post(f"/admin/payouts/{payout_id}/resend-otp", headers=boss.headers)
    assert resent.status_code == 200, resent.text
    assert resent.json() == {"payout_id": payout_id, "status": "otp_required"}
    assert paystack.calls["transfer.resend_otp"] == 1

    # A wrong OTP: a clear 422, nothing changed here or at the provider.
    wrong = await client.post(
        f"/admin/payouts/{payout_id}/finalize", json={"otp": "000000"}, headers=boss.headers
    )
    assert (wrong.status_code, error_code(wrong)) == (422, "payout_otp_rejected")
    assert wrong.json()["error"]["details"]["provider_message"] == "Invalid OTP"
    assert [p[2] for p in await payouts(app)] == ["otp_required"]
    assert paystack.transfers[reference].status == "otp"
    # Neither the store's owner nor a malformed OTP reaches the provider.
    owner = await client.post(
        f"/admin/payouts/{payout_id}/finalize",
        json={"otp": SANDBOX_OTP},
        headers=store.owner.headers,
    )
    assert owner.status_code == 403
    malformed = await client.post(
        f"/admin/payouts/{payout_id}/finalize", json={"otp": "12"}, headers=boss.headers
    )
    assert malformed.status_code == 422
    unknown = await client.post(
        f"/admin/payouts/{uuid.uuid4()}/finalize", json={"otp": SANDBOX_OTP}, headers=boss.headers
    )
    assert (unknown.status_code, error_code(unknown)) == (404, "payout_not_found")
    assert paystack.calls["transfer.finalize"] == 1

    done = await client.post(
        f"/admin/payouts/{payout_id}/finalize", json={"otp": SANDBOX_OTP}, headers=boss.headers
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "processing"
    assert paystack.transfers[reference].status == "success"
    # Replayed: refused before the provider; still one transfer, one debit.
    replay = await client.post(
        f"/admin/payouts/{payout_id}/finalize", json={"otp": SANDBOX_OTP}, headers=boss.headers
    )
    assert (replay.status_code, error_code(replay)) == (409, "payout_not_awaiting_otp")
    resend_late = await client.post(f"/admin/payouts/{payout_id}/resend-otp", headers=boss.headers)
    assert (resend_late.status_code, error_code(resend_late)) == (409, "payout_not_awaiting_otp")
    assert paystack.calls["transfer.finalize"] == 2
    assert list(paystack.transfers) == [reference]
    assert await count(app, "ledger_transaction", "kind = 'payout'") == 1
    assert await count(app, "ledger_transaction", "source LIKE 'payout-return:%'") == 0
    assert [a for a, _ in await log_of(app, store.id)][-2:] == ["otp_resent", "otp_finalized"]


async def test_accounts_awaiting_approval_are_listed_and_a_rejection_keeps_its_reason(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake
) -> None:
    waiting = []
    for n, name in enumerate(("Ada Fabrics", "Chike Prints")):
        store = await shop(app, client, name, [])
        number = f"55555555{n:02d}"
        paystack.accounts[(BANK, number)] = "JOHN DOE"
        answer = await put_account(client, store.owner, number)
        assert answer.json()["pending"]["status"] == "pending_approval", answer.text
        waiting.append(store)
    await paid_store(app, client, paystack, "Mama Put Foods")  # active: not listed
    boss = await admin(app, client)

    page = await client.get(
        "/admin/payout-accounts",
        params={"status": "pending_approval", "per_page": 1},
        headers=boss.headers,
    )
    assert page.status_code == 200, page.text
    body = page.json()
    assert (body["total"], body["pages"]) == (2, 2)
    (first,) = body["items"]
    assert (first["vendor_id"], first["store_name"]) == (waiting[0].id, "Ada Fabrics")
    assert (first["account_number"], first["account_name"]) == ("******5500", "JOHN DOE")
    everything = await client.get("/admin/payout-accounts", headers=boss.headers)
    assert everything.json()["total"] == 3

    buyer = await person(client)
    assert (await client.get("/admin/payout-accounts", headers=buyer.headers)).status_code == 403
    reject = f"/admin/vendors/{waiting[0].id}/payout-account/reject"
    no_reason = await client.post(reject, json={"reason": ""}, headers=boss.headers)
    assert no_reason.status_code == 422
    assert await log_of(app, waiting[0].id) == [("account_awaiting_approval", None)]

    rejected = await client.post(
        reject, json={"reason": "The holder is not the owner"}, headers=boss.headers
    )
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["active"], rejected.json()["pending"]) == (None, None)
    assert await log_of(app, waiting[0].id) == [
        ("account_awaiting_approval", None),
        ("account_rejected", "The holder is not the owner"),
    ]
    again = await client.post(reject, json={"reason": "again"}, headers=boss.headers)
    assert (again.status_code, error_code(again)) == (409, "no_pending_payout_account")
    left = await client.get(
        "/admin/payout-accounts", params={"status": "pending_approval"}, headers=boss.headers
    )
    assert [a["store_name"] for a in left.json()["items"]] == ["Chike Prints"]
    assert (
        await client.get(
            "/admin/payout-accounts", params={"status": "rejected"}, headers=boss.headers
        )
    ).json()["total"] == 1
    # The other store's account still waits, untouched.
    assert await log_of(app, waiting[1].id) == [("account_awaiting_approval", None)]
