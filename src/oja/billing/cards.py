"""What Oja keeps of a payment card (PCI DSS SAQ A scope): brand, last four digits, expiry.

Checkout is hosted by the provider (a redirect), so a card number, CVV or track data never reaches
Oja. Providers' answers and webhooks still carry more than Oja may keep: Paystack's reusable
``authorization_code`` (it charges the card again), the ``bin`` and ``signature``; Flutterwave's
``first_6digits`` and card ``token``. :func:`redact_card_data` keeps only :data:`KEPT` of any card
object before a provider document is stored, so a database dump can never charge a card.
"""

from __future__ import annotations

from typing import Any

CARD_OBJECTS = frozenset({"authorization", "card"})
"""The keys under which Paystack (``data.authorization``), Flutterwave (``data.card``) and Stripe
(``payment_method_details.card``) put the card."""

KEPT = frozenset(
    {
        "brand",
        "card_type",
        "type",
        "issuer",
        "country",
        "bank",
        "last4",
        "last_4digits",
        "exp_month",
        "exp_year",
        "expiry",
    }
)


def redact_card_data(document: Any) -> Any:
    """A copy of ``document`` whose card objects, at any depth, hold only :data:`KEPT` keys."""
    if isinstance(document, dict):
        return {
            key: (
                {k: v for k, v in value.items() if k in KEPT}
                if key in CARD_OBJECTS and isinstance(value, dict)
                else redact_card_data(value)
            )
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [redact_card_data(item) for item in document]
    return document
