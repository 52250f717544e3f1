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
import logging
import random
import time
import uuid
import weakref
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import structlog
from sqlalchemy import (
    ColumnElement,
    Table,
    Update,
    and_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from oja.core.clock import utcnow
from oja.core.db import (
    Database,
    DriverRead,
    _raise_translated,
    create_engine,
    is_sqlite,
    unit_of_work,
)
from oja.core.jobs.definition import (
    JobContext,
    JobFailure,
    PermanentJobError,
    call_failure_hook,
)
from oja.core.jobs.models import Job, JobStatus
from oja.core.jobs.outbox import has_buffered_rows
from oja.core.runtime import Runtime, running

log = structlog.get_logger("oja.jobs")
_stdlib_log = logging.getLogger("oja.jobs")
"""What structlog's level filter asks: the runner checks it once per job and skips its two INFO
lines when they would be dropped (each dropped call still bound a logger through structlog's
lazy proxy)."""


class LeaseLost(Exception):
    """Another attempt owns the job now; this attempt's work is rolled back."""


def retry_delay(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter (AWS architecture blog): uniform in [0, min(cap, base·2ⁿ)]."""
    return random.uniform(0, min(cap, base * (2 ** max(0, attempt - 1))))  # noqa: S311


JOB = cast(Table, Job.__table__)


def _unindexed(column: ColumnElement[str]) -> ColumnElement[str]:
    """``column || ''``: the same value, which no index serves. The runner's UPDATEs find their row
    by ``id``; compared plainly, ``kind`` and ``status`` let PostgreSQL's generic plan (asyncpg
    prepares every statement) cost their indexes like the primary key — ``ix_job_kind`` holds
    every job of the kind ever made — and the day's claim read 237 buffers a call (issue 25)."""
    return column + literal_column("''")


"""The job table as Core: the runner's statements skip the ORM's bulk-DML machinery (a third of a
no-op job's CPU in a py-spy profile of the worker)."""


_RELAXED = select(func.set_config("synchronous_commit", "off", True)).scalar_subquery() == "off"
"""An always-true condition that sets ``synchronous_commit`` for the statement's transaction only:
an uncorrelated subquery, so PostgreSQL evaluates it once (an InitPlan), before the commit."""


def _claim_statement() -> Update:
    """The claim, built once with bind parameters: building a statement and its cache key per job
    was a third of a no-op job's CPU in the worker (cProfile)."""
    now = bindparam("claimed_at", type_=JOB.c.started_at.type)
    return (
        update(JOB)
        .where(
            JOB.c.id == bindparam("job_id", type_=JOB.c.id.type),
            _unindexed(JOB.c.kind) == bindparam("job_kind", type_=JOB.c.kind.type),
            JOB.c.attempts < JOB.c.max_attempts,
            or_(
                and_(_unindexed(JOB.c.status) == JobStatus.queued, JOB.c.run_after <= now),
                and_(_unindexed(JOB.c.status) == JobStatus.running, JOB.c.lease_expires_at < now),
            ),
        )
        .values(
            status=JobStatus.running,
            attempts=JOB.c.attempts + 1,
            started_at=now,
            lease_expires_at=bindparam("lease_until", type_=JOB.c.lease_expires_at.type),
            updated_at=now,
            last_error=None,
        )
        .returning(JOB.c.payload, JOB.c.attempts, JOB.c.max_attempts)
    )


def _succeeded_statement() -> Update:
    """Mark the attempt done, fenced: only if the row still belongs to this attempt. Built once."""
    finished = bindparam("finished_at_", type_=JOB.c.finished_at.type)
    return (
        update(JOB)
        .where(
            JOB.c.id == bindparam("job_id", type_=JOB.c.id.type),
            _unindexed(JOB.c.status) == JobStatus.running,
            JOB.c.attempts == bindparam("attempt", type_=JOB.c.attempts.type),
        )
        .values(
            status=JobStatus.succeeded,
            progress=100,
            result=bindparam("job_result", type_=JOB.c.result.type),
            finished_at=finished,
            lease_expires_at=None,
            updated_at=finished,
        )
    )


class _Bookkeeping:
    """A runner statement run as its own autocommit transaction, on the driver's connection
    (:class:`~oja.core.db.DriverRead`: Core's execution machinery cost about as much worker CPU
    as the rest of a no-op job's claim and mark), through the process's :class:`_Lane` when it
    can. Built once per statement.

    For the runner's own bookkeeping only: the claim, and the mark of a job that wrote nothing.
    On PostgreSQL it commits without waiting for the WAL flush (SQLite has no such setting per
    statement). A flush (fdatasync) cost ~3 ms per commit on this machine, two per job, where the
    rest of a no-op job costs well under one. Nothing is given up: the commit is visible at once,
    and only a crash of PostgreSQL itself within the WAL writer's delay (200 ms by default) can
    forget it. A forgotten claim leaves the job queued (the sweeper republishes it; an attempt
    whose effects committed flushed the claim before them, since the WAL is flushed in order); a
    forgotten mark leaves it running until its lease expires, then it runs again — as when a
    worker dies between its job and its mark, the case every job is already written for
    (idempotent). ``set_config(…, true)`` is ``SET LOCAL`` inside the one statement: it ends with
    the statement's transaction, so the pooled connection keeps synchronous commits for every
    later use (tests/core/test_jobs.py checks it).
    """

    def __init__(self, statement: Update) -> None:
        self.plain = DriverRead(statement)
        self.relaxed = _LaneStatement(statement.where(_RELAXED))

    async def rows(self, database: Database, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        if is_sqlite(database.url):
            return await self.plain.rows(database, params)
        return await self.relaxed.rows(database, params)


LANE_SECONDS = 1.0
"""How long the lane keeps its connection checked out before it hands it back to its pool and
checks out again (the pool's recycling and its staleness rule after an error apply at checkout)."""


class _Lane:
    """The connection a process keeps for the runner's bookkeeping, between jobs.

    Each claim and lone mark checked a connection out of the pool and back in, through SQLAlchemy's
    greenlet: ~0.1 CPU ms of a no-op job's ~0.6 in a worker process, for two statements that take
    no lock and leave no transaction open. The lane keeps one connection checked out and sends the
    statements of job after job on it, awaited on the driver itself (asyncpg prepares each once
    per connection, as on any pooled one). The connection comes from an engine of the lane's own,
    made as the database's is (:func:`~oja.core.db.create_engine`) with one connection: holding it
    never takes a connection from the pool a job's session, its progress or a request needs (a
    worker run with ``OJA_DATABASE_POOL_SIZE=1`` keeps its one for the job). It is handed back to
    its pool :data:`LANE_SECONDS` after its checkout (at its next use), on any error, and when the
    runtime closes (the engine disposed).

    One job at a time runs in a worker process, so nothing waits for the lane; a second caller
    meanwhile (tests and the API run jobs inline) takes the database's pool, as before.

    A connection that died with a restarted server fails its statement as a pooled one does (no
    pre-ping); the lane drops it and sends the statement once more on a fresh connection. That
    cannot apply anything twice: the claim and the mark are fenced UPDATEs, so after one that did
    commit before the failure the claim finds the job running (its lease then runs its course) and
    the mark finds it no longer this attempt's (reported as a lost lease).
    """

    def __init__(self, url: str) -> None:
        self.url = url  # not the database: the lanes are held by a weak reference to it
        self.engine: AsyncEngine | None = None
        self.fairy: PoolProxiedConnection | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.until = 0.0
        self.busy = False

    async def fetch(self, sql: str, args: list[Any], *, again: bool = True) -> list[Any]:
        loop = asyncio.get_running_loop()
        if self.fairy is not None and (time.monotonic() > self.until or self.loop is not loop):
            await self._hand_back()
        if self.fairy is None:
            if self.engine is None:
                self.engine = create_engine(self.url, pool_size=1)
            self.fairy = await self.engine.raw_connection()
            self.loop, self.until = loop, time.monotonic() + LANE_SECONDS
        fairy = self.fairy
        adapted: Any = fairy.dbapi_connection
        try:
            return cast(list[Any], await adapted.driver_connection.fetch(sql, *args))
        except asyncio.CancelledError:
            self.fairy = None
            await greenlet_spawn(fairy.invalidate)  # cut mid-statement: its state is unknown
            raise
        except Exception as error:
            self.fairy = None
            assert self.engine is not None
            engine = self.engine.sync_engine
            try:  # raised as Core raises it (a disconnect invalidates), back to the lane's pool
                await greenlet_spawn(
                    _raise_translated, engine, fairy, adapted, error, sql=sql, args=args
                )
            except DBAPIError as translated:
                if not (again and translated.connection_invalidated):
                    raise
            finally:
                await greenlet_spawn(fairy.close)
            return await self.fetch(sql, args, again=False)  # on a new connection

    async def _hand_back(self) -> None:
        fairy, self.fairy = self.fairy, None
        if fairy is not None:
            await greenlet_spawn(fairy.close)

    async def close(self) -> None:
        await self._hand_back()
        engine, self.engine = self.engine, None
        if engine is not None:
            await engine.dispose()


_LANES: weakref.WeakKeyDictionary[Database, _Lane] = weakref.WeakKeyDictionary()
"""Each runtime's lane, by its database (made by :func:`claim`, closed with the runtime)."""


def _open_lane(runtime: Runtime) -> None:
    database = runtime.database
    if database not in _LANES and not is_sqlite(database.url):
        lane = _LANES[database] = _Lane(database.url)
        runtime.closers.append(lane.close)


class _LaneStatement(DriverRead):
    """A :class:`~oja.core.db.DriverRead` sent on the process's :class:`_Lane` when the driver's
    connection is the way (asyncpg, no cursor listeners, no echo) and the lane is free."""

    async def rows(self, database: Database, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        engine = database.engine.sync_engine
        listened = engine.dispatch.before_cursor_execute or engine.dispatch.after_cursor_execute
        lane = _LANES.get(database)
        if (
            engine.dialect.driver != "asyncpg"
            or listened
            or engine.echo
            or lane is None
            or lane.busy
        ):
            return await super().rows(database, params)
        compiled = self._compiled or self._compile(engine.dialect)
        args = compiled.args(params)
        lane.busy = True
        try:
            records = await lane.fetch(compiled.sql, args)
        finally:
            lane.busy = False
        return compiled.rows(records)


_CLAIM = _Bookkeeping(_claim_statement())
_SUCCEEDED = _succeeded_statement()
"""The mark inside the job's own transaction (its effects commit with it)."""
_SUCCEEDED_ALONE = _Bookkeeping(_succeeded_statement().returning(JOB.c.id))
"""The mark of a job that wrote nothing: rows returned instead of a row count (the driver's
connection gives none)."""


@dataclass(frozen=True)
class Claimed:
    """One attempt of a job, as its claim returned it."""

    id: uuid.UUID
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


async def claim(runtime: Runtime, job_id: uuid.UUID, kind: str | None = None) -> Claimed | None:
    """Take the job for one attempt; None when it is not runnable.

    One conditional ``UPDATE … RETURNING`` in a transaction of its own (autocommit: one round trip
    and one commit, no BEGIN, no wait for the WAL flush: see :class:`_Bookkeeping`), committed before the
    job runs, so the attempt counts even if the worker dies in the job. ``kind`` is the task's (each
    kind has its own task); without it (a caller that only has the id) one more read finds it.
    """
    database = runtime.database
    if kind is None:
        async with database.autocommit_engine.connect() as connection:
            found = await connection.execute(select(JOB.c.kind).where(JOB.c.id == job_id))
            kind = found.scalar_one_or_none()
        if kind is None:
            return None
    definition = runtime.outbox.registry.get(kind)
    if definition is None:
        log.error("jobs.unknown_kind", job_id=str(job_id), kind=kind)
        return None
    timeout = definition.timeout or runtime.settings.queue.job_default_timeout
    _open_lane(runtime)
    now = utcnow()
    lease = timedelta(seconds=timeout + runtime.settings.queue.job_lease_grace)
    parameters = {"job_id": job_id, "job_kind": kind, "claimed_at": now, "lease_until": now + lease}
    rows = await _CLAIM.rows(database, parameters)
    if not rows:
        return None
    payload, attempts, max_attempts = rows[0]
    return Claimed(job_id, kind, payload, attempts, max_attempts)


def _succeeded(claimed: Claimed, result: dict[str, Any] | None) -> dict[str, Any]:
    """The parameters of this attempt's fenced mark."""
    return {
        "job_id": claimed.id,
        "attempt": claimed.attempts,
        "finished_at_": utcnow(),
        "job_result": result,
    }


def _untouched(session: AsyncSession) -> bool:
    """The job neither used its session nor left anything for its commit to do or undo."""
    return not (
        session.in_transaction()
        or session.new
        or session.dirty
        or session.deleted
        or session.info.get("oja.after_commit")
        or session.info.get("oja.after_rollback")
        or has_buffered_rows(session)
    )


async def execute(job_id_text: str, runtime: Runtime, kind: str | None = None) -> str:
    """Run the job if it is runnable, with this process's ``runtime`` (its current runtime, for the
    event handlers it triggers); returns what happened (for logs and tests). ``kind``, when the
    caller knows it (the kind's task does), saves the claim a read."""
    with running(runtime):
        return await _execute(job_id_text, runtime, kind)


async def _execute(job_id_text: str, runtime: Runtime, kind: str | None) -> str:
    claimed = await claim(runtime, uuid.UUID(job_id_text), kind)
    if claimed is None:
        return "not_claimed"
    definition = runtime.outbox.registry.get(claimed.kind)
    assert definition is not None
    timeout = definition.timeout or runtime.settings.queue.job_default_timeout
    attempt = claimed.attempts
    structlog.contextvars.bind_contextvars(
        job_id=job_id_text, job_kind=claimed.kind, attempt=attempt
    )
    started = time.perf_counter()
    info = _stdlib_log.isEnabledFor(logging.INFO)
    if info:
        log.info("jobs.started")
    try:
        finish_alone = False
        async with unit_of_work(runtime.database) as session:
            ctx = JobContext(job_id=claimed.id, attempt=attempt, session=session, runtime=runtime)
            async with asyncio.timeout(timeout):  # no task and no future per job (wait_for's)
                result = await definition.run(ctx, claimed.payload)
            # The job's effects and its mark commit together; a job that wrote nothing has nothing
            # to commit with it, and its mark is one statement on its own (no BEGIN, no COMMIT).
            finish_alone = _untouched(session)
            if not finish_alone:
                done = await session.execute(_SUCCEEDED, _succeeded(claimed, result))
                if done.rowcount != 1:  # type: ignore[attr-defined]
                    raise LeaseLost
        if finish_alone:
            marked = await _SUCCEEDED_ALONE.rows(runtime.database, _succeeded(claimed, result))
            if len(marked) != 1:
                raise LeaseLost
    except LeaseLost:
        log.warning("jobs.lease_lost")
        return "lease_lost"
    except Exception as exc:
        return await _record_failure_when_possible(
            runtime, claimed, attempt, exc, timeout, started=started
        )
    finally:
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
    if info:
        log.info("jobs.succeeded", duration_ms=duration_ms)
    structlog.contextvars.unbind_contextvars("job_id", "job_kind", "attempt")
    return "succeeded"


RECORD_RETRY_CAP = 5.0
"""Longest pause, in seconds, between two tries to record an attempt's failure while the database
is unavailable."""


async def _record_failure_when_possible(
    runtime: Runtime,
    claimed: Claimed,
    attempt: int,
    exc: Exception,
    timeout: float,
    *,
    started: float,
) -> str:
    """Record the failure; while the database is unavailable, try again until the lease ends.

    A job that failed because the database went away cannot record that failure until it is back.
    Without a retry the row stayed ``running`` until its lease expired (the files job's is 5
    minutes) and only then ran again; with it, the attempt is recorded (a retry scheduled, or the
    last attempt failed) within a few seconds of the database's return. Past the lease the sweeper
    owns the job, so the worker gives up and lets it.
    """
    from oja.core.errors import is_unavailable

    deadline = started + timeout + runtime.settings.queue.job_lease_grace  # the lease, roughly
    pause = 0.25
    while True:
        try:
            return await _record_failure(runtime, claimed, attempt, exc, timeout)
        except Exception as recording:
            if not is_unavailable(recording) or time.perf_counter() + pause >= deadline:
                raise
            log.warning("jobs.record_failure_retry", error=type(recording).__name__, delay_s=pause)
        await asyncio.sleep(pause)
        pause = min(pause * 2, RECORD_RETRY_CAP)


async def _record_failure(
    runtime: Runtime, claimed: Claimed, attempt: int, exc: Exception, timeout: float
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
            .where(
                Job.id == claimed.id,
                _unindexed(JOB.c.status) == JobStatus.running,
                Job.attempts == attempt,
            )
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
