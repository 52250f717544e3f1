"""The reconciliation job: recompute every rating summary from the rows and report drift."""

from __future__ import annotations

from typing import Any

import structlog

from oja.core.jobs import JobContext, job

log = structlog.get_logger("oja.marketplace.reviews")


@job("reviews.reconcile_summaries", periodic=24 * 3600)
async def reconcile_summaries(ctx: JobContext) -> dict[str, Any]:
    from oja.marketplace.reviews import service

    drift = await service.reconcile(ctx.session)
    for found in drift:
        log.warning(
            "reviews.summary_drift",
            subject_id=str(found.subject_id),
            stored=found.stored,
            actual=found.actual,
        )
    return {"drifted": len(drift)}
