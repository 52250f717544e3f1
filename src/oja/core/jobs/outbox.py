"""The outbox: job messages leave only after the transaction that wrote their rows commits.

:meth:`JobDefinition.enqueue` adds the row to the caller's session and :meth:`Outbox.schedule`
queues the message on that session; :func:`oja.core.db.after_commit` hands the batch to the
:class:`Publisher` once the commit has succeeded, and a rollback drops it. The publisher is a port:
the Celery adapter (:class:`oja.core.jobs.celery_app.CeleryPublisher`) is the production one, tests
and benchmarks pass their own. A publish that fails is logged and left to the sweeper — the row is
already committed as ``queued`` — so publishing never fails the caller.

A publisher that can also take a message without the caller waiting (:class:`HandsOff`, the Celery
adapter through a :class:`PublishThread`) gets the after-commit batch that way: the caller's request
or job does not wait for the broker. That costs no guarantee: the row is committed ``queued`` with
``published_at`` before the message leaves, so a message lost with the process (or refused by the
broker) is published again by the sweeper after ``job_requeue_after``. Who needs the broker's answer
— the sweeper's and the admin's republish — calls :meth:`Outbox.publish`, which still waits for it.

Each :class:`~oja.core.db.Database` carries its outbox in every session's ``info``
(:meth:`Outbox.install`, done by :meth:`oja.core.runtime.Runtime.create`), which is how an
``enqueue(session, …)`` finds it without any process global.
"""

from __future__ import annotations

import atexit
import os
import threading
import uuid
import weakref
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

import structlog
from sqlalchemy import Engine, Table, bindparam, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.util.concurrency import await_

from oja.core.db import AfterCommit, Database, DriverRead, after_commit
from oja.core.jobs.models import Job

if TYPE_CHECKING:
    from oja.core.jobs.definition import Registry

log = structlog.get_logger("oja.jobs")

OUTBOX_KEY = "oja.jobs.outbox"
_PENDING = "oja.jobs.pending"
_ROWS = "oja.jobs.rows"
_ENGINES = "oja.jobs.engines"
_JOB = cast(Table, Job.__table__)
_INSERT_JOBS = insert(_JOB)
"""Built once: the job rows an enqueue buffered go in as one Core INSERT (executemany)."""
_DATABASE = "oja.jobs.database"
_INSERT_ALONE: dict[tuple[str, ...], DriverRead] = {}
"""One job row as its own autocommit INSERT, on the driver's connection: per set of columns (an
enqueue always gives the same), compiled once (see :class:`~oja.core.db.DriverRead`)."""


def _insert_alone(columns: tuple[str, ...]) -> DriverRead:
    statement = _INSERT_ALONE.get(columns)
    if statement is None:
        values = {name: bindparam(name, type_=_JOB.c[name].type) for name in columns}
        statement = _INSERT_ALONE[columns] = DriverRead(_INSERT_JOBS.values(values))
    return statement


class OutboxSession(Session):
    """The session class of a database with an outbox: it writes the job rows that enqueues buffered
    (:func:`buffer_job_row`) with one prebuilt Core INSERT, not through the ORM's unit of work.

    The ORM's flush of one ``Job`` was ~0.4 CPU ms of the producer's ~1.1 per enqueue (a no-op
    enqueue in its own unit of work). The rows are written where the ORM would have flushed them:
    before every flush (an explicit one, the autoflush before an ORM query, the start of a
    savepoint) and before the commit, so the caller's transaction holds them exactly as it held
    the ORM's; a rollback drops them with the rest of the transaction.

    A unit of work whose only write is one job row (it has not begun a transaction: no read, no
    other write) commits it as one autocommit INSERT: that statement is the whole transaction,
    so it is just as atomic and durable (a synchronous commit), in one round trip instead of three
    (BEGIN, INSERT, COMMIT) — each round trip cost ~0.3 ms of kernel time (a loopback send that
    wakes the server) on this machine, more than the INSERT's Python. That INSERT goes on the
    driver's connection (:class:`~oja.core.db.DriverRead`), without Core's execution machinery.
    """

    def flush(self, objects: Any = None) -> None:
        self._write_job_rows()
        super().flush(objects)

    def commit(self) -> None:
        alone = self._autocommit_engine_for_rows_alone()
        if alone is not None:
            (row,) = self.info.pop(_ROWS)
            await_(_insert_alone(tuple(row)).rows(self.info[_DATABASE], row))
        else:
            self._write_job_rows()
        super().commit()

    def _autocommit_engine_for_rows_alone(self) -> Engine | None:
        """The autocommit engine when one buffered job row is all this commit has to write.

        One row only: several go in as an executemany, which SQLite runs (and PostgreSQL pages,
        past ``insertmanyvalues_page_size``) as separate statements, each its own autocommit.
        """
        engines: tuple[Engine, Engine] | None = self.info.get(_ENGINES)
        rows: list[dict[str, Any]] | None = self.info.get(_ROWS)
        if (
            engines is None
            or rows is None
            or len(rows) != 1
            or self._flushing
            or self.in_transaction()
            or self.bind is not engines[0]
            or self.new
            or self.dirty
            or self.deleted
        ):
            return None
        return engines[1]

    def rollback(self) -> None:
        self.info.pop(_ROWS, None)
        super().rollback()

    def close(self) -> None:
        self.info.pop(_ROWS, None)
        super().close()

    def _write_job_rows(self) -> None:
        if self._flushing:
            return
        rows: list[dict[str, Any]] | None = self.info.pop(_ROWS, None)
        if rows:
            self.execute(_INSERT_JOBS, rows)


class OutboxAsyncSession(AsyncSession):
    """The async face of :class:`OutboxSession`: a session that never began a transaction and holds
    nothing to write skips its commit and closes without a greenlet or a task.

    Such a session is held by every job that did not use its database session (the runner's unit of
    work is made before the job runs), and its commit and close cost 0.05–0.07 CPU ms: a greenlet
    hop to commit an empty transaction, then ``AsyncSession.__aexit__``'s close in a task of its
    own, shielded from cancellation. Without a transaction the session holds no connection, so there
    is nothing to commit, roll back or release, and its close is pure Python (no I/O to protect from
    a cancellation). Any other session — one that read, wrote, flushed or buffered a job row —
    commits and closes exactly as before.
    """

    def _idle(self) -> bool:
        sync = self.sync_session
        return sync._transaction is None and not (
            sync.new or sync.deleted or sync.info.get(_ROWS) or sync.dirty
        )

    async def commit(self) -> None:
        if self._idle():
            return
        await super().commit()

    async def close(self) -> None:
        if self.sync_session._transaction is None:
            self.sync_session.close()
            return
        await super().close()

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        if self.sync_session._transaction is None:
            self.sync_session.close()
            return
        await super().__aexit__(type_, value, traceback)


def buffer_job_row(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Leave the job row to ``session``'s next flush or commit (see :class:`OutboxSession`); False
    when the session cannot (not an outbox session, or inside a savepoint, where a rolled-back
    savepoint must take the row with it: the caller adds it through the ORM then)."""
    sync = session.sync_session
    if not isinstance(sync, OutboxSession) or sync.in_nested_transaction():
        return False
    rows: list[dict[str, Any]] | None = sync.info.get(_ROWS)
    if rows is None:
        sync.info[_ROWS] = rows = []
    rows.append(values)
    return True


def has_buffered_rows(session: AsyncSession) -> bool:
    return bool(session.info.get(_ROWS))


def take_buffered_rows(session: AsyncSession) -> list[dict[str, Any]]:
    """The job rows buffered on ``session`` (none: ``[]``), taken out so that its commit does not
    write them: the caller writes them itself. The publishes scheduled with them stay."""
    rows: list[dict[str, Any]] | None = session.sync_session.info.pop(_ROWS, None)
    return rows or []


class Publisher(Protocol):
    """Sends one job's message to whatever delivers it to a worker; may raise (it is logged)."""

    async def __call__(self, task_name: str, job_id: uuid.UUID, countdown: float) -> None: ...


@runtime_checkable
class HandsOff(Protocol):
    """A publisher that also takes a message without the caller waiting for the broker."""

    def hand_off(self, task_name: str, job_id: uuid.UUID, countdown: float) -> None: ...


Message = tuple[str, uuid.UUID, float]
"""A job message: its task's name, the job's id, the countdown in seconds."""

SendBatch = Callable[[list[Message]], None]


class PublishThread:
    """One daemon thread per process that sends the messages handed to it, in order, in batches.

    :meth:`hand_off` only appends to a queue, so a caller never waits for the broker (nor for a
    thread-pool hop). A batch whose send raises is logged and left to the sweeper, as an awaited
    publish's failure is. The thread starts on first use; a forked child (Celery's prefork pool) inherits
    neither the thread nor its lock's state, so it forgets the parent's queue (the sweeper sends
    what was in it) and starts its own. At interpreter exit what is still queued gets a few seconds
    to leave (:meth:`flush`); whatever does not, the sweeper sends.
    """

    def __init__(self, send: SendBatch, *, exit_flush_timeout: float = 5.0) -> None:
        self._send = send
        self._exit_flush_timeout = exit_flush_timeout
        self._at_exit = False
        self._reset()
        me = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _reset_in_child(me))

    def _reset(self) -> None:
        self._running = False
        self._queue: deque[Message] = deque()
        self._unsent = 0
        self._changed = threading.Condition()

    def hand_off(self, task_name: str, job_id: uuid.UUID, countdown: float) -> None:
        with self._changed:
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="oja-job-publisher", daemon=True).start()
                if not self._at_exit:
                    self._at_exit = True
                    atexit.register(self.flush, self._exit_flush_timeout)
            self._queue.append((task_name, job_id, countdown))
            self._unsent += 1
            self._changed.notify_all()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every message handed off so far was sent (or failed); False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._unsent == 0, timeout)

    def _run(self) -> None:
        changed = self._changed
        while True:
            # Everything queued leaves in one batch: under a burst one send (one broker connection
            # checkout) carries many messages, and the thread takes the GIL once per batch.
            with changed:
                changed.wait_for(lambda: bool(self._queue))
                batch = list(self._queue)
                self._queue.clear()
            try:
                self._send(batch)
            except Exception as exc:
                # Some may have left: publishing twice is harmless (only one claim runs a job).
                for task_name, job_id, _ in batch:
                    log.warning(
                        "jobs.publish.failed",
                        task=task_name,
                        job_id=str(job_id),
                        error=repr(exc)[:200],
                    )
            with changed:
                self._unsent -= len(batch)
                changed.notify_all()


def _reset_in_child(thread: weakref.ref[PublishThread]) -> None:
    publisher = thread()
    if publisher is not None:
        publisher._reset()


async def unwired(task_name: str, job_id: uuid.UUID, countdown: float) -> None:
    """The publisher of a runtime no composition root gave one: every publish fails (and is
    logged); the job rows stay ``queued`` for a sweeper wired to a broker."""
    raise RuntimeError("no job publisher wired into this runtime")


class Outbox:
    """The declared job kinds, where their messages go, and the attempt budget by default."""

    def __init__(
        self, registry: Registry, publisher: Publisher, *, default_max_attempts: int
    ) -> None:
        self.registry = registry
        self.publisher = publisher
        self.default_max_attempts = default_max_attempts

    def install(self, database: Database) -> None:
        """Every session of ``database`` finds this outbox from now on (see :func:`outbox_of`), and
        is an :class:`OutboxSession` (its async face an :class:`OutboxAsyncSession`)."""
        database.session_info[OUTBOX_KEY] = self
        database.session_info[_DATABASE] = database
        database.session_info[_ENGINES] = (
            database.engine.sync_engine,
            database.autocommit_engine.sync_engine,
        )
        database.sessionmaker.configure(sync_session_class=OutboxSession)
        database.sessionmaker.class_ = OutboxAsyncSession

    def schedule(
        self, session: AsyncSession, task_name: str, job_id: uuid.UUID, countdown: float
    ) -> None:
        """Publish once ``session``'s transaction has committed; never if it rolls back.

        One after-commit callback per transaction publishes its batch. A batch whose callback is
        gone (:func:`oja.core.db.discard` dropped it with the writes) is dropped too and a new one
        starts: before, the next enqueue joined the stale batch and was never published (only the
        sweeper sent it, ``job_requeue_after`` later).
        """
        pending: tuple[list[Message], AfterCommit] | None = session.info.get(_PENDING)
        if pending is None or pending[1] not in session.info.get("oja.after_commit", ()):
            messages: list[Message] = []

            async def publish_all() -> None:
                session.info.pop(_PENDING, None)
                publisher = self.publisher
                for name, pending_id, delay in messages:
                    if isinstance(publisher, HandsOff):
                        publisher.hand_off(name, pending_id, delay)
                    else:
                        await self.publish(name, pending_id, countdown=delay)

            pending = (messages, publish_all)
            session.info[_PENDING] = pending
            after_commit(session, publish_all)
        pending[0].append((task_name, job_id, countdown))

    async def publish(self, task_name: str, job_id: uuid.UUID, *, countdown: float = 0.0) -> bool:
        """True once the publisher took the message; False (logged) when it raised."""
        try:
            await self.publisher(task_name, job_id, countdown)
        except Exception as exc:
            log.warning(
                "jobs.publish.failed", task=task_name, job_id=str(job_id), error=repr(exc)[:200]
            )
            return False
        return True


def outbox_of(session: AsyncSession) -> Outbox:
    """The outbox of the database ``session`` belongs to."""
    outbox = session.info.get(OUTBOX_KEY)
    if not isinstance(outbox, Outbox):
        raise RuntimeError("this session's database has no job outbox (see Runtime.create)")
    return outbox
