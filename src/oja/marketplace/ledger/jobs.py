"""Ledger jobs: held shares released to available. Importing this module also subscribes the
ledger to payment and refund events (:mod:`oja.marketplace.ledger.settlement`) and to disputes
(:mod:`oja.marketplace.ledger.disputes`)."""

from __future__ import annotations

from typing import Any

from oja.core.clock import utcnow
from oja.core.jobs import JobContext, job
from oja.marketplace.config import MarketplaceSettings
from oja.marketplace.ledger import disputes

__all__ = ["disputes", "release_settlements"]


@job(
    "marketplace.ledger.release_settlements",
    timeout=300,
    max_attempts=3,
    # Beat's schedule is fixed when it imports this module: the interval is read then.
    periodic=MarketplaceSettings().settlement_release_interval,
)
async def release_settlements(ctx: JobContext) -> dict[str, Any]:
    """Store orders delivered a hold (by default the return window) ago: their held share becomes
    available."""
    from oja.marketplace.ledger import settlement

    settings = ctx.runtime.settings.section(MarketplaceSettings)
    return {"released": await settlement.release_due(ctx.session, utcnow(), settings)}
