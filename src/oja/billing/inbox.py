"""Receiving webhooks: verify the signature on the raw body, store once, enqueue, answer fast.

Nothing is written for a delivery whose signature fails. An authentic delivery becomes one
``webhook_event`` row per ``(provider, event_id)`` (``INSERT … ON CONFLICT DO NOTHING``): a replay,
or fifty identical deliveries at once, store one row and enqueue one job.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.billing import repository
from oja.billing.config import BillingSettings
from oja.billing.errors import BillingNotConfigured, InvalidPayload, InvalidSignature
from oja.billing.jobs import process_webhook_event
from oja.billing.metrics import WEBHOOKS
from oja.billing.providers import paystack as paystack_provider
from oja.billing.providers import stripe as stripe_provider
from oja.core.jobs import EnqueueOptions

log = structlog.get_logger("oja.billing")


def paystack_event_id(event: dict[str, Any], body: bytes) -> str:
    """Paystack sends no event id: the event name, the object's id or reference, and a body hash."""
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    assert isinstance(data, dict)
    subject = data.get("id") or data.get("reference") or "-"
    return f"{event.get('event', '?')}:{subject}:{hashlib.sha256(body).hexdigest()[:32]}"


async def receive_paystack(
    session: AsyncSession, body: bytes, signature: str | None, settings: BillingSettings
) -> uuid.UUID | None:
    if not settings.paystack_secret_key:
        raise BillingNotConfigured(
            "Paystack webhooks cannot be verified: set OJA_PAYSTACK_SECRET_KEY.",
            feature="paystack",
            settings=["OJA_PAYSTACK_SECRET_KEY"],
        )
    if not paystack_provider.signature_valid(settings.paystack_secret_key, body, signature):
        WEBHOOKS.labels(provider="paystack", outcome="rejected").inc()
        raise InvalidSignature("The x-paystack-signature header does not match the body.")
    try:
        event = json.loads(body)
    except ValueError:
        event = None
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        raise InvalidPayload("The signed body is not a Paystack event.")
    return await _store(session, "paystack", paystack_event_id(event, body), event["event"], event)


async def receive_stripe(
    session: AsyncSession, body: bytes, signature: str | None, settings: BillingSettings
) -> uuid.UUID | None:
    if not settings.stripe_webhook_secret:
        raise BillingNotConfigured(
            "Stripe webhooks cannot be verified: set OJA_STRIPE_WEBHOOK_SECRET.",
            feature="stripe",
            settings=["OJA_STRIPE_WEBHOOK_SECRET"],
        )
    try:
        event = stripe_provider.verify_webhook(
            body, signature, settings.stripe_webhook_secret, settings.stripe_webhook_tolerance
        )
    except stripe_provider.InvalidStripeSignature as exc:
        WEBHOOKS.labels(provider="stripe", outcome="rejected").inc()
        raise InvalidSignature(f"The Stripe-Signature header is not valid: {exc}") from exc
    return await _store(session, "stripe", str(event["id"]), str(event.get("type") or "?"), event)


async def _store(
    session: AsyncSession, provider: str, event_id: str, event_type: str, event: dict[str, Any]
) -> uuid.UUID | None:
    row_id = await repository.store_event(
        session, provider=provider, event_id=event_id[:255], event_type=event_type, payload=event
    )
    if row_id is None:
        WEBHOOKS.labels(provider=provider, outcome="duplicate").inc()
        log.info("billing.webhook.duplicate", provider=provider, type=event_type)
        return None
    process_webhook_event.enqueue_with(
        session, EnqueueOptions(dedupe_key=f"billing.webhook:{row_id}"), event_id=row_id
    )
    WEBHOOKS.labels(provider=provider, outcome="stored").inc()
    return row_id
