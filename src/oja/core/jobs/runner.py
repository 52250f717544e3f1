"""Running one job: claim with a lease, run in one transaction, complete fenced by the attempt.

The claim is a single conditional UPDATE, so two deliveries of the same message cannot both run it.
The job's effects and its ``succeeded`` mark commit together, and only if the row still belongs to this
attempt: a worker that lost its lease (killed, timed out, superseded) can never record an effect.
A final failure (last attempt, or :class:`PermanentJobError`) moves the job to ``failed`` and calls
its failure hook in the same transaction, so the row the job was working on leaves its in-progress
state with it (see :meth:`JobDefinition.on_failure`).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from datetime import timedelta

import structlog
from sqlalchemy import and_, or_, update

from oja.core.clock import utcnow
from oja.core.db import own_transaction, unit_of_work
from oja.core.jobs.definition import (
    JobContext,
    JobFailure,
    PermanentJobError,
    call_failure_hook,
)
from oja.core.jobs.models import Job, JobStatus
from oja.core.runtime import Runtime, running

log = structlog.get_logger("oja.jobs")


class LeaseLost(Exception):
    """Another attempt owns the job now; this attempt's work is rolled back."""


def retry_delay(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter (AWS architecture blog): uniform in [0, min(cap, base·2ⁿ)]."""
    return random.uniform(0, min(cap, base * (2 ** max(0, attempt - 1))))  # noqa: S311


async def claim(runtime: Runtime, job_id: uuid.UUID) -> Job | None:
    """Take the job for one attempt, in one short transaction; None when it is not runnable."""
    async with own_transaction(runtime.database) as session:
        row = await session.get(Job, job_id)
        if row is None:
            return None
        definition = runtime.outbox.registry.get(row.kind)
        if definition is None:
            log.error("jobs.unknown_kind", job_id=str(job_id), kind=row.kind)
            return None
        timeout = definition.timeout or runtime.settings.queue.job_default_timeout
        now = utcnow()
        claimed = await session.execute(
            update(Job)
            .where(
                Job.id == job_id,
                Job.attempts < Job.max_attempts,
                or_(
                    and_(Job.status == JobStatus.queued, Job.run_after <= now),
                    and_(Job.status == JobStatus.running, Job.lease_expires_at < now),
                ),
            )
            .values(
                status=JobStatus.running,
                attempts=Job.attempts + 1,
                started_at=now,
                lease_expires_at=now
                + timedelta(seconds=timeout + runtime.settings.queue.job_lease_grace),
                updated_at=now,
                last_error=None,
            )
            .returning(Job.attempts)
            .execution_options(synchronize_session=False)
        )
        attempt = claimed.scalar_one_or_none()
    if attempt is None:
        return None
    row.attempts = attempt
    row.status = JobStatus.running
    return row


async def execute(job_id_text: str, runtime: Runtime) -> str:
    """Run the job if it is runnable, with this process's ``runtime`` (its current runtime, for the
    event handlers it triggers); returns what happened (for logs and tests)."""
    with running(runtime):
        return await _execute(job_id_text, runtime)


async def _execute(job_id_text: str, runtime: Runtime) -> str:
    claimed = await claim(runtime, uuid.UUID(job_id_text))
    if claimed is None:
        return "not_claimed"
    job_id, kind = claimed.id, claimed.kind
    definition = runtime.outbox.registry.get(kind)
    assert definition is not None
    timeout = definition.timeout or runtime.settings.queue.job_default_timeout
    attempt = claimed.attempts
    structlog.contextvars.bind_contextvars(job_id=job_id_text, job_kind=kind, attempt=attempt)
    started = time.perf_counter()
    log.info("jobs.started")
    try:
        async with unit_of_work(runtime.database) as session:
            ctx = JobContext(job_id=job_id, attempt=attempt, session=session, runtime=runtime)
            result = await asyncio.wait_for(definition.run(ctx, claimed.payload), timeout)
            done = await session.execute(
                update(Job)
                .where(
                    Job.id == job_id,
                    Job.status == JobStatus.running,
                    Job.attempts == attempt,
                )
                .values(
                    status=JobStatus.succeeded,
                    progress=100,
                    result=result,
                    finished_at=utcnow(),
                    lease_expires_at=None,
                    updated_at=utcnow(),
                )
            )
            if done.rowcount != 1:  # type: ignore[attr-defined]
                raise LeaseLost
    except LeaseLost:
        log.warning("jobs.lease_lost")
        return "lease_lost"
    except Exception as exc:
        return await _record_failure(runtime, claimed, attempt, exc, timeout)
    finally:
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
    log.info("jobs.succeeded", duration_ms=duration_ms)
    structlog.contextvars.unbind_contextvars("job_id", "job_kind", "attempt")
    return "succeeded"


async def _record_failure(
    runtime: Runtime, claimed: Job, attempt: int, exc: Exception, timeout: float
) -> str:
    settings = runtime.settings
    if isinstance(exc, TimeoutError):
        error = f"timed out after {timeout:g} s"
    else:
        error = f"{type(exc).__name__}: {exc}"[:2000]
    permanent = isinstance(exc, PermanentJobError)
    final = permanent or attempt >= claimed.max_attempts
    now = utcnow()
    delay = 0.0
    values: dict[str, object] = {"last_error": error, "lease_expires_at": None, "updated_at": now}
    if final:
        values.update(status=JobStatus.failed, finished_at=now, message=error[:500])
    else:
        delay = retry_delay(
            attempt, settings.queue.job_retry_base_delay, settings.queue.job_retry_max_delay
        )
        values.update(
            status=JobStatus.queued,
            run_after=now + timedelta(seconds=delay),
            published_at=now,
        )
    async with unit_of_work(runtime.database) as session:
        result = await session.execute(
            update(Job)
            .where(Job.id == claimed.id, Job.status == JobStatus.running, Job.attempts == attempt)
            .values(**values)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return "lease_lost"
        if final:
            failure = JobFailure(
                job_id=claimed.id,
                kind=claimed.kind,
                attempts=attempt,
                error=error,
                exception=exc,
                session=session,
                runtime=runtime,
            )
            await call_failure_hook(failure, claimed.payload)
    if final:
        log.warning("jobs.failed", error=error, permanent=permanent)
        structlog.contextvars.unbind_contextvars("job_id", "job_kind", "attempt")
        return "failed"
    log.warning("jobs.retry_scheduled", error=error, delay_s=round(delay, 2))
    definition = runtime.outbox.registry.get(claimed.kind)
    assert definition is not None
    await runtime.outbox.publish(definition.task_name, claimed.id, countdown=delay)
    structlog.contextvars.unbind_contextvars("job_id", "job_kind", "attempt")
    return "retrying"
