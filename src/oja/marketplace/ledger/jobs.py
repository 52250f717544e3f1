"""Ledger jobs: held shares released to available. Importing this module also subscribes the
ledger to payment and refund events (:mod:`oja.marketplace.ledger.settlement`) and to disputes
(:mod:`oja.marketplace.ledger.disputes`)."""

from __future__ import annotations

from typing import Any

from oja.core.clock import utcnow
from oja.core.jobs import JobContext, job
from oja.marketplace.config import MarketplaceSettings
from oja.marketplace.ledger import disputes, settlement

__all__ = ["disputes", "release_settlements"]


@job("marketplace.ledger.release_settlements", timeout=300, max_attempts=3, periodic=3600.0)
async def release_settlements(ctx: JobContext) -> dict[str, Any]:
    """Store orders delivered a return window ago: their held share becomes available."""
    settings = ctx.runtime.settings.section(MarketplaceSettings)
    return {"released": await settlement.release_due(ctx.session, utcnow(), settings)}
