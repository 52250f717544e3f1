"""Vendor plan jobs: what falls due on the clock (scheduled downgrades, canceled periods ending,
grace periods after a failed renewal ending). Importing this module also subscribes the vendor
plans to billing's verified Paystack subscriptions (:mod:`oja.marketplace.plans.subscriptions`)."""

from __future__ import annotations

from typing import Any

from oja.core.clock import utcnow
from oja.core.jobs import JobContext, job


@job("marketplace.plans.apply_due", timeout=120, max_attempts=3, periodic=300.0)
async def apply_due(ctx: JobContext) -> dict[str, Any]:
    """Each store whose plan change, canceled period or grace period ended: moved, once."""
    from oja.marketplace.plans import subscriptions

    return await subscriptions.apply_due(ctx.session, utcnow())
