"""The sweeper: what a broker or a worker dropped is published again; what cannot run is failed.

- ``queued`` and due, but not (re)published for ``job_requeue_after`` seconds → publish again.
- ``running`` with an expired lease (worker killed or stuck) and attempts left → publish again, the
  claim takes it over.
- ``running`` with an expired lease and no attempts left → ``failed``, and the kind's failure hook
  (:meth:`JobDefinition.on_failure`) is called in the same transaction. This is the only place a job
  killed on its last attempt is failed: the job body's own error handling died with the worker, so
  without the hook the row it was processing (a file, a document, a chat prompt) would stay in its
  in-progress state for ever.

Failing is one ``UPDATE … WHERE status = 'running' AND lease expired AND attempts >= max_attempts
RETURNING`` per batch, so each job is failed, and its hook called, by exactly one sweep however many
run at once: on PostgreSQL a concurrent sweeper's UPDATE waits for the row lock and then re-checks
``status``; on SQLite the UPDATE takes the single write lock before it reads. A hook that raises is
rolled back to its savepoint and logged; the job is failed all the same.
Publishing twice is harmless: the claim lets only one delivery run.
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy import and_, or_, select, update

from oja.core.clock import utcnow
from oja.core.db import unit_of_work
from oja.core.jobs.definition import JobFailure, call_failure_hook
from oja.core.jobs.models import Job, JobStatus
from oja.core.runtime import Runtime, running

log = structlog.get_logger("oja.jobs")

LEASE_EXPIRED = "lease expired: the worker was lost or the job overran its time limit"


async def sweep(runtime: Runtime, *, limit: int = 500) -> dict[str, int]:
    with running(runtime):
        return await _sweep(runtime, limit=limit)


async def _sweep(runtime: Runtime, *, limit: int) -> dict[str, int]:
    now = utcnow()
    stale = now - timedelta(seconds=runtime.settings.queue.job_requeue_after)
    counts = {"republished": 0, "failed": 0}
    exhausted_condition = and_(
        Job.status == JobStatus.running,
        Job.lease_expires_at < now,
        Job.attempts >= Job.max_attempts,
    )
    # One transaction: each failed job and what its hook wrote commit together; the hooks'
    # follow-ups (a refund, a stream event) run once it has committed.
    async with unit_of_work(runtime.database) as session:
        batch = select(Job.id).where(exhausted_condition).order_by(Job.run_after).limit(limit)
        exhausted = (
            await session.execute(
                update(Job)
                # The condition is repeated outside the batch so that PostgreSQL re-checks it on
                # the row it locked: a job another sweeper failed meanwhile is left alone.
                .where(Job.id.in_(batch.scalar_subquery()), exhausted_condition)
                .values(
                    status=JobStatus.failed,
                    finished_at=now,
                    lease_expires_at=None,
                    last_error=LEASE_EXPIRED,
                    message="worker lost",
                    updated_at=now,
                )
                .returning(Job.id, Job.kind, Job.payload, Job.attempts)
                .execution_options(synchronize_session=False)
            )
        ).all()
        counts["failed"] = len(exhausted)
        for job_id, kind, payload, attempts in exhausted:
            log.warning("jobs.failed", job_id=str(job_id), job_kind=kind, error=LEASE_EXPIRED)
            failure = JobFailure(
                job_id=job_id,
                kind=kind,
                attempts=attempts,
                error=LEASE_EXPIRED,
                exception=None,
                session=session,
                runtime=runtime,
            )
            await call_failure_hook(failure, payload)
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
                        # No attempts left: the claim would refuse it; a later sweep fails it.
                        and_(
                            Job.status == JobStatus.running,
                            Job.lease_expires_at < now,
                            Job.attempts < Job.max_attempts,
                        ),
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
    for job_id, kind in rows:
        definition = runtime.outbox.registry.get(kind)
        if definition is None:
            continue
        if await runtime.outbox.publish(definition.task_name, job_id):
            counts["republished"] += 1
    if counts["republished"] or counts["failed"]:
        log.info("jobs.swept", **counts)
    return counts
