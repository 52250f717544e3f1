"""The daily announcement of new products to the stores' followers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from oja.core.clock import utcnow
from oja.core.jobs import JobContext, job

ANNOUNCE_INTERVAL = 24 * 3600
"""Once a day: followers hear of a store's new products at most once a day."""


@job("marketplace.vendors.announce_new_products", periodic=ANNOUNCE_INTERVAL, timeout=600)
async def announce_new_products(ctx: JobContext) -> dict[str, Any]:
    """Announce yesterday's (UTC) new products, one event per store with followers."""
    from oja.marketplace.vendors import service

    day = (utcnow() - timedelta(days=1)).date()
    return {"day": day.isoformat(), "stores": await service.announce_new_products(ctx.session, day)}
