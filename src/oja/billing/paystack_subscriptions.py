"""Paystack subscription events (``subscription.*``, ``invoice.*``): verified, then announced.

Billing knows no stores: it re-reads the subscription the event names from Paystack and emits
:data:`PAYSTACK_SUBSCRIPTION_VERIFIED` with Paystack's answer, in the inbox job's unit of work; the
module that sold the plan (the marketplace's vendor plans) decides what it means.
"""

from __future__ import annotations

from typing import Any, Protocol

from oja.billing.providers.paystack_plans import PaystackSubscription
from oja.billing.providers.port import ProviderCallRefused
from oja.core import events

PAYSTACK_SUBSCRIPTION_VERIFIED = "billing.paystack_subscription.verified"
"""Payload: ``event_type`` (the webhook's name) and ``subscription`` (a
:class:`~oja.billing.providers.paystack_plans.PaystackSubscription` read from Paystack)."""

SUBSCRIPTION_EVENTS = ("subscription.", "invoice.")


class SubscriptionReader(Protocol):
    async def subscription(self, code: str) -> PaystackSubscription: ...


def subscription_code(data: dict[str, Any]) -> str | None:
    """The subscription an event is about: top-level on ``subscription.*``, nested on invoices."""
    nested = data.get("subscription") if isinstance(data.get("subscription"), dict) else {}
    assert isinstance(nested, dict)
    value = data.get("subscription_code") or nested.get("subscription_code")
    return value if isinstance(value, str) and value else None


async def sync(event_type: str, data: dict[str, Any], source: SubscriptionReader) -> str:
    code = subscription_code(data)
    if code is None:
        return "ignored:no_subscription"
    try:
        verified = await source.subscription(code)
    except ProviderCallRefused:
        # Paystack does not know it (a forged or foreign event): nothing to act on. A 5xx or a
        # timeout is not a refusal: the job retries it.
        return "ignored:unknown_subscription"
    handled = await events.emit(
        PAYSTACK_SUBSCRIPTION_VERIFIED, event_type=event_type, subscription=verified
    )
    return f"subscription:{verified.status}" if handled else "ignored:no_subscriber"
