"""Order jobs, and the billing events the orders listen to.

``marketplace.orders.issue_refund`` issues one :class:`~oja.marketplace.orders.models.OrderRefund`
through billing (idempotent per refund: see :mod:`oja.marketplace.orders.refunds`). Billing's
``billing.refund.processed`` / ``billing.refund.failed`` finish it, in billing's unit of work.
"""

from __future__ import annotations

import uuid
from typing import Any

from oja.billing import service as billing
from oja.billing.config import BillingSettings
from oja.core import events
from oja.core.db import current_session
from oja.core.jobs import JobContext, job
from oja.marketplace.orders import refunds


@job(
    "marketplace.orders.issue_refund",
    timeout=60,
    max_attempts=8,
    subject=("order_refund", "refund_id"),
)
async def issue_refund(ctx: JobContext, *, refund_id: uuid.UUID) -> dict[str, Any]:
    """A provider outage (billing's ``ProviderUnavailable``) fails the attempt: retried later."""
    outcome = await refunds.issue(
        ctx.session, refund_id, ctx.runtime.settings.section(BillingSettings)
    )
    return {"outcome": outcome}


@events.on(billing.REFUND_PROCESSED)
async def _refund_processed(*, provider_refund_id: str | None, **_: Any) -> None:
    if provider_refund_id:
        await refunds.processed(current_session(), provider_refund_id)


@events.on(billing.REFUND_FAILED)
async def _refund_failed(*, provider_refund_id: str | None, **_: Any) -> None:
    if provider_refund_id:
        await refunds.failed(current_session(), provider_refund_id)
