"""Payout accounts (set by the store's owner, resolved by the provider, approved by an admin when
the names differ), payout holds, listings and the admin's retry.

**Name rule.** The provider's resolved holder name matches the store's registered name when, after
both are upper-cased, split on anything not a letter or digit, and stripped of one-letter tokens
and of :data:`IGNORED_TOKENS` (legal forms and filler words), they share at least two thirds of the
smaller set's tokens (and at least one). "Mama Put Foods" matches "MAMA PUT FOODS VENTURES LTD";
"Ada Fabrics" does not match "OBI ADA CHIOMA" (one of two). Otherwise the account waits for
``POST /admin/vendors/{id}/payout-account/approve``.

**Changes.** The first account takes effect at once. Any later one, once active, holds payouts for
``OJA_MARKETPLACE_PAYOUT_ACCOUNT_CHANGE_HOLD_HOURS`` (account-takeover defence). Every change is
recorded in ``payout_log``, logged and notified to the store's owners.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.billing import service as billing
from oja.billing.config import BillingSettings
from oja.billing.errors import from_provider
from oja.billing.providers.paystack import PaystackClient
from oja.billing.providers.port import ProviderCallError, ProviderCallRefused
from oja.core import events
from oja.core.clock import as_utc, utcnow
from oja.core.pagination import Page, PageParams
from oja.marketplace.config import MarketplaceSettings
from oja.marketplace.errors import (
    NoPendingPayoutAccount,
    PayoutAccountUnresolved,
    PayoutNotAwaitingOtp,
    PayoutNotFound,
    PayoutNotRetryable,
    PayoutOtpRejected,
    VendorNotFound,
    VendorRoleRequired,
)
from oja.marketplace.payouts import repository, subaccounts, transfers
from oja.marketplace.payouts.jobs import send_payout
from oja.marketplace.payouts.models import (
    AccountStatus,
    Payout,
    PayoutAccount,
    PayoutAction,
    PayoutStatus,
)
from oja.marketplace.payouts.schemas import (
    AccountOut,
    HoldOut,
    OtpResentOut,
    PayoutAccountIn,
    PayoutAccountOut,
    PayoutOut,
    StoreAccountOut,
)
from oja.marketplace.vendors import repository as vendors
from oja.marketplace.vendors.models import StaffRole
from oja.marketplace.vendors.service import VendorContext

log = structlog.get_logger("oja.marketplace.payouts")

ACCOUNT_CHANGED = "payout.account_changed"
IGNORED_TOKENS = frozenset(
    {
        "LTD", "LIMITED", "PLC", "INC", "LLC", "CO", "COMPANY", "NIG", "NIGERIA", "ENTERPRISE",
        "ENTERPRISES", "VENTURE", "VENTURES", "GLOBAL", "INTERNATIONAL", "SERVICES", "STORE",
        "STORES", "SHOP", "THE", "AND", "OF", "MR", "MRS", "MS", "DR",
    }
)  # fmt: skip


def name_tokens(name: str) -> frozenset[str]:
    words = re.split(r"[^0-9A-Z]+", name.upper())
    return frozenset(w for w in words if len(w) > 1 and w not in IGNORED_TOKENS)


def names_match(resolved: str, registered: str) -> bool:
    """The name rule of this module's docstring."""
    a, b = name_tokens(resolved), name_tokens(registered)
    if not a or not b:
        return False
    return 3 * len(a & b) >= 2 * min(len(a), len(b))


def _masked(number: str) -> str:
    return "*" * max(0, len(number) - 4) + number[-4:]


def account_out(account: PayoutAccount) -> AccountOut:
    return AccountOut(
        id=account.id,
        bank_code=account.bank_code,
        account_number=_masked(account.account_number),
        account_name=account.account_name,
        provider=account.provider,
        currency=account.currency,
        status=AccountStatus(account.status),
        name_matched=account.name_matched,
        created_at=account.created_at,
        activated_at=account.activated_at,
    )


def payout_out(payout: Payout) -> PayoutOut:
    return PayoutOut(
        id=payout.id,
        vendor_id=payout.vendor_id,
        reference=payout.reference,
        amount=payout.amount,
        currency=payout.currency,
        status=PayoutStatus(payout.status),
        provider=payout.provider,
        retry_of=payout.retry_of,
        failure_reason=payout.failure_reason,
        created_at=payout.created_at,
        sent_at=payout.sent_at,
        settled_at=payout.settled_at,
    )


async def payout_account(db: AsyncSession, vendor_id: uuid.UUID) -> PayoutAccountOut:
    found = {AccountStatus(a.status): a for a in await repository.accounts(db, vendor_id)}
    hold = await repository.hold(db, vendor_id)
    held_until = as_utc(hold.held_until) if hold and hold.held_until else None
    active, pending = found.get(AccountStatus.active), found.get(AccountStatus.pending_approval)
    return PayoutAccountOut(
        active=account_out(active) if active else None,
        pending=account_out(pending) if pending else None,
        held=bool(hold and hold.held),
        hold_reason=hold.reason if hold and hold.held else None,
        held_until=held_until if held_until and held_until > utcnow() else None,
    )


async def set_account(
    db: AsyncSession,
    ctx: VendorContext,
    data: PayoutAccountIn,
    market: MarketplaceSettings,
    billing_settings: BillingSettings,
) -> PayoutAccountOut:
    """Resolve, create the transfer recipient, and activate or queue for approval (owners only)."""
    if ctx.role != StaffRole.owner:
        raise VendorRoleRequired(
            "Only the store's owners may set its payout account.",
            details={"roles": [StaffRole.owner]},
        )
    store = await vendors.vendor(db, ctx.vendor_id)
    if store is None:
        raise VendorNotFound("No such store.")
    provider = market.payout_provider
    try:
        async with billing.provider_client(billing_settings, provider) as client:
            resolved = await client.resolve_account(
                account_number=data.account_number, bank_code=data.bank_code
            )
            recipient = await client.create_recipient(
                name=resolved.account_name,
                account_number=resolved.account_number,
                bank_code=data.bank_code,
                currency=market.payout_currency,
            )
    except ProviderCallRefused as exc:
        raise PayoutAccountUnresolved(
            "The provider could not resolve this bank code and account number.",
            details={"provider": provider, "provider_message": exc.message},
        ) from exc
    except ProviderCallError as exc:
        raise from_provider(exc) from exc
    now = utcnow()
    hold = await repository.ensure_hold(db, ctx.vendor_id)  # one change of a store at a time
    current = {AccountStatus(a.status): a for a in await repository.accounts(db, ctx.vendor_id)}
    active = current.get(AccountStatus.active)
    if (
        active is not None
        and active.bank_code == data.bank_code
        and active.account_number == resolved.account_number
    ):
        # The account already in use: nothing changes but a pending change is withdrawn.
        await repository.replace_accounts(db, ctx.vendor_id, [AccountStatus.pending_approval], now)
        return await payout_account(db, ctx.vendor_id)
    matched = names_match(resolved.account_name, store.name)
    await repository.replace_accounts(
        db,
        ctx.vendor_id,
        [AccountStatus.active, AccountStatus.pending_approval]
        if matched
        else [AccountStatus.pending_approval],
        now,
    )
    account = PayoutAccount(
        vendor_id=ctx.vendor_id,
        provider=provider,
        bank_code=data.bank_code,
        account_number=resolved.account_number,
        account_name=resolved.account_name,
        recipient_code=recipient.code,
        currency=market.payout_currency,
        name_matched=matched,
        status=AccountStatus.active if matched else AccountStatus.pending_approval,
        set_by=ctx.user_id,
        activated_at=now if matched else None,
    )
    db.add(account)
    await db.flush()
    if matched:
        action = PayoutAction.account_changed if active else PayoutAction.account_set
        if active is not None:
            hold.held_until = now + timedelta(hours=market.payout_account_change_hold_hours)
    else:
        action = PayoutAction.account_awaiting_approval
    await _record_change(db, account, action, ctx.user_id, hold.held_until if matched else None)
    if matched:
        await subaccounts.ensure_subaccount(
            db, account, market, billing_settings, active_from=hold.held_until
        )
    await db.flush()
    return await payout_account(db, ctx.vendor_id)


async def approve_account(
    db: AsyncSession, vendor_id: uuid.UUID, actor_id: uuid.UUID, market: MarketplaceSettings
) -> PayoutAccountOut:
    if await vendors.vendor(db, vendor_id) is None:
        raise VendorNotFound("No such store.")
    hold = await repository.ensure_hold(db, vendor_id)
    current = {AccountStatus(a.status): a for a in await repository.accounts(db, vendor_id)}
    pending = current.get(AccountStatus.pending_approval)
    if pending is None:
        raise NoPendingPayoutAccount("This store has no payout account waiting for approval.")
    now = utcnow()
    active = current.get(AccountStatus.active)
    await repository.replace_accounts(db, vendor_id, [AccountStatus.active], now)
    await repository.decide(
        db,
        vendor_id,
        pending.id,
        AccountStatus.active,
        {"approved_by": actor_id, "activated_at": now, "updated_at": now},
    )
    if active is not None:
        hold.held_until = now + timedelta(hours=market.payout_account_change_hold_hours)
    await db.flush()
    await db.refresh(pending)
    await _record_change(
        db, pending, PayoutAction.account_approved, actor_id, hold.held_until if active else None
    )
    await subaccounts.ensure_subaccount(db, pending, market, None, active_from=hold.held_until)
    return await payout_account(db, vendor_id)


async def reject_account(
    db: AsyncSession, vendor_id: uuid.UUID, reason: str, actor_id: uuid.UUID
) -> PayoutAccountOut:
    """Refuse the account waiting for approval (kept as ``rejected``); the active one, if any,
    stays where payouts go."""
    if await vendors.vendor(db, vendor_id) is None:
        raise VendorNotFound("No such store.")
    await repository.ensure_hold(db, vendor_id)  # one change of a store at a time
    current = {AccountStatus(a.status): a for a in await repository.accounts(db, vendor_id)}
    pending = current.get(AccountStatus.pending_approval)
    if pending is None:
        raise NoPendingPayoutAccount("This store has no payout account waiting for approval.")
    now = utcnow()
    await repository.decide(db, vendor_id, pending.id, AccountStatus.rejected, {"updated_at": now})
    await db.flush()
    await db.refresh(pending)
    await _record_change(db, pending, PayoutAction.account_rejected, actor_id, None, reason=reason)
    return await payout_account(db, vendor_id)


async def list_accounts(
    db: AsyncSession, *, status: AccountStatus | None, paging: PageParams
) -> Page[StoreAccountOut]:
    total, rows = await repository.list_accounts(
        db,
        status=str(status) if status else None,
        offset=paging.offset,
        limit=paging.per_page,
    )
    items = [
        StoreAccountOut(
            **account_out(account).model_dump(), vendor_id=account.vendor_id, store_name=name
        )
        for account, name in rows
    ]
    return Page[StoreAccountOut].of(items, total=total, params=paging)


async def _record_change(
    db: AsyncSession,
    account: PayoutAccount,
    action: PayoutAction,
    actor_id: uuid.UUID,
    held_until: datetime | None,
    *,
    reason: str | None = None,
) -> None:
    details = {
        "account_id": str(account.id),
        "bank_code": account.bank_code,
        "account_last4": account.account_number[-4:],
        "name_matched": account.name_matched,
        "held_until": held_until.isoformat() if held_until else None,
    }
    repository.log(db, account.vendor_id, action, actor_id=actor_id, reason=reason, details=details)
    log.info(
        "marketplace.payout.account_changed",
        vendor_id=str(account.vendor_id),
        action=str(action),
        actor_id=str(actor_id),
        reason=reason,
        **details,
    )
    store = await vendors.vendor(db, account.vendor_id)
    await events.emit(
        ACCOUNT_CHANGED,
        recipient_ids=await vendors.owner_ids(db, account.vendor_id),
        event_id=uuid.uuid5(account.id, str(action)),
        store_name=store.name if store else "",
        bank_code=account.bank_code,
        account_last4=account.account_number[-4:],
        status=str(account.status),
        held_until=details["held_until"] or "",
    )


# Holds


async def set_hold(
    db: AsyncSession, vendor_id: uuid.UUID, *, held: bool, reason: str, actor_id: uuid.UUID
) -> HoldOut:
    if await vendors.vendor(db, vendor_id) is None:
        raise VendorNotFound("No such store.")
    hold = await repository.ensure_hold(db, vendor_id)
    hold.held, hold.reason = held, reason
    action = PayoutAction.hold if held else PayoutAction.release
    repository.log(db, vendor_id, action, actor_id=actor_id, reason=reason, details={})
    await db.flush()
    log.info(
        f"marketplace.payout.{action}",
        vendor_id=str(vendor_id),
        actor_id=str(actor_id),
        reason=reason,
    )
    return HoldOut(
        vendor_id=vendor_id,
        held=hold.held,
        reason=hold.reason,
        held_until=as_utc(hold.held_until) if hold.held_until else None,
    )


# Payouts


async def list_payouts(
    db: AsyncSession,
    *,
    vendor_id: uuid.UUID | None,
    status: PayoutStatus | None,
    paging: PageParams,
) -> Page[PayoutOut]:
    total, rows = await repository.list_payouts(
        db,
        vendor_id=vendor_id,
        status=str(status) if status else None,
        offset=paging.offset,
        limit=paging.per_page,
    )
    return Page[PayoutOut].of([payout_out(p) for p in rows], total=total, params=paging)


async def retry(db: AsyncSession, payout_id: uuid.UUID, actor_id: uuid.UUID) -> PayoutOut:
    """A failed payout again, as a new payout under ``<reference>-r<n>``; sent after commit."""
    vendor_id = await repository.store_of_payout(db, payout_id)
    failed = None if vendor_id is None else await repository.payout(db, vendor_id, payout_id)
    if failed is None:
        raise PayoutNotFound("No such payout.")
    if failed.status != PayoutStatus.failed:
        raise PayoutNotRetryable(
            f"A {failed.status} payout cannot be retried; only a failed one.",
            details={"status": failed.status},
        )
    payout = await transfers.book_retry(db, failed, utcnow())
    if payout is None:
        raise PayoutNotRetryable(
            "This payout was retried already, or the store has a payout in flight, no active "
            "account, or less available than the payout's amount.",
            details={"amount": failed.amount},
        )
    repository.log(
        db,
        failed.vendor_id,
        PayoutAction.retry,
        actor_id=actor_id,
        details={"payout_id": str(failed.id), "retry_id": str(payout.id)},
    )
    send_payout.enqueue(db, vendor_id=payout.vendor_id, payout_id=payout.id)
    await db.flush()
    await db.refresh(payout)
    log.info("marketplace.payout.retried", payout_id=str(failed.id), retry_id=str(payout.id))
    return payout_out(payout)


# OTP


async def _awaiting_otp(db: AsyncSession, payout_id: uuid.UUID) -> Payout:
    """The payout, locked (a replayed or concurrent finalize waits here, then finds it moved)."""
    vendor_id = await repository.store_of_payout(db, payout_id)
    payout = (
        None if vendor_id is None else await repository.payout(db, vendor_id, payout_id, lock=True)
    )
    if payout is None:
        raise PayoutNotFound("No such payout.")
    if payout.status != PayoutStatus.otp_required or not payout.transfer_code:
        raise PayoutNotAwaitingOtp(
            f"A {payout.status} payout is not waiting for an OTP.",
            details={"status": payout.status},
        )
    return payout


async def finalize(
    db: AsyncSession,
    payout_id: uuid.UUID,
    otp: str,
    actor_id: uuid.UUID,
    settings: BillingSettings,
) -> PayoutOut:
    """Give the provider the transfer's OTP; the payout then moves as the provider answers. A
    refused OTP changes nothing (the payout still waits)."""
    payout = await _awaiting_otp(db, payout_id)
    async with billing.provider_client(settings, payout.provider) as client:
        if not isinstance(client, PaystackClient):  # only Paystack holds transfers for an OTP
            raise PayoutNotAwaitingOtp("This payout's provider has no OTP step.")
        try:
            assert payout.transfer_code is not None
            result = await client.finalize_transfer(payout.transfer_code, otp)
        except ProviderCallRefused as exc:
            raise PayoutOtpRejected(
                "The provider refused this OTP; the payout still waits for the right one.",
                details={"provider_message": exc.message},
            ) from exc
        except ProviderCallError as exc:
            raise from_provider(exc) from exc
    outcome = await transfers.apply(db, payout, result)
    repository.log(
        db,
        payout.vendor_id,
        PayoutAction.otp_finalized,
        actor_id=actor_id,
        details={"payout_id": str(payout.id), "outcome": outcome},
    )
    await db.flush()
    await db.refresh(payout)
    log.info(
        "marketplace.payout.finalized",
        payout_id=str(payout.id),
        actor_id=str(actor_id),
        outcome=outcome,
    )
    return payout_out(payout)


async def resend_otp(
    db: AsyncSession, payout_id: uuid.UUID, actor_id: uuid.UUID, settings: BillingSettings
) -> OtpResentOut:
    """Have the provider send the transfer's OTP to the business's phone again."""
    payout = await _awaiting_otp(db, payout_id)
    async with billing.provider_client(settings, payout.provider) as client:
        if not isinstance(client, PaystackClient):
            raise PayoutNotAwaitingOtp("This payout's provider has no OTP step.")
        try:
            assert payout.transfer_code is not None
            await client.resend_transfer_otp(payout.transfer_code)
        except ProviderCallError as exc:
            raise from_provider(exc) from exc
    repository.log(
        db,
        payout.vendor_id,
        PayoutAction.otp_resent,
        actor_id=actor_id,
        details={"payout_id": str(payout.id)},
    )
    await db.flush()
    log.info("marketplace.payout.otp_resent", payout_id=str(payout.id), actor_id=str(actor_id))
    return OtpResentOut(payout_id=payout.id, status=PayoutStatus(payout.status))
