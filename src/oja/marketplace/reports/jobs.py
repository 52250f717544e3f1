"""The daily rollup: the last ``OJA_REPORTS_RECOMPUTE_DAYS`` closed days recounted each run, each
store in its time zone, and the stored days of a store whose zone changed rebuilt."""

from __future__ import annotations

from datetime import date
from typing import Any

from oja.core.jobs import JobContext, job
from oja.marketplace.reports.config import ReportSettings


@job("marketplace.reports.rollup", timeout=900, max_attempts=3, periodic=3600.0)
async def rollup_days(
    ctx: JobContext, first: str | None = None, last: str | None = None
) -> dict[str, Any]:
    """Rewrite the rollups of the days first..last (ISO dates; by default the closed days of the
    recompute window) in every zone. Today is never stored: reports count it live. Enqueued too
    when a store changes its zone (idempotent: a run finds nothing left to move)."""
    from oja.marketplace.reports import rollup

    settings = ctx.runtime.settings.section(ReportSettings)
    return await rollup.rollup_stores(
        ctx.session,
        settings.time_zone,
        recompute_days=settings.recompute_days,
        first=date.fromisoformat(first) if first else None,
        last=date.fromisoformat(last) if last else None,
    )
