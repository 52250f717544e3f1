"""Billing settings (``OJA_`` prefix): a section of the runtime's :class:`~oja.core.config.Settings`."""

from __future__ import annotations

from pydantic import Field

from oja.core.config import SettingsSection
from oja.core.dependencies import RuntimeDep


class BillingSettings(SettingsSection):
    paystack_base_url: str = "https://api.paystack.co"
    """Paystack API base URL (the sandbox fake in tests and `oja sandbox`)."""
    paystack_secret_key: str | None = None
    """Paystack secret key (`sk_…`): authenticates API calls and signs webhooks (HMAC-SHA512)."""
    paystack_max_amount: int = Field(default=100_000_000_00, ge=1)
    """Largest amount `POST /payments/paystack/initiate` accepts, in minor units (kobo)."""
    paystack_callback_url: str | None = None
    """Default page Paystack sends the payer back to after checkout (else the dashboard's)."""
    paystack_reconcile_after: int = Field(default=15, ge=1)
    """Minutes after which a still-pending Paystack transaction is verified by the reconciler."""
    stripe_api_base: str = "https://api.stripe.com"
    """Stripe API base URL (the sandbox fake in tests and `oja sandbox`)."""
    stripe_secret_key: str | None = None
    """Stripe secret key (`sk_test_…` / `sk_live_…`)."""
    stripe_webhook_secret: str | None = None
    """Signing secret of the Stripe webhook endpoint (`whsec_…`)."""
    stripe_webhook_tolerance: int = Field(default=300, ge=1)
    """Seconds a Stripe webhook signature timestamp may be old before the event is refused."""
    stripe_pro_price_id: str | None = None
    """Stripe price (`price_…`) of the Pro subscription."""
    stripe_success_url: str = "http://127.0.0.1:8000/subscription/status?checkout=success"
    """Where Stripe Checkout sends the customer after paying."""
    stripe_cancel_url: str = "http://127.0.0.1:8000/subscription/status?checkout=cancelled"
    """Where Stripe Checkout sends the customer who backs out."""
    stripe_portal_return_url: str = "http://127.0.0.1:8000/subscription/status"
    """Where the Stripe billing portal sends the customer back to."""
    flutterwave_base_url: str = "https://api.flutterwave.com"
    """Flutterwave API base URL, without ``/v3`` (the sandbox fake in tests and `oja sandbox`)."""
    flutterwave_secret_key: str | None = None
    """Flutterwave secret key (`FLWSECK_TEST-…` / `FLWSECK-…`): authenticates API calls."""
    flutterwave_secret_hash: str | None = None
    """The dashboard's webhook secret hash: `verif-hash` must equal it (v4: `flutterwave-signature`)."""
    flutterwave_redirect_url: str | None = None
    """Where Flutterwave Standard sends the payer back (required by Flutterwave; else the request's)."""
    billing_reconcile_interval: float = Field(default=300.0, gt=0)
    """Seconds between reconciliation runs (beat): pending payments verified, subscriptions re-synced."""
    billing_reconcile_batch: int = Field(default=100, ge=1)
    """Most payments and subscriptions one reconciliation run looks at."""


async def get_billing_settings(runtime: RuntimeDep) -> BillingSettings:
    """The billing section of the app's settings; jobs read ``ctx.runtime.settings`` instead."""
    return runtime.settings.section(BillingSettings)
