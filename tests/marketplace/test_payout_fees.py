"""The provider's transfer fee on payouts (issue 20): booked once as the platform's expense when
the provider first reports it, given back once when the transfer fails or is reversed, never
taken from the store's money — sent alone or in bulk, however often the webhooks come."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import sqlalchemy as sa

from oja.billing.config import BillingSettings
from oja.core.clock import utcnow
from oja.core.db import unit_of_work
from oja.marketplace.config import MarketplaceSettings
from oja.marketplace.ledger.models import AccountKind, LedgerAccount, LedgerTransaction
from oja.marketplace.ledger.service import account_key
from oja.marketplace.payouts import transfers
from oja.marketplace.payouts.models import Payout
from oja.sandbox.paystack import PaystackFake, transfer_fee
from tests.conftest import Jobs

from .conftest import admin
from .payouts_kit import (
    available,
    credit,
    deliver,
    paid_store,
    payout_entries,
    payouts,
    run_job,
    select,
)
from .shop import paystack, paystack_server, settings

__all__ = ["paystack", "paystack_server", "settings"]
REVENUE = "/admin/marketplace/revenue"


def billing(app: Any) -> BillingSettings:
    return app.state.runtime.settings.section(BillingSettings)  # type: ignore[no-any-return]


async def fee_books(app: Any) -> list[tuple[str, str, int]]:
    """(source, reference, amount) of every transfer fee transaction and its return."""
    query = (
        sa.select(LedgerTransaction.source, LedgerTransaction.reference, LedgerTransaction.amount)
        .where(LedgerTransaction.source.like("payout-fee%"))
        .order_by(LedgerTransaction.source)
    )
    return [(s, str(r), int(a)) for s, r, a in await select(app, query)]


async def balance(app: Any, kind: AccountKind) -> int:
    query = sa.select(LedgerAccount.balance).where(
        LedgerAccount.key == account_key(kind, None, "NGN")
    )
    found = await select(app, query)
    return int(found[0][0]) if found else 0


async def sent_alone(app: Any, store_id: str) -> tuple[uuid.UUID, str]:
    """The store's payout made and sent by itself (the provider's answer carries the fee)."""
    runtime = app.state.runtime
    async with unit_of_work(runtime.database) as db:
        market = runtime.settings.section(MarketplaceSettings)
        made = await transfers.make_payout(db, uuid.UUID(store_id), utcnow(), market)
        assert made is not None
        outcome = await transfers.send(db, made.vendor_id, made.id, billing(app))
    assert outcome == "processing"
    return made.id, made.reference


def webhooks(paystack: PaystackFake, event: str, reference: str) -> list[bytes]:
    return [
        o.body for o in paystack.webhooks.sent if o.event == event and reference.encode() in o.body
    ]


async def test_a_paid_transfer_books_its_fee_once_however_often_the_webhook_comes(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    store, _ = await paid_store(app, client, paystack)
    await credit(app, store.id, 150_000)
    clearing = await balance(app, AccountKind.provider_clearing)
    payout_id, reference = await sent_alone(app, store.id)
    fee = paystack.transfers[reference].fee
    assert fee == transfer_fee(150_000) == 1000
    # Booked when the provider accepted it (its answer reports the fee).
    assert await fee_books(app) == [(f"payout-fee:{payout_id}", reference, fee)]
    (success,) = webhooks(paystack, "transfer.success", reference)
    for _ in range(3):
        assert await deliver(client, success) == 200
        await jobs.run(app)
    assert await payouts(app) == [(reference, 150_000, "paid")]
    assert await fee_books(app) == [(f"payout-fee:{payout_id}", reference, fee)]
    assert await balance(app, AccountKind.provider_fees) == fee
    assert await balance(app, AccountKind.provider_clearing) == clearing - 150_000 - fee
    # The store paid its payout's amount, not a kobo of the fee.
    assert await available(app, store.id) == 0
    assert await payout_entries(app, store.id) == [(f"payout:{payout_id}", "payout", 150_000)]
    # The admin's revenue shows it as the platform's cost.
    boss = await admin(app, client)
    today = str(utcnow().date())
    report = await client.get(REVENUE, params={"from": today}, headers=boss.headers)
    assert report.status_code == 200, report.text
    assert report.json()["periods"] == [
        {
            "period": today,
            "currency": "NGN",
            "commission": 0,
            "fees": fee,
            "fees_platform": fee,
            "net": -fee,
        }
    ]


async def test_a_failed_transfer_gives_its_fee_back_once(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    store, _ = await paid_store(app, client, paystack)
    await credit(app, store.id, 250_000)
    clearing = await balance(app, AccountKind.provider_clearing)
    paystack.transfer_outcome = "failed"
    payout_id, reference = await sent_alone(app, store.id)
    fee = paystack.transfers[reference].fee
    assert await balance(app, AccountKind.provider_fees) == fee
    (failed,) = webhooks(paystack, "transfer.failed", reference)
    for _ in range(3):
        assert await deliver(client, failed) == 200
        await jobs.run(app)
    assert await payouts(app) == [(reference, 250_000, "failed")]
    assert await fee_books(app) == [
        (f"payout-fee-return:{payout_id}", reference, fee),
        (f"payout-fee:{payout_id}", reference, fee),
    ]
    assert await balance(app, AccountKind.provider_fees) == 0
    assert await balance(app, AccountKind.provider_clearing) == clearing
    assert await available(app, store.id) == 250_000


async def test_a_transfer_failed_before_its_fee_was_booked_books_none(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    store, _ = await paid_store(app, client, paystack)
    await credit(app, store.id, 250_000)
    paystack.transfer_outcome = "failed"
    await run_job(app, jobs)  # in bulk: the answer reports no fee
    ((reference, _, status),) = await payouts(app)
    assert status == "processing"
    assert await fee_books(app) == []
    (failed,) = webhooks(paystack, "transfer.failed", reference)
    for _ in range(2):
        assert await deliver(client, failed) == 200
        await jobs.run(app)
    # The provider already gave its fee back: nothing booked, nothing to return.
    assert await payouts(app) == [(reference, 250_000, "failed")]
    assert await fee_books(app) == []
    assert await balance(app, AccountKind.provider_fees) == 0
    assert await available(app, store.id) == 250_000


async def test_bulk_transfers_book_each_fee_once_and_a_reversal_gives_its_fee_back_once(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    stores = [(await paid_store(app, client, paystack, f"Fee {n}"))[0] for n in range(2)]
    amounts = [1_000_000, 6_000_000]
    for store, amount in zip(stores, amounts, strict=True):
        await credit(app, store.id, amount)
    clearing = await balance(app, AccountKind.provider_clearing)
    paystack.webhooks.hold()
    await run_job(app, jobs)
    assert paystack.calls["transfer.bulk"] == 1
    assert await fee_books(app) == []  # the bulk answer reports no fee: the webhooks do
    made = {r: (a, s) for r, a, s in await payouts(app)}
    assert sorted(a for a, _ in made.values()) == amounts
    fees = {r: paystack.transfers[r].fee for r in made}
    assert (
        sorted(fees.values()) == [transfer_fee(1_000_000), transfer_fee(6_000_000)] == [2500, 5000]
    )
    held = [o.body for o in paystack.webhooks.held]
    for body in held + held:
        assert await deliver(client, body) == 200
        await jobs.run(app)
    assert {r: s for r, _, s in await payouts(app)} == dict.fromkeys(made, "paid")
    ids = {r: str(i) for i, r in await select(app, sa.select(Payout.id, Payout.reference))}
    assert sorted(await fee_books(app)) == sorted(
        (f"payout-fee:{ids[r]}", r, fees[r]) for r in made
    )
    assert await balance(app, AccountKind.provider_fees) == sum(fees.values())
    assert await balance(app, AccountKind.provider_clearing) == clearing - sum(amounts) - sum(
        fees.values()
    )

    # The bank sends the bigger one back: Paystack reverses it and returns amount and fee.
    big = next(r for r in made if made[r][0] == 6_000_000)
    paystack.transfer_outcome = "reversed"
    await paystack._process_transfer(paystack.transfers[big])
    (reversed_,) = [o.body for o in paystack.webhooks.held if big.encode() in o.body][-1:]
    for _ in range(3):
        assert await deliver(client, reversed_) == 200
        await jobs.run(app)
    assert {r: s for r, _, s in await payouts(app)} == {
        r: "reversed" if r == big else "paid" for r in made
    }
    assert sorted(await fee_books(app)) == sorted(
        [(f"payout-fee:{ids[r]}", r, fees[r]) for r in made]
        + [(f"payout-fee-return:{ids[big]}", big, fees[big])]
    )
    small = next(r for r in made if r != big)
    assert await balance(app, AccountKind.provider_fees) == fees[small]
    assert await balance(app, AccountKind.provider_clearing) == clearing - 1_000_000 - fees[small]
    for store, amount in zip(stores, amounts, strict=True):
        assert await available(app, store.id) == (amount if amount == 6_000_000 else 0)
