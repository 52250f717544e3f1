"""Billing's transfer events (a Paystack ``transfer.success|failed|reversed`` or a Flutterwave
``transfer.completed`` webhook, authenticated and stored by billing's inbox) settle the payout
their reference names — through the provider's transfer verify, never the webhook's body."""

from __future__ import annotations

from typing import Any

from oja.billing.config import BillingSettings
from oja.billing.events import TRANSFER_UPDATED
from oja.core import events
from oja.core.db import current_session
from oja.core.runtime import current_settings
from oja.marketplace.payouts import transfers


@events.on(TRANSFER_UPDATED)
async def on_transfer_updated(*, provider: str, reference: str, **_: Any) -> None:
    # Events carry no runtime; outside a request or job (a CLI), the environment's settings.
    settings = current_settings().section(BillingSettings)
    await transfers.settle(current_session(), reference, settings, provider=provider)
