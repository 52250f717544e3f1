"""Payout jobs: the periodic run that finds the due stores, the booking of one store's payout,
the bulk send of the pending payouts, the send of one payout's transfer, and the verify sweep. Importing this module also subscribes payouts to billing's
transfer events (:mod:`oja.marketplace.payouts.webhooks`)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from oja.billing.config import BillingSettings
from oja.core.clock import utcnow
from oja.core.jobs import EnqueueOptions, JobContext, PermanentJobError, job
from oja.marketplace.config import MarketplaceSettings
from oja.marketplace.payouts import webhooks
from oja.marketplace.payouts.models import PayoutStatus

__all__ = ["webhooks"]


@job(
    "marketplace.payouts.send",
    timeout=120,
    max_attempts=8,
    subject=("payout", "payout_id"),
)
async def send_payout(
    ctx: JobContext, *, vendor_id: uuid.UUID, payout_id: uuid.UUID
) -> dict[str, Any]:
    """Send one pending payout's transfer; a provider outage fails the attempt (retried)."""
    from oja.billing.providers.port import ProviderCallRefused
    from oja.marketplace.payouts import transfers

    settings = ctx.runtime.settings.section(BillingSettings)
    try:
        outcome = await transfers.send(ctx.session, vendor_id, payout_id, settings)
    except ProviderCallRefused as exc:  # the verify of a refused transfer was itself refused
        raise PermanentJobError(f"provider refused: {exc}") from exc
    return {"outcome": outcome}


@job("marketplace.payouts.send_batch", timeout=300, max_attempts=8)
async def send_batch(ctx: JobContext) -> dict[str, Any]:
    """Send the pending payouts in bulk (:mod:`oja.marketplace.payouts.bulk`); a full batch that
    moved something has the next one sent after the provider's interval between batches."""
    from oja.marketplace.payouts import bulk

    market = ctx.runtime.settings.section(MarketplaceSettings)
    settings = ctx.runtime.settings.section(BillingSettings)
    outcome = await bulk.send_batch(ctx.session, settings, market.payout_bulk_size)
    if outcome.payouts == market.payout_bulk_size and outcome.moved:
        delay = timedelta(seconds=market.payout_bulk_interval)
        send_batch.enqueue_with(ctx.session, EnqueueOptions(delay=delay))
    return {"payouts": outcome.payouts, "moved": outcome.moved, "requests": outcome.requests}


@job(
    "marketplace.payouts.make",
    timeout=60,
    max_attempts=3,
    subject=("vendor", "vendor_id"),
)
async def make_payout(ctx: JobContext, *, vendor_id: uuid.UUID) -> dict[str, Any]:
    """Book one store's payout (if still due) and have the run's payouts sent in bulk after this
    commit (the first batch job sends every payout booked by then; the others find none)."""
    from oja.marketplace.payouts import transfers

    settings = ctx.runtime.settings.section(MarketplaceSettings)
    payout = await transfers.make_payout(ctx.session, vendor_id, utcnow(), settings)
    if payout is None:
        return {"outcome": "not_due"}
    send_batch.enqueue(ctx.session)
    return {"outcome": "made", "payout_id": str(payout.id), "amount": payout.amount}


@job(
    "marketplace.payouts.run",
    timeout=600,
    max_attempts=3,
    # Beat's schedule is fixed when it imports this module: the interval is read then.
    periodic=MarketplaceSettings().payout_interval,
)
async def run_payouts(ctx: JobContext) -> dict[str, Any]:
    """Find the stores due a payout; each is booked by its own job (one store per unit of work,
    so one store's locks are never held while another's are taken)."""
    from oja.marketplace.payouts import transfers

    settings = ctx.runtime.settings.section(MarketplaceSettings)
    stores = await transfers.due(ctx.session, utcnow(), settings)
    for vendor_id in stores:
        make_payout.enqueue(ctx.session, vendor_id=vendor_id)
    return {"stores": len(stores)}


@job("marketplace.payouts.verify", timeout=300, max_attempts=1, periodic=600.0)
async def verify_payouts(ctx: JobContext) -> dict[str, Any]:
    """Payouts stuck pending (a send lost) are sent again under their own reference; those
    stuck processing (a webhook lost) are verified with the provider."""
    from oja.billing.providers.port import ProviderCallError
    from oja.marketplace.payouts import repository, transfers

    market = ctx.runtime.settings.section(MarketplaceSettings)
    settings = ctx.runtime.settings.section(BillingSettings)
    before = utcnow() - timedelta(seconds=market.payout_verify_after)
    counts = {"resent": 0, "verified": 0, "errors": 0}
    for vendor_id, payout_id, _ in await repository.stale(
        ctx.session, [PayoutStatus.pending], before, market.payout_batch
    ):
        # Its own job: the same reference again (a duplicate the provider refuses, then adopted).
        send_payout.enqueue(ctx.session, vendor_id=vendor_id, payout_id=payout_id)
        counts["resent"] += 1
    # An OTP transfer nobody finalized is abandoned by the provider: verify reads it failed.
    waiting = [PayoutStatus.processing, PayoutStatus.otp_required]
    for _, _, reference in await repository.stale(
        ctx.session, waiting, before, market.payout_batch
    ):
        try:
            await transfers.settle(ctx.session, reference, settings)
            counts["verified"] += 1
        except ProviderCallError:
            counts["errors"] += 1
    return counts
