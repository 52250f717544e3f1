"""Acting on stored webhook events: what each provider event means for our rows.

Nothing here trusts the event's own figures. A Paystack or Flutterwave charge is confirmed with the
provider's verify call and a Stripe subscription is re-read from Stripe; the event only says which
object to look at.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.billing import paystack_subscriptions, repository, service, subscriptions
from oja.billing.config import BillingSettings
from oja.billing.models import Payment, WebhookEvent
from oja.billing.providers.flutterwave import FlutterwaveClient
from oja.billing.providers.paystack_plans import PaystackPlansClient
from oja.billing.providers.port import Dispute, ProviderCallRefused, VerifiedTransaction
from oja.billing.providers.stripe import StripeGateway, SubscriptionState
from oja.core import events
from oja.core.http import Closing

log = structlog.get_logger("oja.billing")

TRANSFER_UPDATED = "billing.transfer.updated"
"""A provider says a transfer (a payout) moved: ``provider``, ``reference``. Subscribers confirm
it with the provider's transfer verify; the event's figures are not passed on."""
PAYSTACK_TRANSFER_EVENTS = frozenset({"transfer.success", "transfer.failed", "transfer.reversed"})
FLUTTERWAVE_TRANSFER_EVENTS = frozenset({"transfer.completed", "Transfer"})

STRIPE_SUBSCRIPTION_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "invoice.paid",
        "invoice.payment_failed",
    }
)


class TransactionSource(Protocol):
    async def verify(self, reference: str) -> VerifiedTransaction: ...


class PaystackSource(TransactionSource, Protocol):
    async def fetch_dispute(self, dispute_id: str) -> Dispute: ...


class FlutterwaveSource(TransactionSource, Protocol):
    async def verify_transaction(self, transaction_id: str) -> VerifiedTransaction: ...


@dataclass
class Providers(Closing):
    """The provider clients one job needs, opened on first use and closed together."""

    settings: BillingSettings
    _paystack: PaystackPlansClient | None = field(default=None, init=False)
    _stripe: StripeGateway | None = field(default=None, init=False)
    _flutterwave: FlutterwaveClient | None = field(default=None, init=False)

    def paystack(self) -> PaystackSource:
        return self._paystack_client()

    def paystack_plans(self) -> paystack_subscriptions.SubscriptionReader:
        return self._paystack_client()

    def _paystack_client(self) -> PaystackPlansClient:
        if self._paystack is None:
            self._paystack = service.paystack_client(self.settings)
        return self._paystack

    def flutterwave(self) -> FlutterwaveSource:
        if self._flutterwave is None:
            self._flutterwave = service.flutterwave_client(self.settings)
        return self._flutterwave

    def stripe(self) -> subscriptions.SubscriptionSource:
        if self._stripe is None:
            self._stripe = subscriptions.stripe_gateway(self.settings)
        return self._stripe

    async def aclose(self) -> None:
        if self._paystack is not None:
            await self._paystack.aclose()
        if self._stripe is not None:
            await self._stripe.aclose()
        if self._flutterwave is not None:
            await self._flutterwave.aclose()


class PortSet(Protocol):
    def paystack(self) -> PaystackSource: ...

    def paystack_plans(self) -> paystack_subscriptions.SubscriptionReader: ...

    def stripe(self) -> subscriptions.SubscriptionSource: ...

    def flutterwave(self) -> FlutterwaveSource: ...


async def process_event(session: AsyncSession, event_id: uuid.UUID, ports: PortSet) -> str:
    """Apply one inbox event once; returns the outcome recorded on the row."""
    event = await session.get(WebhookEvent, event_id)
    if event is None:
        return "missing"
    if event.status != "received":
        return event.outcome or event.status
    if event.provider == "paystack":
        outcome = await _paystack_event(session, event.event_type, event.payload, ports)
    elif event.provider == "stripe":
        outcome = await _stripe_event(session, event.event_type, event.payload, ports)
    elif event.provider == "flutterwave":
        outcome = await _flutterwave_event(session, event.event_type, event.payload, ports)
    else:
        outcome = "ignored:unknown_provider"
    status = "ignored" if outcome.startswith("ignored") else "processed"
    await repository.finish_event(session, event_id, status, outcome)
    log.info(
        "billing.webhook.processed", provider=event.provider, type=event.event_type, outcome=outcome
    )
    return outcome


async def _payment_of(session: AsyncSession, reference: Any, provider: str) -> Payment | str:
    """The payment an event names, or why the event is ignored."""
    if not isinstance(reference, str) or not reference:
        return "ignored:no_reference"
    payment = await repository.payment_by_reference(session, reference)
    if payment is None:
        return "ignored:unknown_reference"
    if payment.provider != provider:
        return "ignored:other_provider"
    return payment


async def _paystack_event(
    session: AsyncSession, event_type: str, payload: dict[str, Any], ports: PortSet
) -> str:
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    assert isinstance(data, dict)
    if event_type.startswith("charge.dispute."):
        return await _paystack_dispute(session, data, ports)
    if event_type in PAYSTACK_TRANSFER_EVENTS:
        return await _transfer_event("paystack", data)
    if event_type.startswith("charge."):
        payment = await _payment_of(session, data.get("reference"), "paystack")
        if isinstance(payment, str):
            return payment
        verified = await ports.paystack().verify(payment.reference)
        return await service.apply_verification(session, payment, verified)
    if event_type.startswith("refund."):
        refund_id = data.get("id")
        if refund_id is None:
            return "ignored:no_refund_id"
        return await service.apply_refund_event(
            session, str(refund_id), str(data.get("status") or event_type.removeprefix("refund."))
        )
    if event_type.startswith(paystack_subscriptions.SUBSCRIPTION_EVENTS):
        return await paystack_subscriptions.sync(event_type, data, ports.paystack_plans())
    return "ignored:event_type"


async def _paystack_dispute(session: AsyncSession, data: dict[str, Any], ports: PortSet) -> str:
    """``charge.dispute.create|remind|resolve``: the dispute is re-read from Paystack (the body
    only names it) and must be of one of our Paystack payments; its figures are Paystack's."""
    dispute_id = data.get("id")
    if not isinstance(dispute_id, int | str) or not str(dispute_id):
        return "ignored:no_dispute_id"
    try:
        dispute = await ports.paystack().fetch_dispute(str(dispute_id))
    except ProviderCallRefused as exc:  # Paystack does not know it (429, 5xx: the job retries)
        if exc.status_code != 404:
            raise
        return "ignored:unknown_dispute"
    payment = await _payment_of(session, dispute.transaction_reference, "paystack")
    if isinstance(payment, str):
        return payment
    await events.emit(
        service.DISPUTE_CHANGED,
        provider="paystack",
        dispute_id=dispute.id,
        reference=payment.reference,
        status=dispute.status,
        resolution=dispute.resolution,
        amount=dispute.refund_amount,
        currency=(dispute.currency or payment.currency).upper(),
        due_at=dispute.due_at,
        user_id=payment.user_id,
        metadata=dict(payment.extra or {}),
    )
    return f"dispute:{dispute.resolution or dispute.status}"[:100]


async def _flutterwave_event(
    session: AsyncSession, event_type: str, payload: dict[str, Any], ports: PortSet
) -> str:
    """``charge.completed`` (v3), ``charge.completed`` with a ``wbk_`` id (v4) or a legacy
    ``event.type``: the transaction is verified by Flutterwave's id when the body gives one (by
    ``tx_ref`` otherwise) and must name our reference; its figures decide, never the body's."""
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    assert isinstance(data, dict)
    if event_type in FLUTTERWAVE_TRANSFER_EVENTS:
        return await _transfer_event("flutterwave", data)
    if event_type not in ("charge.completed", "CARD_TRANSACTION", "BANK_TRANSFER_TRANSACTION"):
        return "ignored:event_type"
    reference = data.get("tx_ref") or data.get("reference") or data.get("txRef")
    payment = await _payment_of(session, reference, "flutterwave")
    if isinstance(payment, str):
        return payment
    source = ports.flutterwave()
    transaction_id = data.get("id")
    if isinstance(transaction_id, int | str) and str(transaction_id).isdigit():
        verified = await source.verify_transaction(str(transaction_id))
    else:
        verified = await source.verify(payment.reference)
    if verified.reference != payment.reference:
        log.warning(
            "billing.flutterwave.reference_mismatch",
            reference=payment.reference,
            verified=verified.reference,
        )
        return "ignored:reference_mismatch"
    return await service.apply_verification(session, payment, verified)


async def _transfer_event(provider: str, data: dict[str, Any]) -> str:
    """Tell the subscribers (payouts) which transfer moved; they verify it with the provider."""
    reference = data.get("reference")
    if not isinstance(reference, str) or not reference:
        return "ignored:no_reference"
    handled = await events.emit(TRANSFER_UPDATED, provider=provider, reference=reference)
    return "transfer:dispatched" if handled else "ignored:no_subscriber"


def _stripe_subscription_id(event_type: str, obj: dict[str, Any]) -> str | None:
    if event_type.startswith("customer.subscription."):
        value = obj.get("id")
    elif event_type == "checkout.session.completed":
        value = obj.get("subscription")
    else:  # invoices: top-level on older API versions, under parent on newer ones
        value = obj.get("subscription") or (
            ((obj.get("parent") or {}).get("subscription_details") or {}).get("subscription")
        )
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


async def _stripe_event(
    session: AsyncSession, event_type: str, payload: dict[str, Any], ports: PortSet
) -> str:
    if event_type not in STRIPE_SUBSCRIPTION_EVENTS:
        return "ignored:event_type"
    obj = (payload.get("data") or {}).get("object") or {}
    subscription_id = _stripe_subscription_id(event_type, obj)
    if subscription_id is None:
        return "ignored:no_subscription"
    hint = obj.get("client_reference_id") or (obj.get("metadata") or {}).get("user_id")
    return await subscriptions.sync_subscription(
        session, ports.stripe(), subscription_id, user_hint=str(hint) if hint else None
    )


__all__ = ["Providers", "SubscriptionState", "process_event"]
