"""The daily rollup: the last ``OJA_REPORTS_RECOMPUTE_DAYS`` closed days recounted each run."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from oja.core.jobs import JobContext, job
from oja.marketplace.reports import rollup
from oja.marketplace.reports.config import ReportSettings


@job("marketplace.reports.rollup", timeout=900, max_attempts=3, periodic=3600.0)
async def rollup_days(
    ctx: JobContext, first: str | None = None, last: str | None = None
) -> dict[str, Any]:
    """Rewrite the rollups of the days first..last (ISO dates; by default the closed days of the
    recompute window). Today is never stored: reports count it live."""
    settings = ctx.runtime.settings.section(ReportSettings)
    zone = ZoneInfo(settings.time_zone)
    yesterday = rollup.local_today(zone) - timedelta(days=1)
    end = date.fromisoformat(last) if last else yesterday
    start = (
        date.fromisoformat(first)
        if first
        else yesterday - timedelta(days=settings.recompute_days - 1)
    )
    return await rollup.rollup(ctx.session, start, min(end, yesterday), zone)
