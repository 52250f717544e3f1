"""The sweeper: what a broker or a worker dropped is published again; what cannot run is failed.

- ``queued`` and due, but not (re)published for ``job_requeue_after`` seconds → publish again.
- ``running`` with an expired lease (worker killed or stuck) → publish again, the claim takes it over;
  if it has no attempts left → ``failed``.
Publishing twice is harmless: the claim lets only one delivery run.
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy import and_, or_, select, update

from oja.core.clock import utcnow
from oja.core.jobs.definition import registry
from oja.core.jobs.models import Job, JobStatus
from oja.core.jobs.publisher import publish
from oja.core.runtime import Runtime, get_runtime

log = structlog.get_logger("oja.jobs")


async def sweep(runtime: Runtime | None = None, *, limit: int = 500) -> dict[str, int]:
    runtime = runtime or get_runtime()
    now = utcnow()
    stale = now - timedelta(seconds=runtime.settings.queue.job_requeue_after)
    counts = {"republished": 0, "failed": 0}
    async with runtime.database.sessionmaker() as session:
        exhausted = await session.execute(
            update(Job)
            .where(
                Job.status == JobStatus.running,
                Job.lease_expires_at < now,
                Job.attempts >= Job.max_attempts,
            )
            .values(
                status=JobStatus.failed,
                finished_at=now,
                lease_expires_at=None,
                last_error="lease expired: the worker was lost or the job overran its time limit",
                message="worker lost",
                updated_at=now,
            )
        )
        counts["failed"] = exhausted.rowcount  # type: ignore[attr-defined]
        rows = (
            await session.execute(
                select(Job.id, Job.kind)
                .where(
                    or_(
                        and_(
                            Job.status == JobStatus.queued,
                            Job.run_after <= now,
                            or_(Job.published_at.is_(None), Job.published_at < stale),
                        ),
                        and_(Job.status == JobStatus.running, Job.lease_expires_at < now),
                    )
                )
                .order_by(Job.run_after)
                .limit(limit)
            )
        ).all()
        if rows:
            await session.execute(
                update(Job).where(Job.id.in_([r.id for r in rows])).values(published_at=now)
            )
        await session.commit()
    for job_id, kind in rows:
        definition = registry.get(kind)
        if definition is None:
            continue
        if await publish(definition.task_name, job_id):
            counts["republished"] += 1
    if counts["republished"] or counts["failed"]:
        log.info("jobs.swept", **counts)
    return counts
