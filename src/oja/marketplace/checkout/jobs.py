"""Checkout jobs: unpaid reservations expire. Importing this module also subscribes the
marketplace to billing's payment events (:mod:`oja.marketplace.checkout.payments`)."""

from __future__ import annotations

from typing import Any

from oja.core.clock import utcnow
from oja.core.jobs import JobContext, job

EXPIRY_BATCH = 200
"""Most groups one run expires; the next interval takes the rest."""


@job("marketplace.checkout.expire_reservations", timeout=120, max_attempts=3, periodic=60.0)
async def expire_reservations(ctx: JobContext) -> dict[str, Any]:
    """Unpaid order groups past ``expires_at``: expired, orders canceled, stock returned."""
    from oja.marketplace.checkout import payments

    return {"expired": await payments.expire_due(ctx.session, utcnow(), EXPIRY_BATCH)}
