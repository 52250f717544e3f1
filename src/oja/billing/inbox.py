"""Receiving webhooks: verify the signature on the raw body, store once, enqueue, answer fast.

Nothing is written for a delivery whose signature fails. An authentic delivery becomes one
``webhook_event`` row per ``(provider, event_id)`` (``INSERT … ON CONFLICT DO NOTHING``): a replay,
or fifty identical deliveries at once, store one row and enqueue one job.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.billing import repository
from oja.billing.cards import redact_card_data
from oja.billing.config import BillingSettings
from oja.billing.errors import BillingNotConfigured, InvalidPayload, InvalidSignature
from oja.billing.jobs import process_webhook_event
from oja.billing.metrics import WEBHOOKS
from oja.billing.providers import flutterwave as flutterwave_provider
from oja.billing.providers import paystack as paystack_provider
from oja.billing.providers import stripe as stripe_provider
from oja.billing.providers.port import InvalidWebhook, ProviderEvent
from oja.core.jobs import EnqueueOptions

log = structlog.get_logger("oja.billing")


def paystack_event_id(event: dict[str, Any], body: bytes) -> str:
    """Paystack sends no event id: the event name, the object's id or reference, and a body hash."""
    return paystack_provider.event_id(event, body)


async def receive_paystack(
    session: AsyncSession, body: bytes, signature: str | None, settings: BillingSettings
) -> uuid.UUID | None:
    if not settings.paystack_secret_key:
        raise BillingNotConfigured(
            "Paystack webhooks cannot be verified: set OJA_PAYSTACK_SECRET_KEY.",
            feature="paystack",
            settings=["OJA_PAYSTACK_SECRET_KEY"],
        )
    headers = {paystack_provider.SIGNATURE_HEADER: signature} if signature else {}
    event = _authentic(
        "paystack", paystack_provider.parse_webhook, settings.paystack_secret_key, body, headers
    )
    return await _store(session, "paystack", event.event_id, event.provider_type, event.payload)


async def receive_flutterwave(
    session: AsyncSession, body: bytes, headers: Mapping[str, str], settings: BillingSettings
) -> uuid.UUID | None:
    """``verif-hash`` (v3) or ``flutterwave-signature`` (v4), then stored like Paystack's: the job
    verifies the transaction through the API before any value is given."""
    if not settings.flutterwave_secret_hash:
        raise BillingNotConfigured(
            "Flutterwave webhooks cannot be authenticated: set OJA_FLUTTERWAVE_SECRET_HASH.",
            feature="flutterwave",
            settings=["OJA_FLUTTERWAVE_SECRET_HASH"],
        )
    event = _authentic(
        "flutterwave",
        flutterwave_provider.parse_webhook,
        settings.flutterwave_secret_hash,
        body,
        headers,
    )
    return await _store(session, "flutterwave", event.event_id, event.provider_type, event.payload)


def _authentic(
    provider: str,
    parse: Callable[[str, bytes, Mapping[str, str]], ProviderEvent],
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
) -> ProviderEvent:
    try:
        return parse(secret, body, headers)
    except InvalidWebhook as exc:
        if exc.reason == "payload":
            raise InvalidPayload(exc.message) from exc
        WEBHOOKS.labels(provider=provider, outcome="rejected").inc()
        raise InvalidSignature(exc.message) from exc


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
        session,
        provider=provider,
        event_id=event_id[:255],
        event_type=event_type,
        payload=redact_card_data(event),
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
