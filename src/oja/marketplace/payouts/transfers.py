"""Payouts made and tracked: booked with their row, sent under their reference, settled once.

* **Made.** :func:`make_payout`, one store per unit of work, re-reads the store's available
  balance with its ledger account row locked, so two runs racing serialise there: the second finds the first's payout in flight
  and makes none (the partial unique index on in-flight payouts backs this up). The payout row and
  its ledger transaction ``payout:<id>`` (``store_available`` debited, ``provider_clearing``
  credited) are written in the same unit of work. A negative or too small balance pays nothing.
* **Sent.** :func:`send` runs after that commit, in its own job. It always sends the row's own
  reference: a job killed after the provider accepted the transfer leaves the row ``pending``;
  the re-run's transfer is refused by the provider as a duplicate reference, and any refusal is
  first checked with the provider's transfer verify, so the row adopts the one transfer that exists.
* **Sent in bulk.** :mod:`oja.marketplace.payouts.bulk` sends a run's pending payouts in
  batches, each under its own reference, with the same adoption rule.
* **OTP.** A provider that holds a transfer for an OTP (Paystack ``status: otp``) leaves the payout
  ``otp_required`` until an admin finalizes it (:func:`oja.marketplace.payouts.service.finalize`).
* **Settled.** Webhooks and the verify sweep never trust a body: :func:`settle` asks the provider's
  transfer verify and moves the row by conditional updates (``pending → processing → paid |
  failed | reversed``; ``paid → reversed``). ``failed`` and ``reversed`` book the money back once
  under ``payout-return:<id>`` and tell the store.
* **Fee.** The provider debits its transfer fee (Paystack ``fee_charged``, Flutterwave ``fee``)
  from its balance when it accepts the transfer and gives it back only when the transfer fails
  or is reversed. The first verified record that reports it books it once under
  ``payout-fee:<id>``, the platform's expense (``provider_fees`` debited, clearing credited),
  never the store's; a returned payout books it back once under ``payout-fee-return:<id>``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from oja.billing import service as billing
from oja.billing.config import BillingSettings
from oja.billing.providers.flutterwave import FlutterwaveClient
from oja.billing.providers.paystack import PaystackClient
from oja.billing.providers.port import (
    ProviderCallRefused,
    Recipient,
    TransferResult,
)
from oja.core import events
from oja.core.clock import utcnow
from oja.marketplace.config import MarketplaceSettings
from oja.marketplace.ledger import repository as ledger_repository
from oja.marketplace.ledger import settlement
from oja.marketplace.ledger.models import AccountKind, EntryType, TransactionKind
from oja.marketplace.ledger.service import Leg, post
from oja.marketplace.payouts import repository
from oja.marketplace.payouts.models import IN_FLIGHT, RETURNED, Payout, PayoutStatus
from oja.marketplace.vendors import repository as vendors

log = structlog.get_logger("oja.marketplace.payouts")

TransferClient = PaystackClient | FlutterwaveClient
"""The adapters payouts are sent through (:func:`oja.billing.service.provider_client`)."""

PAYOUT_PAID = "payout.paid"
PAYOUT_FAILED = "payout.failed"

_MOVES: dict[PayoutStatus, tuple[PayoutStatus, ...]] = {
    PayoutStatus.otp_required: (PayoutStatus.pending,),
    PayoutStatus.processing: (PayoutStatus.pending, PayoutStatus.otp_required),
    PayoutStatus.paid: IN_FLIGHT,
    # Paystack fails an OTP transfer nobody finalized within 30 minutes (``abandoned``).
    PayoutStatus.failed: IN_FLIGHT,
    # Paystack reverses a transfer it had reported a success (the bank sent the money back).
    PayoutStatus.reversed: (*IN_FLIGHT, PayoutStatus.paid),
}
"""Target status → the statuses it may be reached from."""
_FROM_PROVIDER: dict[str, PayoutStatus] = {
    "pending": PayoutStatus.processing,
    "otp": PayoutStatus.otp_required,
    "success": PayoutStatus.paid,
    "failed": PayoutStatus.failed,
    "reversed": PayoutStatus.reversed,
}


def payout_source(payout_id: uuid.UUID) -> str:
    return f"payout:{payout_id}"


def return_source(payout_id: uuid.UUID) -> str:
    return f"payout-return:{payout_id}"


def fee_source(payout_id: uuid.UUID) -> str:
    return f"payout-fee:{payout_id}"


def fee_return_source(payout_id: uuid.UUID) -> str:
    return f"payout-fee-return:{payout_id}"


def reference_for(vendor_id: uuid.UUID, day: date, sequence: int) -> str:
    """Deterministic: the store, the run's day and the day's count of payouts for the store."""
    return f"payout_{vendor_id.hex}_{day:%Y%m%d}_{sequence}"


# Making payouts


async def due(db: AsyncSession, now: datetime, settings: MarketplaceSettings) -> list[uuid.UUID]:
    """The stores due a payout (up to a batch); each is made in its own unit of work."""
    return await repository.due_stores(
        db, settings.payout_currency, settings.payout_minimum, now, settings.payout_batch
    )


async def _payable(db: AsyncSession, vendor_id: uuid.UUID, currency: str, now: datetime) -> bool:
    hold = await repository.hold(db, vendor_id)
    if hold is not None and (hold.held or (hold.held_until is not None and hold.held_until > now)):
        return False
    return not await repository.in_flight(db, vendor_id, currency)


async def _payable_amount(db: AsyncSession, vendor_id: uuid.UUID, currency: str) -> int | None:
    """The store's available balance (its account locked) less what its refunds in flight on
    released orders will take from it: paid out now, that money would be owed back by the store
    when the refund is booked, driving ``available`` negative."""
    available = await repository.lock_available(db, vendor_id, currency)
    if available is None:
        return None
    return available - await settlement.reserved_for_refunds(db, vendor_id, currency)


async def make_payout(
    db: AsyncSession, vendor_id: uuid.UUID, now: datetime, settings: MarketplaceSettings
) -> Payout | None:
    """Book one payout of the store's available balance less its refunds in flight, or None
    when that is not due."""
    currency = settings.payout_currency
    payable = await _payable_amount(db, vendor_id, currency)
    if payable is None or payable < settings.payout_minimum:
        return None
    if not await _payable(db, vendor_id, currency, now):
        return None
    account = await repository.active_account(db, vendor_id)
    if account is None:
        return None
    day = now.date()
    sequence = await repository.count_on(db, vendor_id, day) + 1
    payout = Payout(
        id=uuid.uuid4(),
        vendor_id=vendor_id,
        reference=reference_for(vendor_id, day, sequence),
        currency=currency,
        amount=payable,
        status=PayoutStatus.pending,
        provider=account.provider,
        account_id=account.id,
        recipient_code=account.recipient_code,
        run_date=day,
        sequence=sequence,
    )
    try:
        async with db.begin_nested():
            await book(db, payout)
    except IntegrityError:
        # A racing run booked this store's payout first (SQLite has no row lock to wait on; the
        # partial unique index on in-flight payouts refuses the second).
        return None
    log.info(
        "marketplace.payout.created",
        payout_id=str(payout.id),
        vendor_id=str(vendor_id),
        amount=payable,
        reference=payout.reference,
    )
    return payout


async def book(db: AsyncSession, payout: Payout) -> None:
    """Write a new payout row and its ``payout:<id>`` ledger transaction together."""
    db.add(payout)
    await db.flush()
    await post(
        db,
        source=payout_source(payout.id),
        kind=TransactionKind.payout,
        currency=payout.currency,
        legs=[
            Leg(AccountKind.store_available, EntryType.payout, payout.amount, payout.vendor_id),
            Leg(AccountKind.provider_clearing, EntryType.payout, -payout.amount),
        ],
        reference=payout.reference,
    )


async def book_retry(db: AsyncSession, failed: Payout, now: datetime) -> Payout | None:
    """A new payout of a failed one's amount under ``<reference>-r<n>`` (the old reference is
    never sent again), or None when the store cannot be paid it now."""
    payable = await _payable_amount(db, failed.vendor_id, failed.currency)
    if payable is None or payable < failed.amount:
        return None
    if await repository.in_flight(db, failed.vendor_id, failed.currency):
        return None
    if await repository.retried(db, failed.vendor_id, failed.id):
        return None
    account = await repository.active_account(db, failed.vendor_id)
    if account is None:
        return None
    base, _, count = failed.reference.partition("-r")
    attempt = int(count) + 1 if count.isdigit() else 1
    payout = Payout(
        id=uuid.uuid4(),
        vendor_id=failed.vendor_id,
        reference=f"{base}-r{attempt}",
        currency=failed.currency,
        amount=failed.amount,
        status=PayoutStatus.pending,
        provider=account.provider,
        account_id=account.id,
        recipient_code=account.recipient_code,
        run_date=now.date(),
        sequence=failed.sequence,
        retry_of=failed.id,
    )
    await book(db, payout)
    return payout


# Sending and settling


async def send(
    db: AsyncSession, vendor_id: uuid.UUID, payout_id: uuid.UUID, settings: BillingSettings
) -> str:
    """Send a pending payout's transfer once; the outcome. A provider outage raises (retried)."""
    payout = await repository.payout(db, vendor_id, payout_id, lock=True)
    if payout is None:
        return "missing"
    if payout.status != PayoutStatus.pending:
        return f"already:{payout.status}"
    async with billing.provider_client(settings, payout.provider) as client:
        return await send_one(db, client, payout)


async def recipient_of(db: AsyncSession, payout: Payout) -> Recipient:
    account = await repository.account(db, payout.vendor_id, payout.account_id)
    assert account is not None
    return Recipient(
        code=payout.recipient_code,
        name=account.account_name,
        account_number=account.account_number,
        bank_code=account.bank_code,
        currency=payout.currency,
    )


async def send_one(db: AsyncSession, client: TransferClient, payout: Payout) -> str:
    """Send one pending (locked) payout's transfer alone; the outcome."""
    try:
        result = await client.transfer(
            amount=payout.amount,
            currency=payout.currency,
            reference=payout.reference,
            recipient=await recipient_of(db, payout),
            reason=f"Oja payout {payout.reference}",
        )
    except ProviderCallRefused as refused:
        # A duplicate reference (this payout was sent before a crash) or a real refusal: the
        # provider's own record of the reference decides.
        try:
            result = await client.verify_transfer(payout.reference)
        except ProviderCallRefused:
            return await move_to(db, payout, PayoutStatus.failed, None, refused.message)
    return await apply(db, payout, result)


async def settle(
    db: AsyncSession, reference: str, settings: BillingSettings, *, provider: str | None = None
) -> str:
    """Bring the payout ``reference`` names to the provider's word (a webhook or the sweep)."""
    found = await repository.store_of_reference(db, reference)
    if found is None:
        return "ignored:unknown_reference"
    payout = await repository.payout(db, found[0], found[1], lock=True)
    assert payout is not None
    if provider is not None and provider != payout.provider:
        return "ignored:other_provider"
    if payout.status in RETURNED:
        return f"already:{payout.status}"
    async with billing.provider_client(settings, payout.provider) as client:
        try:
            result = await client.verify_transfer(reference)
        except ProviderCallRefused:
            if payout.status == PayoutStatus.pending:
                return "pending"  # never reached the provider: the send job or sweep sends it
            raise
    return await apply(db, payout, result)


async def apply(db: AsyncSession, payout: Payout, result: TransferResult) -> str:
    """Move ``payout`` to what the provider's verified record says."""
    if result.reference != payout.reference or result.amount != payout.amount:
        log.warning(
            "marketplace.payout.mismatch",
            payout_id=str(payout.id),
            reference=result.reference,
            amount=result.amount,
        )
        return "ignored:mismatch"
    target = _FROM_PROVIDER[result.status]
    outcome = await move_to(db, payout, target, result.transfer_code, result.message)
    if result.fee and payout.status not in RETURNED:
        await _post_fee(db, payout, fee_source(payout.id), result.fee)
    return outcome


async def _post_fee(db: AsyncSession, payout: Payout, source: str, amount: int) -> None:
    """The provider's fee on the payout's transfer, once per ``source``: the platform's expense
    (``amount`` > 0 books it, < 0 gives it back)."""
    await post(
        db,
        source=source,
        kind=TransactionKind.fee,
        currency=payout.currency,
        legs=[
            Leg(AccountKind.provider_fees, EntryType.fee, amount),
            Leg(AccountKind.provider_clearing, EntryType.fee, -amount),
        ],
        reference=payout.reference,
    )


async def move_to(
    db: AsyncSession,
    payout: Payout,
    target: PayoutStatus,
    transfer_code: str | None,
    message: str | None,
) -> str:
    """Move ``payout`` to ``target`` once (a conditional update); a returned payout's money
    goes back to available and its store is told; the outcome."""
    now = utcnow()
    # Read before the update: the ORM-enabled UPDATE below refreshes ``payout.status`` in place.
    before = payout.status
    values: dict[str, Any] = {"updated_at": now}
    if transfer_code:
        values["transfer_code"] = transfer_code
    if payout.sent_at is None and target != PayoutStatus.failed:
        values["sent_at"] = now
    if target in RETURNED:
        values.update(settled_at=now, failure_reason=(message or str(target))[:500])
    elif target == PayoutStatus.paid:
        values["settled_at"] = now
    if payout.status == target or not await repository.move(
        db,
        payout.vendor_id,
        payout.id,
        from_statuses=_MOVES[target],
        to_status=target,
        values=values,
    ):
        return f"unchanged:{payout.status}"
    log.info(
        "marketplace.payout.moved",
        payout_id=str(payout.id),
        from_status=str(before),
        to_status=str(target),
    )
    # What reached the store: a running total moved with the status, read by the balance route.
    if target == PayoutStatus.paid:
        await ledger_repository.add_paid_out(
            db, {(payout.vendor_id, payout.currency): payout.amount}
        )
    elif target == PayoutStatus.reversed and before == PayoutStatus.paid:
        await ledger_repository.add_paid_out(
            db, {(payout.vendor_id, payout.currency): -payout.amount}
        )
    if target in RETURNED:
        await _give_back(db, payout, target, message)
    elif target == PayoutStatus.paid:
        await _notify(db, payout, PAYOUT_PAID)
    return str(target)


async def _give_back(
    db: AsyncSession, payout: Payout, target: PayoutStatus, message: str | None
) -> None:
    booked = await post(
        db,
        source=return_source(payout.id),
        kind=TransactionKind.adjustment,
        currency=payout.currency,
        legs=[
            Leg(AccountKind.provider_clearing, EntryType.adjustment, payout.amount),
            Leg(
                AccountKind.store_available,
                EntryType.adjustment,
                -payout.amount,
                payout.vendor_id,
            ),
        ],
        reference=payout.reference,
    )
    if booked is not None:
        await _notify(db, payout, PAYOUT_FAILED, status=str(target), reason=message or "")
    # The provider gives its fee back with the money: so does the ledger, if it booked one.
    fee = await ledger_repository.transaction_by_source(db, fee_source(payout.id))
    if fee is not None:
        await _post_fee(db, payout, fee_return_source(payout.id), -fee.amount)


async def _notify(db: AsyncSession, payout: Payout, event: str, **extra: Any) -> None:
    store = await vendors.vendor(db, payout.vendor_id)
    await events.emit(
        event,
        recipient_ids=await vendors.owner_ids(db, payout.vendor_id),
        event_id=uuid.uuid5(payout.id, event),
        payout_id=str(payout.id),
        store_name=store.name if store else "",
        amount=payout.amount,
        currency=payout.currency,
        **extra,
    )
