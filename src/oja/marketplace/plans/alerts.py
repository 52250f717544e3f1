"""Usage alerts: the store's owners are told when the distinct users of the period reach 80 %,
95 % and 100 % of the plan's limit — once per threshold and period — with the upgrade link.

The marker is a ``store_plan_alert`` row (store, period, threshold) inserted with ``ON CONFLICT DO
NOTHING`` in the admitting request's unit of work: of any number of racing admissions, exactly one
inserts it, and only that one emits ``vendor.plan_limit_warning`` (the notifications outbox: a job
row in the same transaction). A rolled-back admission takes its marker with it, so the next new
user of the store sends the alert instead. Thresholds are checked on new admissions only, never on
a counted user's page views.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from oja.core import events
from oja.core.db import insert_ignore
from oja.core.runtime import current_runtime
from oja.marketplace.plans.config import VendorPlanSettings
from oja.marketplace.plans.models import StorePlanAlert
from oja.marketplace.vendors import repository as vendors

THRESHOLDS = (80, 95, 100)
PLAN_LIMIT_WARNING = "vendor.plan_limit_warning"

_settled: set[tuple[uuid.UUID, datetime, int]] = set()
"""Markers this process saw already taken (by a conflict): no insert is tried for them again."""


def reached(count: int, limit: int) -> list[int]:
    """The thresholds ``count`` users of ``limit`` have reached (80 % of 3 is the 3rd user)."""
    return [t for t in THRESHOLDS if count >= math.ceil(limit * t / 100)]


async def on_admission(
    db: AsyncSession, vendor_id: uuid.UUID, period_start: datetime, count: int, limit: int | None
) -> int | None:
    """After a new user was counted (``count`` is the store's new count): take the marker of
    each threshold reached and not yet taken; alert the owners of the highest one taken. The
    threshold alerted, if any."""
    if limit is None or limit <= 0:
        return None
    taken = []
    for threshold in reached(count, limit):
        key = (vendor_id, period_start, threshold)
        if key in _settled:
            continue
        inserted = await db.execute(
            insert_ignore(db, StorePlanAlert)
            .values(vendor_id=vendor_id, period_start=period_start, threshold=threshold)
            .returning(StorePlanAlert.threshold)
        )
        if inserted.first() is None:
            _settled.add(key)
        else:
            taken.append(threshold)
    if not taken:
        return None
    threshold = max(taken)
    store = await vendors.vendor(db, vendor_id)
    await events.emit(
        PLAN_LIMIT_WARNING,
        recipient_ids=await vendors.owner_ids(db, vendor_id),
        event_id=uuid.uuid5(vendor_id, f"plan-limit:{period_start.isoformat()}:{threshold}"),
        vendor_id=str(vendor_id),
        store_name=store.name if store is not None else "",
        limit_name="users",
        used=count,
        limit=limit,
        threshold=threshold,
        upgrade_url=current_runtime().settings.section(VendorPlanSettings).plan_upgrade_url,
    )
    return threshold
