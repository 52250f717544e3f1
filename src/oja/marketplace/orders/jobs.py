"""Order jobs, and the billing events the orders listen to.

``marketplace.orders.issue_refund`` issues one :class:`~oja.marketplace.orders.models.OrderRefund`
through billing (idempotent per refund: see :mod:`oja.marketplace.orders.refunds`). Billing's
``billing.refund.processed`` / ``billing.refund.failed`` finish it, in billing's unit of work —
from the provider's refund webhook, or from ``marketplace.orders.track_refunds``, which verifies
refunds still in flight after :data:`VERIFY_AFTER` (a webhook lost or never sent).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import structlog

from oja.billing import service as billing
from oja.billing.config import BillingSettings
from oja.billing.errors import ProviderUnavailable, RefundFailed
from oja.core import events
from oja.core.clock import utcnow
from oja.core.db import current_session
from oja.core.jobs import JobContext, job
from oja.marketplace.orders import live, refunds, repository

log = structlog.get_logger("oja.marketplace.orders")

__all__ = ["live"]  # imported for its subscriptions: order updates go out live from API and worker

VERIFY_AFTER = timedelta(minutes=10)
VERIFY_BATCH = 100


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


@job("marketplace.orders.track_refunds", timeout=240, max_attempts=1, periodic=600.0)
async def track_refunds(ctx: JobContext) -> dict[str, Any]:
    """Verify refunds the provider accepted a while ago and has not reported on."""
    settings = ctx.runtime.settings.section(BillingSettings)
    counts = {"checked": 0, "finished": 0, "errors": 0}
    for provider_id in await repository.refunds_in_flight(
        ctx.session, utcnow() - VERIFY_AFTER, VERIFY_BATCH
    ):
        counts["checked"] += 1
        try:
            outcome = await billing.verify_refund(ctx.session, provider_id, settings)
        except (ProviderUnavailable, RefundFailed) as exc:
            counts["errors"] += 1
            log.warning(
                "marketplace.refund.verify_failed", provider_refund_id=provider_id, error=str(exc)
            )
            continue
        counts["finished"] += outcome in ("processed", "failed")
    return counts


@events.on(billing.REFUND_PROCESSED)
async def _refund_processed(*, provider_refund_id: str | None, **_: Any) -> None:
    if provider_refund_id:
        await refunds.processed(current_session(), provider_refund_id)


@events.on(billing.REFUND_FAILED)
async def _refund_failed(*, provider_refund_id: str | None, **_: Any) -> None:
    if provider_refund_id:
        await refunds.failed(current_session(), provider_refund_id)
