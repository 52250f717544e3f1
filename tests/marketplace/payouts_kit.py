"""Payout test helpers: stores with a resolved payout account at the Paystack fake, money made
available to them straight through the ledger, and the payout job run as the worker runs it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from oja.billing.config import BillingSettings
from oja.core.clock import utcnow
from oja.core.db import unit_of_work
from oja.marketplace.config import MarketplaceSettings
from oja.marketplace.ledger.models import (
    AccountKind,
    EntryType,
    LedgerPosting,
    LedgerTransaction,
    TransactionKind,
)
from oja.marketplace.ledger.service import Leg, post
from oja.marketplace.payouts import repository, transfers
from oja.marketplace.payouts.jobs import run_payouts, verify_payouts
from oja.marketplace.payouts.models import Payout, PayoutLog, PayoutStatus
from oja.notifications.models import Notification
from oja.sandbox.paystack import PaystackFake
from tests.billing.conftest import paystack_headers
from tests.conftest import Jobs

from .conftest import Person, person, rows
from .shop import WEBHOOK, Store, shop

BANK = "058"


async def credit(app: Any, vendor_id: str, amount: int) -> None:
    """``amount`` of a paid, released sale in the store's available balance."""
    async with unit_of_work(app.state.runtime.database) as db:
        await credit_in(db, vendor_id, amount)


async def credit_in(db: AsyncSession, vendor_id: str, amount: int) -> None:
    await post(
        db,
        source=f"test-credit:{uuid.uuid4()}",
        kind=TransactionKind.release,
        currency="NGN",
        legs=[
            Leg(AccountKind.provider_clearing, EntryType.payment, amount),
            Leg(AccountKind.store_available, EntryType.release, -amount, uuid.UUID(vendor_id)),
        ],
    )


async def book_in(
    db: AsyncSession, vendor_id: str, amount: int, sequence: int = 1, *, credit: int | None = None
) -> Payout:
    """``credit`` (default ``amount``) made available to the store and a payout of ``amount``
    booked as the job books it (the day's ``sequence``, whatever the balance), ``pending``."""
    account = await repository.active_account(db, uuid.UUID(vendor_id))
    assert account is not None
    now = utcnow()
    payout = Payout(
        id=uuid.uuid4(),
        vendor_id=account.vendor_id,
        reference=transfers.reference_for(account.vendor_id, now.date(), sequence),
        currency="NGN",
        amount=amount,
        status=PayoutStatus.pending,
        provider=account.provider,
        account_id=account.id,
        recipient_code=account.recipient_code,
        run_date=now.date(),
        sequence=sequence,
    )
    await credit_in(db, vendor_id, amount if credit is None else credit)
    await transfers.book(db, payout)
    return payout


async def failed_payout(app: Any, vendor_id: str, amount: int) -> str:
    """A payout of ``amount`` booked and failed (the money returned), as the job and a failed
    transfer leave it; its id."""
    async with unit_of_work(app.state.runtime.database) as db:
        payout = await book_in(db, vendor_id, amount)
        await transfers.move_to(db, payout, PayoutStatus.failed, None, "Account closed")
        return str(payout.id)


async def otp_payout(app: Any, paystack: PaystackFake, vendor_id: str, amount: int) -> str:
    """A payout of ``amount`` sent while the Paystack fake asks for an OTP: ``otp_required``, its
    transfer waiting at the fake for ``finalize_transfer``; its id. The store's account is active."""
    runtime = app.state.runtime
    await credit(app, vendor_id, amount)
    async with unit_of_work(runtime.database) as db:
        market = runtime.settings.section(MarketplaceSettings)
        payout = await transfers.make_payout(db, uuid.UUID(vendor_id), utcnow(), market)
    assert payout is not None
    before, paystack.otp_required = paystack.otp_required, True
    try:
        async with unit_of_work(runtime.database) as db:
            billing = runtime.settings.section(BillingSettings)
            outcome = await transfers.send(db, payout.vendor_id, payout.id, billing)
    finally:
        paystack.otp_required = before
    assert outcome == "otp_required", outcome
    return str(payout.id)


async def put_account(
    client: httpx.AsyncClient, who: Person, number: str, bank: str = BANK
) -> httpx.Response:
    return await client.put(
        "/vendors/me/payout-account",
        json={"bank_code": bank, "account_number": number},
        headers=who.headers,
    )


async def paid_store(
    app: Any,
    client: httpx.AsyncClient,
    paystack: PaystackFake,
    name: str = "Mama Put Foods",
    *,
    holder: str | None = None,
) -> tuple[Store, str]:
    """An approved store whose payout account (holder's name like the store's) is active."""
    store = await shop(app, client, name, [])
    number = f"{uuid.uuid4().int % 10**10:010d}".replace("000", "123", 1)
    paystack.accounts[(BANK, number)] = holder or f"{name.upper()} VENTURES"
    answer = await put_account(client, store.owner, number)
    assert answer.status_code == 200, answer.text
    assert answer.json()["active"]["status"] == "active"
    return store, number


async def run_job(app: Any, jobs: Jobs, definition: Any = run_payouts) -> list[tuple[str, str]]:
    async with unit_of_work(app.state.runtime.database) as db:
        definition.enqueue(db)
    return await jobs.run_kinds(app)


async def verify(app: Any, jobs: Jobs) -> list[tuple[str, str]]:
    return await run_job(app, jobs, verify_payouts)


async def select(app: Any, statement: Any) -> list[Any]:
    """The rows of a SQLAlchemy statement (typed binds: ids compare on both backends)."""
    async with app.state.runtime.database.engine.connect() as conn:
        return list((await conn.execute(statement)).all())


async def payouts(app: Any, vendor_id: str | None = None) -> list[tuple[str, int, str]]:
    """(reference, amount, status) of every payout (of one store), oldest first."""
    query = sa.select(Payout.reference, Payout.amount, Payout.status).order_by(
        Payout.created_at, Payout.reference
    )
    if vendor_id:
        query = query.where(Payout.vendor_id == uuid.UUID(vendor_id))
    return [(r, int(a), s) for r, a, s in await select(app, query)]


async def log_of(app: Any, vendor_id: str) -> list[tuple[str, str | None]]:
    query = (
        sa.select(PayoutLog.action, PayoutLog.reason)
        .where(PayoutLog.vendor_id == uuid.UUID(vendor_id))
        .order_by(PayoutLog.created_at, PayoutLog.id)
    )
    return [(a, r) for a, r in await select(app, query)]


async def payout_entries(app: Any, vendor_id: str) -> list[tuple[str, str, int]]:
    """(source, kind, amount) of the store's payout postings, in booking order."""
    query = (
        sa.select(LedgerTransaction.source, LedgerTransaction.kind, LedgerPosting.amount)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
        .where(
            LedgerPosting.vendor_id == uuid.UUID(vendor_id),
            LedgerTransaction.source.like("payout%"),
        )
        .order_by(LedgerPosting.created_at, LedgerPosting.id)
    )
    return [(s, k, int(a)) for s, k, a in await select(app, query)]


async def notified(app: Any, event: str, user_id: str | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(Notification).where(Notification.event == event)
    if user_id:
        query = query.where(Notification.user_id == uuid.UUID(user_id))
    return int((await select(app, query))[0][0])


async def available(app: Any, vendor_id: str) -> int:
    found = await rows(
        app,
        "SELECT balance FROM ledger_account WHERE key = :k",
        k=f"store_available:{vendor_id}:NGN",
    )
    return -int(found[0][0]) if found else 0


async def deliver(client: httpx.AsyncClient, body: bytes, *, forged: bool = False) -> int:
    headers = paystack_headers(body)
    if forged:
        headers = {**headers, "x-paystack-signature": "0" * 128}
    answer = await client.post(WEBHOOK, content=body, headers=headers)
    return answer.status_code


async def stranger(client: httpx.AsyncClient) -> Person:
    return await person(client, "stranger")
