"""The job core in-process: transactional enqueue, claim, retry, fencing, sweeper."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from oja.core.clock import utcnow
from oja.core.config import Settings
from oja.core.db import unit_of_work
from oja.core.jobs import Job, JobStatus
from oja.core.jobs.publisher import set_publisher
from oja.core.jobs.runner import execute
from oja.core.jobs.sweeper import sweep
from oja.core.runtime import Runtime, set_runtime
from tests.core.job_fixtures import always_permanent, job_effect, metadata, record_effect, too_slow

Published = list[tuple[str, uuid.UUID, float]]


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = Runtime.create(settings)
    set_runtime(runtime)
    async with runtime.database.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    yield runtime
    async with runtime.database.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
    await runtime.close()
    set_runtime(None)


@pytest.fixture
def published() -> AsyncIterator[Published]:
    sent: Published = []

    async def capture(task: str, job_id: uuid.UUID, countdown: float) -> None:
        sent.append((task, job_id, countdown))

    set_publisher(capture)
    yield sent  # type: ignore[misc]
    set_publisher(None)


async def effects(runtime: Runtime) -> list[tuple[str, int]]:
    async with runtime.database.engine.connect() as conn:
        rows = await conn.execute(
            select(job_effect.c.label, job_effect.c.attempt).order_by(job_effect.c.id)
        )
        return [(r.label, r.attempt) for r in rows]


async def load(runtime: Runtime, job_id: uuid.UUID) -> Job:
    async with runtime.database.sessionmaker() as session:
        row = await session.get(Job, job_id)
        assert row is not None
        return row


async def count_jobs(runtime: Runtime) -> int:
    async with runtime.database.sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(Job))).scalar_one())


async def test_rolled_back_job_is_neither_stored_nor_published(
    runtime: Runtime, published: Published
) -> None:
    async def request_that_fails() -> None:
        async with unit_of_work(runtime.database):
            record_effect.enqueue(label="never")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await request_that_fails()
    assert published == []
    assert await count_jobs(runtime) == 0


async def test_committed_job_is_published_after_commit_and_runs_exactly_once(
    runtime: Runtime, published: Published
) -> None:
    async with unit_of_work(runtime.database):
        row = record_effect.enqueue(label="once")
        assert published == []  # nothing leaves before the commit
    assert published == [("oja.job.tests.effect", row.id, 0.0)]
    assert await execute(str(row.id), runtime) == "succeeded"
    assert await execute(str(row.id), runtime) == "not_claimed"  # a duplicate delivery
    stored = await load(runtime, row.id)
    assert (stored.status, stored.attempts, stored.progress) == (JobStatus.succeeded, 1, 100)
    assert stored.result == {"label": "once"}
    assert stored.finished_at is not None
    assert await effects(runtime) == [("once", 1)]


async def test_wrong_arguments_fail_in_the_caller(runtime: Runtime, published: Published) -> None:
    with pytest.raises(TypeError):
        async with unit_of_work(runtime.database):
            record_effect.enqueue(labl="typo")  # type: ignore[call-arg]
    assert await count_jobs(runtime) == 0


async def test_failures_retry_with_backoff_and_roll_back_their_effects(
    runtime: Runtime, published: Published
) -> None:
    async with unit_of_work(runtime.database):
        row = record_effect.enqueue(label="flaky", fail_times=2)
    for attempt in (1, 2):
        assert await execute(str(row.id), runtime) == "retrying"
        stored = await load(runtime, row.id)
        assert stored.status == JobStatus.queued
        assert stored.last_error == f"RuntimeError: planned failure {attempt}"
        assert published[-1][0] == "oja.job.tests.effect"
        delay = published[-1][2]
        base = runtime.settings.queue.job_retry_base_delay
        assert 0 <= delay <= base * 2 ** (attempt - 1)
        # Not runnable before its delay has passed; make it due.
        async with runtime.database.sessionmaker() as session:
            await session.execute(
                update(Job)
                .where(Job.id == row.id)
                .values(run_after=utcnow() - timedelta(seconds=1))
            )
            await session.commit()
    assert await execute(str(row.id), runtime) == "succeeded"
    assert await effects(runtime) == [("flaky", 3)]  # the failed attempts left nothing behind


async def test_permanent_error_fails_at_once(runtime: Runtime, published: Published) -> None:
    async with unit_of_work(runtime.database):
        row = always_permanent.enqueue(reason="corrupt input")
    assert await execute(str(row.id), runtime) == "failed"
    stored = await load(runtime, row.id)
    assert (stored.status, stored.attempts) == (JobStatus.failed, 1)
    assert stored.last_error == "PermanentJobError: corrupt input"
    assert len(published) == 1  # the original publication only, no retry


async def test_timeout_is_recorded_as_failure(runtime: Runtime, published: Published) -> None:
    async with unit_of_work(runtime.database):
        row = too_slow.enqueue(subject_id=uuid.uuid4())
    assert await execute(str(row.id), runtime) == "failed"
    stored = await load(runtime, row.id)
    assert stored.last_error == "timed out after 0.2 s"


async def test_a_worker_that_lost_its_lease_cannot_record_its_effect(
    runtime: Runtime, published: Published
) -> None:
    async with unit_of_work(runtime.database):
        row = record_effect.enqueue(label="fenced")
    # Simulate: attempt 1 was claimed by a worker that died; the sweeper let attempt 2 take over.
    async with runtime.database.sessionmaker() as session:
        await session.execute(
            update(Job)
            .where(Job.id == row.id)
            .values(
                status=JobStatus.running, attempts=2, lease_expires_at=utcnow() + timedelta(hours=1)
            )
        )
        await session.commit()
    assert await execute(str(row.id), runtime) == "not_claimed"
    assert await effects(runtime) == []


async def test_sweeper_republishes_dropped_and_abandoned_jobs(
    runtime: Runtime, published: Published
) -> None:
    async with unit_of_work(runtime.database):
        dropped = record_effect.enqueue(label="dropped")
        abandoned = record_effect.enqueue(label="abandoned")
        exhausted = record_effect.enqueue(label="exhausted")
        fresh = record_effect.enqueue(label="fresh")
    published.clear()
    long_ago = utcnow() - timedelta(minutes=10)
    async with runtime.database.sessionmaker() as session:
        await session.execute(update(Job).where(Job.id == dropped.id).values(published_at=long_ago))
        await session.execute(
            update(Job)
            .where(Job.id == abandoned.id)
            .values(status=JobStatus.running, attempts=1, lease_expires_at=long_ago)
        )
        await session.execute(
            update(Job)
            .where(Job.id == exhausted.id)
            .values(status=JobStatus.running, attempts=3, lease_expires_at=long_ago)
        )
        await session.commit()
    assert await sweep(runtime) == {"republished": 2, "failed": 1}
    assert sorted(job_id for _, job_id, _ in published) == sorted([dropped.id, abandoned.id])
    assert fresh.id not in {job_id for _, job_id, _ in published}
    assert (await load(runtime, exhausted.id)).status == JobStatus.failed
    # The abandoned job is taken over by the next delivery and completes once.
    assert await execute(str(abandoned.id), runtime) == "succeeded"
    assert (await load(runtime, abandoned.id)).attempts == 2
    assert await effects(runtime) == [("abandoned", 2)]
    # Swept again straight away: nothing is due.
    published.clear()
    assert await sweep(runtime) == {"republished": 0, "failed": 0}
    assert published == []


async def test_enqueue_outside_a_unit_of_work_is_refused(runtime: Runtime) -> None:
    with pytest.raises(RuntimeError, match="no unit of work"):
        record_effect.enqueue(label="orphan")
