"""Payments through Paystack or Flutterwave (the provider port), refunds, the shared verification step, and entitlements.

Invariants: a payment row exists only with the provider's checkout URL (the provider is called
first); value is granted only from a verified transaction whose amount and currency match ours, through
a ledger entry unique per payment; statuses move only forward (:mod:`oja.billing.states`). Services
flush, never commit.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.billing import repository
from oja.billing.config import BillingSettings
from oja.billing.errors import (
    BillingNotConfigured,
    IdempotencyKeyReused,
    InvalidInput,
    PaymentInitiationFailed,
    PaymentNotFound,
    ProviderError,
    ProviderUnavailable,
    RefundFailed,
    RefundNotAllowed,
    from_provider,
)
from oja.billing.models import Payment, Refund
from oja.billing.plans import CHAT_BASIC, CHAT_PRO, Plan
from oja.billing.providers.flutterwave import FlutterwaveClient
from oja.billing.providers.paystack import PaystackClient
from oja.billing.providers.paystack_plans import PaystackPlansClient
from oja.billing.providers.port import ProviderCallError, VerifiedTransaction
from oja.billing.schemas import InitiatePaymentRequest
from oja.billing.states import SUBSCRIPTION_ENTITLED, from_paystack
from oja.core import events
from oja.core.clock import utcnow
from oja.core.ids import uuid7
from oja.identity.models import User

log = structlog.get_logger("oja.billing")


def paystack_client(settings: BillingSettings) -> PaystackPlansClient:
    if not settings.paystack_secret_key:
        raise BillingNotConfigured(
            "Paystack is not configured on this server: set OJA_PAYSTACK_SECRET_KEY.",
            feature="paystack",
            settings=["OJA_PAYSTACK_SECRET_KEY"],
        )
    return PaystackPlansClient(
        base_url=settings.paystack_base_url, secret_key=settings.paystack_secret_key
    )


def flutterwave_client(settings: BillingSettings) -> FlutterwaveClient:
    if not settings.flutterwave_secret_key:
        raise BillingNotConfigured(
            "Flutterwave is not configured on this server: set OJA_FLUTTERWAVE_SECRET_KEY.",
            feature="flutterwave",
            settings=["OJA_FLUTTERWAVE_SECRET_KEY"],
        )
    return FlutterwaveClient(
        base_url=settings.flutterwave_base_url,
        secret_key=settings.flutterwave_secret_key,
        secret_hash=settings.flutterwave_secret_hash,
        redirect_url=settings.flutterwave_redirect_url,
    )


ProviderName = Literal["paystack", "flutterwave"]
PROVIDERS: tuple[ProviderName, ...] = ("paystack", "flutterwave")


def provider_client(settings: BillingSettings, provider: str) -> PaystackClient | FlutterwaveClient:
    """The adapter a payment made through ``provider`` is verified and refunded with."""
    if provider == "flutterwave":
        return flutterwave_client(settings)
    return paystack_client(settings)


def request_fingerprint(body: dict[str, Any]) -> str:
    """What an Idempotency-Key was first used with; a different body under the same key is refused."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


# Initiation


async def initiate_payment(
    session: AsyncSession,
    user: User,
    body: InitiatePaymentRequest,
    idempotency_key: str | None,
    settings: BillingSettings,
    *,
    provider: ProviderName = "paystack",
) -> Payment:
    """Start a transaction with ``provider``, or return the one this user started under
    ``idempotency_key``."""
    if body.amount > settings.paystack_max_amount:
        raise InvalidInput(
            f"amount must be at most {settings.paystack_max_amount} (minor units).",
            details={"max_amount": settings.paystack_max_amount},
        )
    email = str(body.email or user.email or "")
    if not email:
        raise InvalidInput("email is required: this account has no email address.")
    request = body.model_dump(mode="json")
    if provider != "paystack":  # Paystack's fingerprints predate the choice and stay as they were
        request["provider"] = provider
    fingerprint = request_fingerprint(request)
    if idempotency_key:
        existing = await repository.payment_by_key(session, user.id, idempotency_key)
        if existing is not None:
            return _same_request(existing, fingerprint)
    client = provider_client(settings, provider)
    reference = f"oja_{uuid7().hex}"
    callback = str(body.callback_url) if body.callback_url else settings.paystack_callback_url
    async with client:
        try:
            started = await client.initialize(
                email=email,
                amount=body.amount,
                currency=body.currency,
                reference=reference,
                callback_url=callback,
                metadata={**(body.metadata or {}), "user_id": str(user.id)},
            )
        except ProviderCallError as exc:
            raise from_provider(exc, refused=PaymentInitiationFailed) from exc
    now = utcnow()
    values = {
        "id": uuid7(),
        "user_id": user.id,
        "provider": provider,
        "reference": reference,
        "status": "pending",
        "amount": body.amount,
        "currency": body.currency,
        "amount_refunded": 0,
        "email": email,
        "authorization_url": started.authorization_url,
        "access_code": started.access_code,
        "idempotency_key": idempotency_key,
        "request_hash": fingerprint,
        "extra": body.metadata or {},
        "created_at": now,
        "updated_at": now,
    }
    inserted = await repository.insert_ignoring_conflict(
        session,
        Payment.__table__,  # type: ignore[arg-type]
        values,
        Payment.id,
    )
    if inserted is None:  # a concurrent request with the same key won; its transaction stands
        assert idempotency_key is not None
        winner = await repository.payment_by_key(session, user.id, idempotency_key)
        if winner is None:
            raise ProviderError("The payment could not be recorded; try again.")
        return _same_request(winner, fingerprint)
    payment = await repository.payment_by_reference(session, reference)
    assert payment is not None
    log.info("billing.payment.initiated", reference=reference, amount=body.amount)
    return payment


async def open_payment(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    email: str,
    amount: int,
    currency: str,
    metadata: dict[str, Any],
    callback_url: str | None,
    request_hash: str | None,
    settings: BillingSettings,
    provider: ProviderName = "paystack",
    plan: str | None = None,
    split: dict[str, Any] | None = None,
) -> Payment:
    """Start a Paystack or Flutterwave transaction for another module's purchase (a marketplace
    order group, always under a fresh reference; a store's plan: ``plan`` is the Paystack plan
    code, whose amount must equal ``amount``; ``split``: a Paystack dynamic split).

    The caller owns idempotency (its own row is unique per key) and computed the amount; ``metadata``
    is kept on the payment and travels with its ``billing.payment.*`` events. Flushed, not committed:
    if the caller's unit of work rolls back, the payment row goes with it. Amounts stay minor units
    here: the Flutterwave adapter converts to major units on the wire.
    """
    reference = f"oja_{uuid7().hex}"
    if provider == "paystack":
        callback_url = callback_url or settings.paystack_callback_url
    extra: dict[str, Any] = {"plan": plan}
    if split is not None and provider == "paystack":
        extra["split"] = split
    async with provider_client(settings, provider) as client:
        try:
            started = await client.initialize(
                email=email,
                amount=amount,
                currency=currency,
                reference=reference,
                callback_url=callback_url,
                metadata={**metadata, "user_id": str(user_id)},
                **extra,
            )
        except ProviderCallError as exc:
            raise from_provider(exc, refused=PaymentInitiationFailed) from exc
    payment = Payment(
        id=uuid7(),
        user_id=user_id,
        provider=provider,
        reference=reference,
        status="pending",
        amount=amount,
        currency=currency,
        amount_refunded=0,
        email=email,
        authorization_url=started.authorization_url,
        access_code=started.access_code,
        request_hash=request_hash,
        extra=metadata,
    )
    session.add(payment)
    log.info("billing.payment.initiated", reference=reference, amount=amount)
    return payment


def _same_request(existing: Payment, fingerprint: str) -> Payment:
    if existing.request_hash is not None and existing.request_hash != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request body."
        )
    return existing


# Verification: one step shared by the webhook job, the status refresh and the reconciler


Outcome = Literal["credited", "moved", "unchanged", "amount_mismatch", "no_change"]

PAYMENT_SUCCEEDED = "billing.payment.succeeded"
"""Emitted once, in the verifying unit of work, when a payment is credited (verified amount and
currency equal ours). Payload: ``payment_id``, ``reference``, ``user_id``, ``amount``,
``currency``, ``metadata``, ``fees`` (the provider's fee from the same verification, minor
units; 0 when it did not say) and ``split_shares`` (a split payment's allocation by subaccount
code, from the same verification; None when not split)."""
PAYMENT_FLAGGED = "billing.payment.flagged"
"""Emitted once when the provider verifies a different amount or currency: the same payload plus
``reason``, ``verified_amount`` and ``verified_currency``."""
DISPUTE_CHANGED = "billing.dispute.changed"
"""Emitted for every authentic ``charge.dispute.*`` delivery, once the dispute was re-read from the
provider and names one of our payments: ``provider``, ``dispute_id`` (the provider's),
``reference``, ``status``, ``resolution`` (None until resolved), ``amount``, ``currency``,
``due_at``, ``user_id``, ``metadata``. Subscribers make it idempotent (a replay re-emits)."""
PAYMENT_FAILED = "billing.payment.failed"
"""Emitted once when the provider verifies the transaction ``failed``: the same payload as
:data:`PAYMENT_SUCCEEDED` plus ``reason`` (the provider's gateway response, or ``"failed"``). A
failed transaction may still be verified ``success`` later (statuses only move forward)."""


def _payment_event(payment: Payment) -> dict[str, Any]:
    return {
        "payment_id": payment.id,
        "reference": payment.reference,
        "user_id": payment.user_id,
        "amount": payment.amount,
        "currency": payment.currency,
        "metadata": dict(payment.extra or {}),
    }


async def apply_verification(
    session: AsyncSession, payment: Payment, verified: VerifiedTransaction
) -> Outcome:
    """Bring ``payment`` to the provider's verified state, never backwards, crediting at most once."""
    target = from_paystack(verified.status)
    if target is None:
        await repository.touch_verified(session, payment.id)
        return "no_change"
    if target == "success" and (
        verified.amount != payment.amount or verified.currency.upper() != payment.currency
    ):
        if await repository.flag_payment(session, payment.id, "amount_mismatch"):
            log.warning(
                "billing.payment.amount_mismatch",
                reference=payment.reference,
                expected=payment.amount,
                verified=verified.amount,
                currency=verified.currency,
            )
            await events.emit(
                PAYMENT_FLAGGED,
                **_payment_event(payment),
                reason="amount_mismatch",
                verified_amount=verified.amount,
                verified_currency=verified.currency.upper(),
            )
        return "amount_mismatch"
    moved = await repository.move_payment(
        session,
        payment.id,
        target,
        paid_at=verified.paid_at if target == "success" else None,
        gateway_response=verified.gateway_response,
        channel=verified.channel,
    )
    if not moved:
        await repository.touch_verified(session, payment.id)
        return "unchanged"
    if target == "success":
        await repository.credit(
            session,
            user_id=payment.user_id,
            source=f"payment:{payment.reference}",
            kind="payment",
            amount=payment.amount,
            currency=payment.currency,
        )
        log.info("billing.payment.credited", reference=payment.reference, amount=payment.amount)
        await events.emit(
            PAYMENT_SUCCEEDED,
            **_payment_event(payment),
            fees=verified.fees or 0,
            split_shares=verified.split_shares,
        )
        return "credited"
    if target == "failed":
        log.info("billing.payment.failed", reference=payment.reference)
        await events.emit(
            PAYMENT_FAILED,
            **_payment_event(payment),
            reason=(verified.gateway_response or "failed")[:500],
        )
    return "moved"


async def owned_payment(session: AsyncSession, user_id: uuid.UUID, reference: str) -> Payment:
    payment = await repository.payment_by_reference(session, reference)
    if payment is None or payment.user_id != user_id:
        raise PaymentNotFound("No such payment.")
    return payment


async def payment_status(
    session: AsyncSession,
    user_id: uuid.UUID,
    reference: str,
    *,
    refresh: bool,
    settings: BillingSettings,
) -> Payment:
    """The stored status; verified with Paystack first when asked or never verified while pending."""
    payment = await owned_payment(session, user_id, reference)
    # A status read verifies a pending payment nobody verified for a while, without being asked;
    # a fresh one is not verified: Paystack reports a checkout still open as "abandoned".
    stale = utcnow() - timedelta(minutes=settings.paystack_reconcile_after)
    unverified = (
        payment.status == "pending" and payment.verified_at is None and payment.created_at < stale
    )
    if not (refresh or unverified) or payment.flag is not None:
        return payment
    try:
        async with provider_client(settings, payment.provider) as client:
            verified = await client.verify(reference)
    except ProviderCallError as exc:
        if refresh:  # whatever the provider said, the status could not be confirmed
            raise from_provider(exc, refused=ProviderUnavailable) from exc
        return payment  # an implicit check is best effort: the stored status stands
    await apply_verification(session, payment, verified)
    await session.refresh(payment)
    return payment


# Refunds


async def refund_payment(
    session: AsyncSession,
    user_id: uuid.UUID,
    reference: str,
    *,
    amount: int | None,
    idempotency_key: str | None,
    settings: BillingSettings,
) -> tuple[Refund, Payment]:
    """Refund part or all of a successful payment, never more than was paid."""
    payment = await owned_payment(session, user_id, reference)
    fingerprint = request_fingerprint({"reference": reference, "amount": amount})
    if idempotency_key:
        existing = await repository.refund_by_key(session, user_id, idempotency_key)
        if existing is not None:
            if existing.request_hash != fingerprint:
                raise IdempotencyKeyReused(
                    "This Idempotency-Key was already used with a different request body."
                )
            return existing, payment
    if payment.status != "success" or payment.flag is not None:
        raise RefundNotAllowed("Only a successful payment can be refunded.")
    wanted = amount if amount is not None else payment.amount - payment.amount_refunded
    if wanted <= 0 or not await repository.reserve_refund_amount(session, payment.id, wanted):
        raise RefundNotAllowed(
            "The refund would exceed what was paid.",
            details={"amount": payment.amount, "amount_refunded": payment.amount_refunded},
        )
    if idempotency_key:
        # The UPDATE above waited for any concurrent refund of this payment; it may have used our key.
        twin = await repository.refund_by_key(session, user_id, idempotency_key)
        if twin is not None:
            await repository.release_refund_amount(session, payment.id, wanted)
            return twin, payment
    client = provider_client(settings, payment.provider)
    async with client:
        try:
            # The whole remaining amount is sent as an explicit figure, so a retry cannot refund more.
            result = await client.refund(
                reference=reference, amount=wanted, currency=payment.currency
            )
        except ProviderCallError as exc:
            raise from_provider(exc, refused=RefundFailed) from exc
    refund = Refund(
        id=uuid7(),
        payment_id=payment.id,
        user_id=user_id,
        amount=wanted,
        currency=payment.currency,
        status=result.status
        if result.status in ("pending", "processing", "processed")
        else "pending",
        provider_refund_id=result.id or None,
        idempotency_key=idempotency_key,
        request_hash=fingerprint,
    )
    session.add(refund)
    await session.flush()
    if refund.status == "processed":
        await _debit_refund(session, refund)
    await session.refresh(payment)
    log.info("billing.refund.requested", reference=reference, amount=wanted)
    return refund, payment


REFUND_PROCESSED = "billing.refund.processed"
REFUND_FAILED = "billing.refund.failed"
"""In-process events when a refund is final: ``refund_id``, ``payment_id``, ``reference``,
``provider_refund_id``, ``amount``, ``currency`` — for the modules that asked for the refund."""


async def refund_by_reference(
    session: AsyncSession,
    reference: str,
    *,
    amount: int,
    request_id: str,
    settings: BillingSettings,
) -> Refund:
    """A system-initiated partial refund of a successful payment, once per ``request_id``.

    Idempotent across a crash between the provider's answer and our commit: the request id is our
    refund's idempotency key (a recorded one is returned) and the provider's ``merchant_note``, so
    a rerun finds a refund the provider made but we did not record (``GET /refund?transaction=``)
    and adopts it instead of asking twice. Raises :class:`RefundNotAllowed` beyond what was paid.
    """
    payment = await repository.payment_by_reference(session, reference)
    if payment is None:
        raise PaymentNotFound("No payment has this reference.")
    existing = await repository.refund_by_key(session, payment.user_id, request_id)
    if existing is not None:
        return existing
    if payment.status != "success" or payment.flag is not None:
        raise RefundNotAllowed("Only a successful payment can be refunded.")
    if not await repository.reserve_refund_amount(session, payment.id, amount):
        raise RefundNotAllowed(
            "The refund would exceed what was paid.",
            details={"amount": payment.amount, "amount_refunded": payment.amount_refunded},
        )
    client = paystack_client(settings)
    async with client:
        try:
            made = [
                r for r in await client.list_refunds(reference) if r.merchant_note == request_id
            ]
            result = (
                made[0]
                if made
                else await client.refund(
                    reference=reference,
                    amount=amount,
                    currency=payment.currency,
                    merchant_note=request_id,
                )
            )
        except ProviderCallError as exc:
            raise from_provider(exc, refused=RefundFailed) from exc
    refund = Refund(
        id=uuid7(),
        payment_id=payment.id,
        user_id=payment.user_id,
        amount=amount,
        currency=payment.currency,
        status=result.status if result.status in ("pending", "processing") else "pending",
        provider_refund_id=result.id or None,
        idempotency_key=request_id,
        request_hash=request_fingerprint({"reference": reference, "amount": amount}),
    )
    session.add(refund)
    await session.flush()
    if result.status in ("processed", "failed"):
        await apply_refund_event(session, refund.provider_refund_id or "", result.status)
        await session.refresh(refund)
    log.info("billing.refund.requested", reference=reference, amount=amount, system=True)
    return refund


async def verify_refund(
    session: AsyncSession, provider_refund_id: str, settings: BillingSettings
) -> str:
    """Ask the provider where a refund stands (``GET /refund/{id}``) and apply a final status, as
    its webhook would: for a webhook that never came."""
    client = paystack_client(settings)
    async with client:
        try:
            found = await client.fetch_refund(provider_refund_id)
        except ProviderCallError as exc:
            raise from_provider(exc, refused=RefundFailed) from exc
    return await apply_refund_event(session, provider_refund_id, found.status)


async def _debit_refund(session: AsyncSession, refund: Refund) -> None:
    await repository.credit(
        session,
        user_id=refund.user_id,
        source=f"refund:{refund.id}",
        kind="refund",
        amount=-refund.amount,
        currency=refund.currency,
    )


async def apply_refund_event(session: AsyncSession, provider_refund_id: str, status: str) -> str:
    """Paystack's ``refund.processed`` / ``refund.failed``: finalise once; a failure frees the amount."""
    refund = await repository.refund_by_provider_id(session, provider_refund_id)
    if refund is None:
        return "unknown_refund"
    if status not in ("processed", "failed"):
        return "no_change"
    if not await repository.move_refund(session, refund.id, status):
        return "unchanged"
    if status == "processed":
        await _debit_refund(session, refund)
    else:
        await repository.release_refund_amount(session, refund.payment_id, refund.amount)
    payment = await session.get(Payment, refund.payment_id)
    await events.emit(
        REFUND_PROCESSED if status == "processed" else REFUND_FAILED,
        refund_id=refund.id,
        payment_id=refund.payment_id,
        reference=payment.reference if payment else None,
        provider_refund_id=provider_refund_id,
        amount=refund.amount,
        currency=refund.currency,
    )
    return status


# Entitlements


@dataclass(frozen=True, slots=True)
class Entitlements:
    """What a user may do now, derived from stored subscriptions only (no provider call)."""

    tier: Literal["basic", "pro"]
    plan: Plan
    daily_prompt_limit: int | None
    subscription_status: str | None
    current_period_end: datetime | None
    cancel_at_period_end: bool


async def entitlements(session: AsyncSession, user_id: uuid.UUID) -> Entitlements:
    subscription = await repository.latest_subscription(session, user_id)
    entitled = subscription is not None and subscription.status in SUBSCRIPTION_ENTITLED
    plan = CHAT_PRO if entitled else CHAT_BASIC
    return Entitlements(
        tier="pro" if entitled else "basic",
        plan=plan,
        daily_prompt_limit=plan.daily_prompt_limit,
        subscription_status=subscription.status if subscription else None,
        current_period_end=subscription.current_period_end if subscription else None,
        cancel_at_period_end=subscription.cancel_at_period_end if subscription else False,
    )
