"""Jobs declared with ``periodic=seconds``: beat asks for one per interval, the job table dedupes.

The dedupe key names the interval (``periodic:<kind>:<n>``), so a second beat, or a beat message
delivered twice, cannot make two runs of the same interval.
"""

from __future__ import annotations

import time

import structlog
from sqlalchemy import select

from oja.core.db import unit_of_work
from oja.core.jobs.definition import EnqueueOptions
from oja.core.jobs.models import Job
from oja.core.runtime import Runtime

log = structlog.get_logger("oja.jobs")


def periodic_key(kind: str, interval: float, now: float | None = None) -> str:
    return f"periodic:{kind}:{int((time.time() if now is None else now) // interval)}"


async def enqueue_periodic(runtime: Runtime, kind: str) -> bool:
    """Enqueue this interval's run of ``kind`` unless it already exists; True if enqueued."""
    definition = runtime.outbox.registry.get(kind)
    if definition is None or not definition.periodic:
        log.error("jobs.periodic.unknown_kind", kind=kind)
        return False
    key = periodic_key(kind, definition.periodic)
    async with unit_of_work(runtime.database) as session:
        exists = (
            await session.execute(select(Job.id).where(Job.dedupe_key == key))
        ).scalar_one_or_none()
        if exists is not None:
            return False
        definition.enqueue_with(session, EnqueueOptions(dedupe_key=key))
    return True
