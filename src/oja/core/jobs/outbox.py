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
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.db import Database, after_commit

if TYPE_CHECKING:
    from oja.core.jobs.definition import Registry

log = structlog.get_logger("oja.jobs")

OUTBOX_KEY = "oja.jobs.outbox"
_PENDING = "oja.jobs.pending"


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
        """Every session of ``database`` finds this outbox from now on (see :func:`outbox_of`)."""
        database.session_info[OUTBOX_KEY] = self

    def schedule(
        self, session: AsyncSession, task_name: str, job_id: uuid.UUID, countdown: float
    ) -> None:
        """Publish once ``session``'s transaction has committed; never if it rolls back."""
        pending: list[tuple[str, uuid.UUID, float]] | None = session.info.get(_PENDING)
        if pending is None:
            pending = []
            session.info[_PENDING] = pending

            async def publish_all() -> None:
                batch = session.info.pop(_PENDING, [])
                publisher = self.publisher
                for name, pending_id, delay in batch:
                    if isinstance(publisher, HandsOff):
                        publisher.hand_off(name, pending_id, delay)
                    else:
                        await self.publish(name, pending_id, countdown=delay)

            after_commit(session, publish_all)
        pending.append((task_name, job_id, countdown))

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
