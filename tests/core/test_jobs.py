"""The job core in-process: transactional enqueue, claim, retry, fencing, sweeper, failure hooks."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
import structlog
from sqlalchemy import event, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.config import Settings
from oja.core.db import after_commit, discard, own_transaction, unit_of_work
from oja.core.jobs import EnqueueOptions, Job, JobStatus, runner
from oja.core.jobs.outbox import OutboxAsyncSession
from oja.core.jobs.runner import claim, execute
from oja.core.jobs.sweeper import LEASE_EXPIRED, sweep
from oja.core.runtime import Runtime
from tests.core import job_fixtures
from tests.core.job_fixtures import (
    FOLLOW_UPS,
    always_permanent,
    hooked,
    job_effect,
    job_subject,
    metadata,
    quiet,
    record_effect,
    too_slow,
)

Published = list[tuple[str, uuid.UUID, float]]


@pytest.fixture
def published() -> Published:
    return []


@pytest.fixture
async def runtime(settings: Settings, published: Published) -> AsyncIterator[Runtime]:
    async def capture(task: str, job_id: uuid.UUID, countdown: float) -> None:
        published.append((task, job_id, countdown))

    runtime = Runtime.create(settings, registry=job_fixtures.registry(), publisher=capture)
    async with runtime.database.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    yield runtime
    async with runtime.database.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
    await runtime.close()


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


async def set_job(runtime: Runtime, job_id: uuid.UUID, **values: Any) -> None:
    """Move a job's row by hand (a lease or a delay run out) in a transaction of its own."""
    async with own_transaction(runtime.database) as session:
        await session.execute(update(Job).where(Job.id == job_id).values(**values))


async def count_jobs(runtime: Runtime) -> int:
    async with runtime.database.sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(Job))).scalar_one())


async def test_rolled_back_job_is_neither_stored_nor_published(
    runtime: Runtime, published: Published
) -> None:
    async def request_that_fails() -> None:
        async with unit_of_work(runtime.database) as session:
            record_effect.enqueue(session, label="never")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await request_that_fails()
    assert published == []
    assert await count_jobs(runtime) == 0


async def test_committed_job_is_published_after_commit_and_runs_exactly_once(
    runtime: Runtime, published: Published
) -> None:
    async with unit_of_work(runtime.database) as session:
        row = record_effect.enqueue(session, label="once")
        assert published == []  # nothing leaves before the commit
    assert published == [("oja.job.tests.effect", row.id, 0.0)]
    assert await execute(str(row.id), runtime) == "succeeded"
    assert await execute(str(row.id), runtime) == "not_claimed"  # a duplicate delivery
    stored = await load(runtime, row.id)
    assert (stored.status, stored.attempts, stored.progress) == (JobStatus.succeeded, 1, 100)
    assert stored.result == {"label": "once"}
    assert stored.finished_at is not None
    assert await effects(runtime) == [("once", 1)]


async def test_enqueued_rows_go_in_as_one_insert_where_the_orm_would_flush_them(
    runtime: Runtime, published: Published
) -> None:
    """The rows an enqueue buffers are written by one Core INSERT at the next flush or the commit:
    an ORM query in the same transaction sees them, two enqueues cost one statement."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement.split(maxsplit=1)[0].upper())

    engine = runtime.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        async with unit_of_work(runtime.database) as session:
            first = record_effect.enqueue(session, label="a")
            second = record_effect.enqueue(session, label="b")
            assert sent == []  # nothing before the flush
            seen = await session.scalars(select(Job.id).where(Job.kind == "tests.effect"))
            assert set(seen) == {first.id, second.id}
            assert sent == ["INSERT", "SELECT"]
            third = record_effect.enqueue(session, label="c")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert sent == ["INSERT", "SELECT", "INSERT"]
    assert [job_id for _, job_id, _ in published] == [first.id, second.id, third.id]
    stored = await load(runtime, third.id)
    assert (stored.status, stored.attempts, stored.payload) == (JobStatus.queued, 0, {"label": "c"})
    assert await count_jobs(runtime) == 3


async def test_a_unit_of_work_that_only_enqueues_commits_its_row_as_one_autocommit_insert(
    runtime: Runtime, published: Published
) -> None:
    """No BEGIN and COMMIT around a job row that is the transaction's only write; several rows, or
    a transaction the caller has begun (a read, another write), go in with BEGIN and COMMIT."""
    sent: list[tuple[str, object]] = []

    def record(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        isolation = conn.get_execution_options().get("isolation_level")
        sent.append((statement.split(maxsplit=1)[0].upper(), isolation))

    engine = runtime.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        async with unit_of_work(runtime.database) as session:
            first = record_effect.enqueue(session, label="a")
        assert sent == [("INSERT", "AUTOCOMMIT")]
        sent.clear()
        async with unit_of_work(runtime.database) as session:
            second = record_effect.enqueue(session, label="b")
            third = record_effect.enqueue(session, label="c")
        assert sent == [("INSERT", None)]
        sent.clear()
        async with unit_of_work(runtime.database) as session:
            await session.execute(select(func.count()).select_from(Job))
            fourth = record_effect.enqueue(session, label="d")
        assert sent == [("SELECT", None), ("INSERT", None)]
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert [job_id for _, job_id, _ in published] == [first.id, second.id, third.id, fourth.id]
    assert (await load(runtime, first.id)).payload == {"label": "a"}
    assert await count_jobs(runtime) == 4


async def test_an_untouched_unit_of_work_sends_nothing_and_the_others_still_write(
    runtime: Runtime,
) -> None:
    """A unit of work that never began a transaction (a job that did not use its session) skips
    its commit and closes without a greenlet: no statement, its after-commit callbacks still run.
    One that only added an object, or read, was discarded and then added one, writes it."""
    sent: list[str] = []
    ran: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement.split(maxsplit=1)[0].upper())

    async def callback() -> None:
        ran.append("after commit")

    database = runtime.database
    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        async with unit_of_work(database) as session:
            assert isinstance(session, OutboxAsyncSession)
            after_commit(session, callback)
        assert (sent, ran, session.in_transaction()) == ([], ["after commit"], False)
        async with unit_of_work(database) as session:
            session.add(Job(kind="tests.quiet", payload={"label": "added"}))
        assert sent == ["INSERT"]
        sent.clear()
        async with unit_of_work(database) as session:
            await session.execute(select(func.count()).select_from(Job))
            await discard(session)
            assert not session.in_transaction()
            session.add(Job(kind="tests.quiet", payload={"label": "after discard"}))
        assert sent == ["SELECT", "INSERT"]
    finally:
        event.remove(engine, "before_cursor_execute", record)
    async with own_transaction(database) as session:
        labels = (await session.execute(select(Job.payload).order_by(Job.created_at))).scalars()
        assert [payload["label"] for payload in labels] == ["added", "after discard"]


async def test_an_enqueue_only_unit_of_work_whose_insert_fails_publishes_nothing(
    runtime: Runtime, published: Published
) -> None:
    async def enqueue(*keys: str | None) -> None:
        async with unit_of_work(runtime.database) as session:
            for key in keys:
                record_effect.enqueue_with(session, EnqueueOptions(dedupe_key=key), label="x")

    await enqueue("once")
    published.clear()
    with pytest.raises(IntegrityError):  # two rows: in a transaction
        await enqueue(None, "once")
    with pytest.raises(IntegrityError):  # one row alone: its autocommit INSERT
        await enqueue("once")
    assert published == []
    assert await count_jobs(runtime) == 1


async def test_a_rolled_back_savepoint_takes_its_jobs_and_leaves_the_ones_before_it(
    runtime: Runtime,
) -> None:
    undone: list[uuid.UUID] = []

    async def in_a_savepoint_that_fails(session: AsyncSession) -> None:
        async with session.begin_nested():
            undone.append(record_effect.enqueue(session, label="undone").id)
            raise RuntimeError("undo")

    async with unit_of_work(runtime.database) as session:
        kept = record_effect.enqueue(session, label="kept")
        with pytest.raises(RuntimeError, match="undo"):
            await in_a_savepoint_that_fails(session)
        after = record_effect.enqueue(session, label="after")
    assert (await load(runtime, kept.id)).payload == {"label": "kept"}
    assert (await load(runtime, after.id)).payload == {"label": "after"}
    async with runtime.database.sessionmaker() as session:
        assert await session.get(Job, undone[0]) is None
    assert await count_jobs(runtime) == 2


async def test_a_discarded_job_is_neither_stored_nor_published_and_the_next_one_is(
    runtime: Runtime, published: Published
) -> None:
    async with unit_of_work(runtime.database) as session:
        record_effect.enqueue(session, label="dropped")
        await discard(session)
        after = record_effect.enqueue(session, label="after")
    assert [job_id for _, job_id, _ in published] == [after.id]
    assert await count_jobs(runtime) == 1


async def test_a_job_runs_in_two_statements_and_one_that_writes_nothing_is_marked_alone(
    runtime: Runtime,
) -> None:
    """The hot path: the claim is one UPDATE (the task knows the kind), a job that wrote nothing
    is marked done by one more; no BEGIN/COMMIT pair, no read of the row first, no WAL flush."""
    async with unit_of_work(runtime.database) as session:
        row = quiet.enqueue(session)
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    engine = runtime.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert await execute(str(row.id), runtime, "tests.quiet") == "succeeded"
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert [statement.split(maxsplit=1)[0].upper() for statement in sent] == ["UPDATE", "UPDATE"]
    # Both skip the wait for the WAL flush (``SET LOCAL`` through ``set_config``, PostgreSQL
    # only); the setting must not outlive them on the pooled connection, or every later
    # transaction on it (a payment, an order) would commit without a flush too.
    postgres = runtime.database.engine.dialect.name == "postgresql"
    assert [("set_config" in statement) for statement in sent] == [postgres, postgres]
    if postgres:  # the pool hands back the connection the runner used (one checkout at a time)
        for engine_ in (runtime.database.autocommit_engine, runtime.database.engine):
            async with engine_.connect() as connection:
                setting = await connection.execute(text("SHOW synchronous_commit"))
                assert setting.scalar_one() == "on"
    stored = await load(runtime, row.id)
    assert (stored.status, stored.attempts, stored.result) == (
        JobStatus.succeeded,
        1,
        {"steal": False},
    )
    assert await execute(str(row.id), runtime, "tests.quiet") == "not_claimed"
    async with unit_of_work(runtime.database) as session:
        other = record_effect.enqueue(session, label="x")
    assert await execute(str(other.id), runtime, "tests.quiet") == "not_claimed"  # not its kind
    assert (await load(runtime, other.id)).status == JobStatus.queued


async def test_the_bookkeeping_on_the_driver_connection_is_what_core_would_write(
    runtime: Runtime,
) -> None:
    """Without cursor listeners the claim and the lone mark go through the driver's connection
    (``DriverRead``): the payload comes back decoded, the row ends as Core would leave it, a lost
    lease is still seen, and the relaxed commit does not outlive either statement."""
    async with unit_of_work(runtime.database) as session:
        row = quiet.enqueue(session, steal=False)
        stolen = quiet.enqueue(session, steal=True)
    assert await execute(str(row.id), runtime, "tests.quiet") == "succeeded"
    assert await execute(str(stolen.id), runtime, "tests.quiet") == "lease_lost"
    stored = await load(runtime, row.id)
    assert (stored.status, stored.attempts, stored.progress, stored.result) == (
        JobStatus.succeeded,
        1,
        100,
        {"steal": False},
    )
    assert (stored.lease_expires_at, stored.last_error) == (None, None)
    assert stored.finished_at is not None
    assert stored.updated_at == stored.finished_at
    assert (await load(runtime, stolen.id)).status == JobStatus.running
    if runtime.database.engine.dialect.name == "postgresql":
        for engine_ in (runtime.database.autocommit_engine, runtime.database.engine):
            async with engine_.connect() as connection:
                setting = await connection.execute(text("SHOW synchronous_commit"))
                assert setting.scalar_one() == "on"


async def test_a_quiet_job_whose_worker_died_after_its_relaxed_claim_runs_again_once(
    runtime: Runtime, published: Published
) -> None:
    """The claim commits (without waiting for the WAL flush on PostgreSQL) and the worker dies
    before the job's mark: the claim stands, the sweeper hands the job over once its lease has
    expired, and the next delivery runs it to one success; a late duplicate is refused."""
    async with unit_of_work(runtime.database) as session:
        row = quiet.enqueue(session)
    claimed = await claim(runtime, row.id, "tests.quiet")  # then the worker is SIGKILLed
    assert claimed is not None
    assert claimed.attempts == 1
    stored = await load(runtime, row.id)
    assert (stored.status, stored.attempts) == (JobStatus.running, 1)
    published.clear()
    assert await sweep(runtime) == {"republished": 0, "failed": 0}  # its lease still runs
    await set_job(runtime, row.id, lease_expires_at=utcnow() - timedelta(seconds=1))
    assert await sweep(runtime) == {"republished": 1, "failed": 0}
    assert [job_id for _, job_id, _ in published] == [row.id]
    assert await execute(str(row.id), runtime, "tests.quiet") == "succeeded"
    assert await execute(str(row.id), runtime, "tests.quiet") == "not_claimed"
    stored = await load(runtime, row.id)
    assert (stored.status, stored.attempts, stored.result) == (
        JobStatus.succeeded,
        2,
        {"steal": False},
    )


async def test_a_job_that_wrote_nothing_and_lost_its_lease_is_not_marked(
    runtime: Runtime,
) -> None:
    async with unit_of_work(runtime.database) as session:
        row = quiet.enqueue(session, steal=True)
    assert await execute(str(row.id), runtime) == "lease_lost"
    stored = await load(runtime, row.id)
    assert (stored.status, stored.attempts, stored.result) == (JobStatus.running, 2, None)


async def test_wrong_arguments_fail_in_the_caller(runtime: Runtime, published: Published) -> None:
    with pytest.raises(TypeError):
        async with unit_of_work(runtime.database) as session:
            record_effect.enqueue(session, labl="typo")  # type: ignore[call-arg]
    assert await count_jobs(runtime) == 0


async def test_failures_retry_with_backoff_and_roll_back_their_effects(
    runtime: Runtime, published: Published
) -> None:
    async with unit_of_work(runtime.database) as session:
        row = record_effect.enqueue(session, label="flaky", fail_times=2)
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
        await set_job(runtime, row.id, run_after=utcnow() - timedelta(seconds=1))
    assert await execute(str(row.id), runtime) == "succeeded"
    assert await effects(runtime) == [("flaky", 3)]  # the failed attempts left nothing behind


async def test_a_failure_the_database_could_not_record_is_recorded_once_it_is_back(
    runtime: Runtime, published: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job failed and the database is away: the worker tries again to record the failure
    rather than leave the row ``running`` until its lease expires; any other error is not retried."""
    real = runner._record_failure
    calls: list[str] = []

    async def away_twice(*args: Any) -> str:
        calls.append("try")
        if len(calls) <= 2:
            raise OperationalError("UPDATE jobs", {}, ConnectionRefusedError("database away"))
        return await real(*args)

    monkeypatch.setattr(runner, "_record_failure", away_twice)
    async with unit_of_work(runtime.database) as session:
        row = record_effect.enqueue(session, label="away", fail_times=2)
    assert await execute(str(row.id), runtime) == "retrying"
    assert calls == ["try", "try", "try"]
    stored = await load(runtime, row.id)
    assert (stored.status, stored.attempts) == (JobStatus.queued, 1)
    assert stored.last_error == "RuntimeError: planned failure 1"
    assert [task for task, _, _ in published] == ["oja.job.tests.effect"] * 2

    async def broken(*args: Any) -> str:
        calls.append("broken")
        raise ValueError("a bug, not an outage")

    monkeypatch.setattr(runner, "_record_failure", broken)
    await set_job(runtime, row.id, run_after=utcnow() - timedelta(seconds=1))
    with pytest.raises(ValueError, match="a bug"):
        await execute(str(row.id), runtime)
    assert calls.count("broken") == 1
    assert await effects(runtime) == []


async def test_permanent_error_fails_at_once(runtime: Runtime, published: Published) -> None:
    async with unit_of_work(runtime.database) as session:
        row = always_permanent.enqueue(session, reason="corrupt input")
    assert await execute(str(row.id), runtime) == "failed"
    stored = await load(runtime, row.id)
    assert (stored.status, stored.attempts) == (JobStatus.failed, 1)
    assert stored.last_error == "PermanentJobError: corrupt input"
    assert len(published) == 1  # the original publication only, no retry


async def test_timeout_is_recorded_as_failure(runtime: Runtime, published: Published) -> None:
    async with unit_of_work(runtime.database) as session:
        row = too_slow.enqueue(session, subject_id=uuid.uuid4())
    assert await execute(str(row.id), runtime) == "failed"
    stored = await load(runtime, row.id)
    assert stored.last_error == "timed out after 0.2 s"


async def test_a_worker_that_lost_its_lease_cannot_record_its_effect(
    runtime: Runtime, published: Published
) -> None:
    async with unit_of_work(runtime.database) as session:
        row = record_effect.enqueue(session, label="fenced")
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
    async with unit_of_work(runtime.database) as session:
        dropped = record_effect.enqueue(session, label="dropped")
        abandoned = record_effect.enqueue(session, label="abandoned")
        exhausted = record_effect.enqueue(session, label="exhausted")
        fresh = record_effect.enqueue(session, label="fresh")
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
    async with own_transaction(runtime.database) as session:  # commits, but publishes nothing
        with pytest.raises(RuntimeError, match="no unit of work"):
            record_effect.enqueue(session, label="orphan")


# Failure hooks: every way a job becomes ``failed`` calls its kind's hook once, in that transaction.


@pytest.fixture
def follow_ups() -> Iterator[list[uuid.UUID]]:
    FOLLOW_UPS.clear()
    yield FOLLOW_UPS
    FOLLOW_UPS.clear()


async def new_subject(runtime: Runtime) -> uuid.UUID:
    subject_id = uuid.uuid4()
    async with runtime.database.engine.begin() as conn:
        await conn.execute(insert(job_subject).values(id=subject_id, status="queued", hook_calls=0))
    return subject_id


async def subject(runtime: Runtime, subject_id: uuid.UUID) -> tuple[str, str | None, int]:
    async with runtime.database.engine.connect() as conn:
        row = (
            await conn.execute(
                select(job_subject.c.status, job_subject.c.error, job_subject.c.hook_calls).where(
                    job_subject.c.id == subject_id
                )
            )
        ).one()
    return row.status, row.error, row.hook_calls


async def killed_on_its_last_attempt(runtime: Runtime, job_id: uuid.UUID) -> None:
    """As a worker SIGKILLed mid-job on the last attempt leaves it: the row ``processing`` (the
    job moved it), the job ``running`` with every attempt used and its lease expired."""
    async with runtime.database.sessionmaker() as session:
        row = await session.get(Job, job_id)
        assert row is not None
        await session.execute(
            update(job_subject)
            .where(job_subject.c.id == uuid.UUID(row.payload["subject_id"]))
            .values(status="processing")
        )
        await session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(
                status=JobStatus.running,
                attempts=row.max_attempts,
                lease_expires_at=utcnow() - timedelta(minutes=10),
            )
        )
        await session.commit()


async def test_a_job_the_sweeper_fails_calls_its_hook_once_and_its_row_ends_failed(
    runtime: Runtime, published: Published, follow_ups: list[uuid.UUID]
) -> None:
    subject_id = await new_subject(runtime)
    async with unit_of_work(runtime.database) as session:
        row = hooked.enqueue(session, subject_id=subject_id)
    await killed_on_its_last_attempt(runtime, row.id)
    published.clear()
    assert await sweep(runtime) == {"republished": 0, "failed": 1}
    stored = await load(runtime, row.id)
    assert (stored.status, stored.last_error) == (JobStatus.failed, LEASE_EXPIRED)
    assert await subject(runtime, subject_id) == ("failed", LEASE_EXPIRED, 1)
    assert follow_ups == [row.id]
    assert published == []  # a job with no attempts left is failed, not published again
    # Swept again: the job is failed already; the hook is not called a second time.
    assert await sweep(runtime) == {"republished": 0, "failed": 0}
    assert await execute(str(row.id), runtime) == "not_claimed"
    assert await subject(runtime, subject_id) == ("failed", LEASE_EXPIRED, 1)
    assert follow_ups == [row.id]


async def test_two_sweepers_at_once_fail_each_job_and_call_its_hook_once(
    runtime: Runtime, published: Published, follow_ups: list[uuid.UUID]
) -> None:
    subjects = [await new_subject(runtime) for _ in range(3)]
    async with unit_of_work(runtime.database) as session:
        rows = [hooked.enqueue(session, subject_id=s) for s in subjects]
    for row in rows:
        await killed_on_its_last_attempt(runtime, row.id)
    first, second = await asyncio.gather(sweep(runtime), sweep(runtime))
    assert first["failed"] + second["failed"] == 3
    for subject_id in subjects:
        assert await subject(runtime, subject_id) == ("failed", LEASE_EXPIRED, 1)
    assert sorted(follow_ups) == sorted(row.id for row in rows)


async def test_a_raising_hook_is_undone_and_logged_and_the_job_is_failed_all_the_same(
    runtime: Runtime, published: Published, follow_ups: list[uuid.UUID]
) -> None:
    broken_subject, sound_subject = await new_subject(runtime), await new_subject(runtime)
    async with unit_of_work(runtime.database) as session:
        broken = hooked.enqueue(session, subject_id=broken_subject, hook_raises=True)
        sound = hooked.enqueue(session, subject_id=sound_subject)
    await killed_on_its_last_attempt(runtime, broken.id)
    await killed_on_its_last_attempt(runtime, sound.id)
    with structlog.testing.capture_logs() as logs:
        assert await sweep(runtime) == {"republished": 0, "failed": 2}
    assert (await load(runtime, broken.id)).status == JobStatus.failed
    assert (await load(runtime, sound.id)).status == JobStatus.failed
    # The broken hook's write is rolled back to its savepoint and its follow-up dropped; the
    # transaction stays usable (PostgreSQL would otherwise refuse the rest) for the next job's hook.
    assert await subject(runtime, broken_subject) == ("processing", None, 0)
    assert await subject(runtime, sound_subject) == ("failed", LEASE_EXPIRED, 1)
    assert follow_ups == [sound.id]
    hook_errors = [e for e in logs if e["event"] == "jobs.failure_hook.failed"]
    assert [(e["job_id"], e["error"]) for e in hook_errors] == [
        (str(broken.id), "RuntimeError: the hook itself failed")
    ]


async def test_the_runners_final_attempt_calls_the_hook_once(
    runtime: Runtime, published: Published, follow_ups: list[uuid.UUID]
) -> None:
    subject_id = await new_subject(runtime)
    async with unit_of_work(runtime.database) as session:
        row = hooked.enqueue(session, subject_id=subject_id, outcome="raise")
    assert await execute(str(row.id), runtime) == "retrying"
    assert await subject(runtime, subject_id) == ("processing", None, 0)  # attempts are left
    assert follow_ups == []
    async with runtime.database.sessionmaker() as session:
        await session.execute(
            update(Job).where(Job.id == row.id).values(run_after=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    assert await execute(str(row.id), runtime) == "failed"
    assert await subject(runtime, subject_id) == ("failed", "RuntimeError: planned failure 2", 1)
    assert follow_ups == [row.id]
    # Nothing after that calls it again: a duplicate delivery, a sweep.
    assert await execute(str(row.id), runtime) == "not_claimed"
    assert await sweep(runtime) == {"republished": 0, "failed": 0}
    assert await subject(runtime, subject_id) == ("failed", "RuntimeError: planned failure 2", 1)
    assert follow_ups == [row.id]


async def test_a_permanent_error_calls_the_hook_once_and_a_success_never(
    runtime: Runtime, published: Published, follow_ups: list[uuid.UUID]
) -> None:
    bad_subject, good_subject = await new_subject(runtime), await new_subject(runtime)
    async with unit_of_work(runtime.database) as session:
        bad = hooked.enqueue(session, subject_id=bad_subject, outcome="permanent")
        good = hooked.enqueue(session, subject_id=good_subject)
    assert await execute(str(bad.id), runtime) == "failed"
    assert await execute(str(good.id), runtime) == "succeeded"
    assert await subject(runtime, bad_subject) == ("failed", "PermanentJobError: bad input", 1)
    assert await subject(runtime, good_subject) == ("done", None, 0)
    assert follow_ups == [bad.id]


async def test_a_hook_is_declared_once_per_kind() -> None:
    async def another(failure: Any, **_: Any) -> None:
        return None

    with pytest.raises(ValueError, match="already has a failure hook"):
        hooked.on_failure(another)
