"""The events Oja notifies about: each one's category, whether it must be sent, the data its
emitters send (with a sample, to validate templates against), and its default templates.

Templates are Jinja2 text rendered in a sandbox (:mod:`.templates`); a template may use the event's
data keys, ``recipient_name`` and ``money(amount, currency)``. Defaults are English (``en``);
admins override any event × channel × locale in the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Category(StrEnum):
    """What a user opts in or out of, per channel."""

    orders = "orders"
    payments = "payments"
    promotions = "promotions"
    account = "account"
    store = "store"


class Channel(StrEnum):
    in_app = "in_app"
    email = "email"
    sms = "sms"


EXTERNAL_CHANNELS = (Channel.email, Channel.sms)
"""The channels with a delivery row (in-app notifications are the stored row itself)."""
MARKETING = frozenset({Category.promotions})
"""Categories whose emails are marketing: they carry a one-click unsubscribe (RFC 8058) and may
wait for the daily digest."""
DEFAULT_LOCALE = "en"
COMMON_VARIABLES = frozenset({"recipient_name"})
"""Variables every template may use besides its event's data."""

DEFAULT_PREFERENCES: dict[Category, dict[Channel, bool]] = {
    Category.orders: {Channel.email: True, Channel.sms: True},
    Category.payments: {Channel.email: True, Channel.sms: False},
    Category.promotions: {Channel.email: True, Channel.sms: False},
    Category.account: {Channel.email: True, Channel.sms: True},
    Category.store: {Channel.email: True, Channel.sms: False},
}
"""What a user who never said otherwise receives on the external channels (SMS costs money:
only orders and account). In-app notifications are always stored: they are the account's history,
and preferences choose which of them also travel by email or SMS."""


@dataclass(frozen=True)
class Template:
    body: str
    subject: str | None = None
    """The email subject, or the in-app title; None for SMS."""


@dataclass(frozen=True)
class EventSpec:
    name: str
    category: Category
    sample: dict[str, Any]
    """The data an emitter sends besides ``recipient_ids`` (its keys are the template variables)."""
    templates: dict[Channel, Template] = field(default_factory=dict)
    mandatory: bool = False
    """Security and transactional messages (sign-in and password changes, order confirmation,
    payment receipts and failures): sent whatever the recipient's opt-outs."""

    @property
    def variables(self) -> frozenset[str]:
        return frozenset(self.sample) | COMMON_VARIABLES


def _event(
    name: str,
    category: Category,
    sample: dict[str, Any],
    *,
    title: str,
    text: str,
    email: str | None = None,
    sms: str | None = None,
    mandatory: bool = False,
) -> EventSpec:
    """An event whose in-app title is also its email subject, and whose email body defaults to
    a greeting and the in-app text."""
    templates = {
        Channel.in_app: Template(text, title),
        Channel.email: Template(
            email or f"Hello {{{{ recipient_name or 'there' }}}},\n\n{text}\n\n— Oja", title
        ),
    }
    if sms is not None:
        templates[Channel.sms] = Template(sms)
    return EventSpec(name, category, sample, templates, mandatory)


_ORDER = {
    # What marketplace/orders emits on every status change (order.<status>) ...
    "order_id": "0192f0c1-0000-7000-8000-000000000001",
    "group_id": "0192f0c1-0000-7000-8000-000000000007",
    "vendor_id": "0192f0c1-0000-7000-8000-000000000008",
    "buyer_id": "0192f0c1-0000-7000-8000-000000000009",
    "from_status": "pending",
    "status": "confirmed",
    "note": None,
    # ... and what an emitter may add: the templates fall back when these are absent.
    "order_number": "OJA-10042",
}
REF = "{{ order_number|default(order_id) }}"
"""An order as a person reads it: its number when the emitter sends one, else its id."""
_MONEY = {"amount": 1250050, "currency": "NGN"}

EVENTS: dict[str, EventSpec] = {
    spec.name: spec
    for spec in (
        _event(
            "order.confirmed",
            Category.orders,
            {**_ORDER, "total_amount": 1250050, "currency": "NGN", "store_name": "Mama Put Foods"},
            title=f"Order {REF} confirmed",
            text="{% if store_name is defined %}{{ store_name }}{% else %}The store{% endif %} has "
            f"your order {REF}"
            "{% if total_amount is defined %} for {{ money(total_amount, currency) }}{% endif %}. "
            "We will tell you when it ships.",
            sms=f"Oja: order {REF} confirmed"
            "{% if total_amount is defined %} ({{ money(total_amount, currency) }}){% endif %}.",
            mandatory=True,
        ),
        _event(
            "order.shipped",
            Category.orders,
            {**_ORDER, "carrier": "GIG Logistics", "tracking_number": "GIG123456"},
            title=f"Order {REF} is on its way",
            text=f"Your order {REF} has shipped"
            "{% if carrier is defined %} with {{ carrier }}{% endif %}"
            "{% if tracking_number is defined %} (tracking {{ tracking_number }}){% endif %}.",
            sms=f"Oja: order {REF} shipped"
            "{% if carrier is defined %} with {{ carrier }}{% endif %}"
            "{% if tracking_number is defined %}, tracking {{ tracking_number }}{% endif %}.",
        ),
        _event(
            "order.delivered",
            Category.orders,
            dict(_ORDER),
            title=f"Order {REF} delivered",
            text=f"Your order {REF} was delivered. Enjoy it, and tell others what you think.",
            sms=f"Oja: order {REF} delivered.",
        ),
        _event(
            "order.canceled",
            Category.orders,
            {**_ORDER, "reason": "out of stock"},
            title=f"Order {REF} canceled",
            text=f"Your order {REF} was canceled"
            "{% if reason is defined %} ({{ reason }}){% elif note %} ({{ note }}){% endif %}. "
            "Any payment will be refunded.",
        ),
        _event(
            "return.requested",
            Category.orders,
            {**_ORDER, "return_id": "0192f0c1-0000-7000-8000-000000000002", "reason": "wrong size"},
            title="Return requested for order {{ order_number }}",
            text="A return was requested for order {{ order_number }}: {{ reason }}.",
        ),
        _event(
            "return.approved",
            Category.orders,
            {**_ORDER, "return_id": "0192f0c1-0000-7000-8000-000000000002"},
            title="Return approved for order {{ order_number }}",
            text="Your return for order {{ order_number }} was approved. Send the item back "
            "to get your refund.",
        ),
        _event(
            "return.rejected",
            Category.orders,
            {**_ORDER, "return_id": "0192f0c1-0000-7000-8000-000000000002", "reason": "worn"},
            title="Return declined for order {{ order_number }}",
            text="Your return for order {{ order_number }} was declined: {{ reason }}.",
        ),
        _event(
            "return.received",
            Category.orders,
            {**_ORDER, "return_id": "0192f0c1-0000-7000-8000-000000000002"},
            title="Return received for order {{ order_number }}",
            text="The store received your return for order {{ order_number }}.",
        ),
        _event(
            "refund.processed",
            Category.payments,
            {**_ORDER, "refund_id": "0192f0c1-0000-7000-8000-000000000003", **_MONEY},
            title="Refund of {{ money(amount, currency) }} processed",
            text="We refunded {{ money(amount, currency) }} for order {{ order_number }}.",
            mandatory=True,
        ),
        _event(
            "payment.failed",
            Category.payments,
            {**_ORDER, **_MONEY, "reason": "Declined"},
            title="Payment for order {{ order_number }} failed",
            text="Your payment of {{ money(amount, currency) }} for order {{ order_number }} "
            "failed ({{ reason }}). Try again to keep your order.",
            sms="Oja: payment of {{ money(amount, currency) }} for {{ order_number }} failed.",
            mandatory=True,
        ),
        _event(
            "dispute.opened",
            Category.payments,
            {**_ORDER, **_MONEY, "dispute_id": "0192f0c1-0000-7000-8000-000000000006"},
            title="Payment dispute on order {{ order_number }}",
            text="The buyer disputed the payment for order {{ order_number }}: "
            "{{ money(amount, currency) }} of your share is frozen until the dispute is resolved.",
            mandatory=True,
        ),
        _event(
            "payment.split_mismatch",
            Category.payments,
            {
                "group_id": "0192f0c1-0000-7000-8000-000000000007",
                "reference": "oja_0192f0c1",
                "expected": 1250050,
                "verified": 1250000,
                "currency": "NGN",
            },
            title="Paystack split differs from the ledger ({{ reference }})",
            text="Paystack's split of payment {{ reference }} paid the stores "
            "{{ money(verified, currency) }}; the ledger expected {{ money(expected, currency) }}. "
            "The ledger's entries stand: reconcile it.",
        ),
        _event(
            "dispute.resolved",
            Category.payments,
            {**_ORDER, **_MONEY, "dispute_id": "0192f0c1-0000-7000-8000-000000000006"},
            title="Payment dispute on order {{ order_number }} {{ status }}",
            text="The dispute on order {{ order_number }} was resolved ({{ status }}): "
            "{{ money(amount, currency) }} "
            "{{ 'is released' if status == 'won' else 'was reversed to the buyer' }}.",
            mandatory=True,
        ),
        _event(
            "payout.paid",
            Category.payments,
            {
                "payout_id": "0192f0c1-0000-7000-8000-000000000004",
                "store_name": "Mama Put Foods",
                **_MONEY,
            },
            title="Payout of {{ money(amount, currency) }} sent",
            text="{{ money(amount, currency) }} is on its way to {{ store_name }}'s bank account.",
        ),
        _event(
            "payout.failed",
            Category.payments,
            {
                "payout_id": "0192f0c1-0000-7000-8000-000000000004",
                "store_name": "Mama Put Foods",
                **_MONEY,
                "status": "failed",
                "reason": "Could not credit the account",
            },
            title="Payout of {{ money(amount, currency) }} {{ status }}",
            text="The payout of {{ money(amount, currency) }} to {{ store_name }}'s bank account "
            "{{ status }}{% if reason %} ({{ reason }}){% endif %}. The money is back in your "
            "available balance.",
            mandatory=True,
        ),
        _event(
            "payout.account_changed",
            Category.account,
            {
                "store_name": "Mama Put Foods",
                "bank_code": "058",
                "account_last4": "7890",
                "status": "active",
                "held_until": "2026-12-07T10:00:00+00:00",
            },
            title="{{ store_name }}'s payout account was changed",
            text="The payout account of {{ store_name }} was set to the account ending "
            "{{ account_last4 }} (bank {{ bank_code }}){% if status == 'pending_approval' %}; it "
            "waits for an admin's approval{% endif %}{% if status == 'rejected' %}; an admin refused "
            "it, so payouts keep going to the account used before{% endif %}{% if held_until %}. Payouts are held until "
            "{{ held_until }}{% endif %}. If this was not you, contact support now.",
            mandatory=True,
        ),
        _event(
            "inventory.low_stock",
            Category.store,
            {
                "product_id": "0192f0c1-0000-7000-8000-000000000005",
                "product_title": "Jollof rice",
                "stock": 3,
                "threshold": 5,
            },
            title="Low stock: {{ product_title }}",
            text="{{ product_title }} is down to {{ stock }} (alert at {{ threshold }}).",
        ),
        _event(
            "aliexpress.cost_changed",
            Category.store,
            {
                "product_id": "0192f0c1-0000-7000-8000-000000000005",
                "product_title": "Kitchen item 1",
                "old_cost": 399,
                "new_cost": 499,
                "cost_currency": "USD",
                "percent": 25,
            },
            title="AliExpress cost changed: {{ product_title }}",
            text="{{ product_title }} now costs {{ money(new_cost, cost_currency) }} on AliExpress "
            "(was {{ money(old_cost, cost_currency) }}, {{ percent }}%); its price follows your "
            "price rule.",
        ),
        _event(
            "inventory.back_in_stock",
            Category.promotions,
            {
                "product_id": "0192f0c1-0000-7000-8000-000000000005",
                "product_title": "Jollof rice",
                "store_name": "Mama Put Foods",
            },
            title="{{ product_title }} is back in stock",
            text="{{ product_title }} from {{ store_name }} is back in stock.",
        ),
        _event(
            "product.new_from_followed_store",
            Category.promotions,
            {
                "product_id": "0192f0c1-0000-7000-8000-000000000005",
                "product_title": "Jollof rice",
                "store_name": "Mama Put Foods",
                "price_amount": 250000,
                "currency": "NGN",
                "vendor_id": "0192f0c1-0000-7000-8000-000000000008",
                "more_count": 2,
            },
            title="New from {{ store_name }}: {{ product_title }}",
            text="{{ store_name }} just listed {{ product_title }} for "
            "{{ money(price_amount, currency) }}"
            "{% if more_count is defined and more_count %} and {{ more_count }} more "
            "product{% if more_count > 1 %}s{% endif %}{% endif %}.",
        ),
        _event(
            "vendor.plan_limit_warning",
            Category.store,
            {
                "store_name": "Mama Put Foods",
                "limit_name": "users",
                "used": 80,
                "limit": 100,
                "threshold": 80,
                "upgrade_url": "https://oja.example/vendor-plans",
            },
            title="{{ store_name }} is near its {{ limit_name }} limit",
            text="{{ store_name }} uses {{ used }} of {{ limit }} {{ limit_name }} on its plan"
            "{% if threshold is defined %} ({{ threshold }} %){% endif %}."
            "{% if upgrade_url is defined %} Upgrade: {{ upgrade_url }}{% endif %}",
        ),
        _event(
            "review.flagged",
            Category.store,
            {
                "review_id": "0192f0c1-0000-7000-8000-000000000006",
                "product_title": "Jollof rice",
                "reason": "abusive language",
            },
            title="A review of {{ product_title }} was flagged",
            text="A review of {{ product_title }} was flagged for {{ reason }}.",
        ),
        _event(
            "account.password_changed",
            Category.account,
            {"changed_at": "2026-12-06T10:00:00Z"},
            title="Your password was changed",
            text="Your Oja password was changed at {{ changed_at }}. If this was not you, reset "
            "it now.",
            sms="Oja: your password was changed. Not you? Reset it now.",
            mandatory=True,
        ),
        _event(
            "account.email_changed",
            Category.account,
            {"new_email": "a***@example.com"},
            title="Your email address was changed",
            text="Your Oja email address was changed to {{ new_email }}. If this was not you, "
            "contact support.",
            mandatory=True,
        ),
        _event(
            "account.mfa_changed",
            Category.account,
            {"enabled": True, "changed_at": "2026-12-06T10:00:00Z"},
            title="Two-step sign-in was {% if enabled %}turned on{% else %}turned off{% endif %}",
            text="Two-step sign-in on your Oja account was "
            "{% if enabled %}turned on{% else %}turned off{% endif %} at {{ changed_at }}. "
            "If this was not you, reset your password now.",
            mandatory=True,
        ),
        _event(
            "account.signed_in",
            Category.account,
            {"ip_address": "203.0.113.7", "signed_in_at": "2026-12-06T10:00:00Z"},
            title="New sign-in to your account",
            text="Someone signed in to your Oja account from {{ ip_address }} at "
            "{{ signed_in_at }}. If this was not you, change your password.",
            mandatory=True,
        ),
    )
}


def category_events(category: Category) -> list[str]:
    return [name for name, spec in EVENTS.items() if spec.category == category]
