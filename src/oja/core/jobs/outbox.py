"""The outbox: job messages leave only after the transaction that wrote their rows commits.

:meth:`JobDefinition.enqueue` adds the row to the caller's session and :meth:`Outbox.schedule`
queues the message on that session; :func:`oja.core.db.after_commit` hands the batch to the
:class:`Publisher` once the commit has succeeded, and a rollback drops it. The publisher is a port:
the Celery adapter (:class:`oja.core.jobs.celery_app.CeleryPublisher`) is the production one, tests
and benchmarks pass their own. A publish that fails is logged and left to the sweeper — the row is
already committed as ``queued`` — so publishing never fails the caller.

Each :class:`~oja.core.db.Database` carries its outbox in every session's ``info``
(:meth:`Outbox.install`, done by :meth:`oja.core.runtime.Runtime.create`), which is how an
``enqueue(session, …)`` finds it without any process global.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Protocol

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
                for name, pending_id, delay in batch:
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
