"""Typed job declarations, the registry of kinds, and transactional enqueue.

Nothing here knows how a message reaches a worker: :meth:`JobDefinition.enqueue` writes the row in the
session it is given and hands the message to that session's :class:`~oja.core.jobs.outbox.Outbox`.
``@job`` only declares a kind; the composition roots add the kinds to a :class:`Registry`.
"""

from __future__ import annotations

import asyncio
import inspect
import typing
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec

import structlog
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, create_model
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.db import AfterCommit, after_commit, in_unit_of_work, own_transaction
from oja.core.ids import uuid7
from oja.core.jobs.models import Job, JobStatus
from oja.core.jobs.outbox import buffer_job_row, outbox_of

if TYPE_CHECKING:
    from oja.core.runtime import Runtime

P = ParamSpec("P")
log = structlog.get_logger("oja.jobs")
PROGRESS_SQLITE_BUSY_TIMEOUT_MS = 200


class PermanentJobError(Exception):
    """Raised by a job when retrying cannot help (bad input, corrupt file): the job fails at once."""


@dataclass
class JobContext:
    """What a running job gets besides its arguments."""

    job_id: uuid.UUID
    attempt: int
    session: AsyncSession
    runtime: Runtime
    _progress_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def progress(self, percent: int, message: str | None = None) -> None:
        """Record progress in its own short transaction so pollers see it while the job runs.

        Best effort: on SQLite the job's own transaction may hold the write lock, and progress is not
        worth failing a job over.
        """
        percent = max(0, min(100, percent))
        async with self._progress_lock:
            try:
                # The job's own transaction may hold SQLite's single write lock: give up fast.
                async with own_transaction(
                    self.runtime.database, sqlite_busy_timeout_ms=PROGRESS_SQLITE_BUSY_TIMEOUT_MS
                ) as session:
                    await session.execute(
                        update(Job)
                        .where(Job.id == self.job_id, Job.attempts == self.attempt)
                        .values(progress=percent, message=message, updated_at=utcnow())
                    )
            except Exception as exc:
                log.warning("jobs.progress.skipped", error=type(exc).__name__)


@dataclass
class JobFailure:
    """A job that has just become ``failed``: what its terminal-failure hook is given.

    The hook runs inside the transaction that fails the job, so the job's state and the feature
    row it was moving commit together or not at all. That is the one path that also covers a worker
    SIGKILLed on the last attempt: the job body's own ``except`` never runs then, but the sweeper
    fails the job and calls the hook. Write through :attr:`session` only — never commit it, never
    open a transaction of your own (on SQLite it would wait for the write lock this one holds).
    """

    job_id: uuid.UUID
    kind: str
    attempts: int
    error: str
    """The job's ``last_error``: the runner's ``Type: message`` or timeout, or the sweeper's
    "lease expired" text."""
    exception: Exception | None
    """What the last attempt raised; None when the worker was lost (the sweeper failed the job)."""
    session: AsyncSession
    runtime: Runtime
    callbacks: list[AfterCommit] = field(default_factory=list)

    def after_commit(self, callback: AfterCommit) -> None:
        """Run ``callback`` once the failure has committed (never if the hook raises): for work
        outside this transaction (a quota refund, a stream event). Its errors are logged."""
        self.callbacks.append(callback)


@dataclass(frozen=True)
class EnqueueOptions:
    dedupe_key: str | None = None
    delay: timedelta | None = None


JobFunc = Callable[Concatenate[JobContext, P], Awaitable[dict[str, Any] | None]]
FailureHook = Callable[Concatenate[JobFailure, P], Awaitable[None]]


class JobDefinition(Generic[P]):
    """A declared kind of job. ``enqueue`` takes exactly the job function's keyword arguments."""

    def __init__(
        self,
        kind: str,
        func: JobFunc[P],
        *,
        timeout: float | None,
        max_attempts: int | None,
        subject: tuple[str, str] | None,
        queue: str,
        periodic: float | None = None,
    ) -> None:
        self.kind = kind
        self.periodic = periodic
        self.func = func
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.subject = subject
        self.queue = queue
        self._signature = inspect.signature(func)
        self._arguments = _arguments_model(kind, func)
        self.failure_hook: FailureHook[P] | None = None

    def on_failure(self, hook: FailureHook[P]) -> FailureHook[P]:
        """Declare what must happen when this job ends ``failed`` (decorator); one hook per kind.

        The hook takes a :class:`JobFailure` and the job's own keyword arguments, typed as declared.
        It is called once per failure, wherever the job fails: the runner's last attempt or
        :class:`PermanentJobError`, and the sweeper's lease-expired-with-no-attempts-left. Feature
        modules use it to move the row the job was working on out of its in-progress state; it
        must be idempotent and check that row's state, since the job body may have done it already.
        """
        if self.failure_hook is not None and self.failure_hook is not hook:
            raise ValueError(f"job kind {self.kind!r} already has a failure hook")
        self.failure_hook = hook
        return hook

    @property
    def task_name(self) -> str:
        return f"oja.job.{self.kind}"

    def enqueue(self, session: AsyncSession, *args: P.args, **kwargs: P.kwargs) -> Job:
        """Add the job to ``session``'s transaction; it is published once that transaction commits.

        The row is written at the session's next flush or its commit (:class:`.outbox.OutboxSession`);
        the ``Job`` returned carries its values but is not attached to the session (query it back).
        """
        return self.enqueue_with(session, EnqueueOptions(), *args, **kwargs)

    def enqueue_with(
        self, session: AsyncSession, options: EnqueueOptions, *args: P.args, **kwargs: P.kwargs
    ) -> Job:
        """``enqueue`` with a dedupe key (unique among all jobs) or a start delay."""
        dedupe_key, delay = options.dedupe_key, options.delay
        if args:
            raise TypeError("job arguments are keyword-only (they are stored as JSON)")
        self._signature.bind(None, **kwargs)  # fail now, in the caller, on a wrong argument
        if not in_unit_of_work(session):  # only a unit of work publishes after its commit
            raise RuntimeError("no unit of work is active on this session: enqueue in one")
        outbox = outbox_of(session)
        now = utcnow()
        subject_type, subject_id = None, None
        if self.subject is not None:
            subject_type, key = self.subject
            subject_id = str(kwargs[key])
        values = {
            "id": uuid7(),
            "kind": self.kind,
            "payload": jsonable_encoder(kwargs) if kwargs else {},
            "status": JobStatus.queued,
            "attempts": 0,
            "max_attempts": self.max_attempts or outbox.default_max_attempts,
            "progress": 0,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "dedupe_key": dedupe_key,
            "run_after": now + delay if delay else now,
            "published_at": now,
            "created_at": now,
            "updated_at": now,
        }
        row = Job(**values)
        if not buffer_job_row(session, values):
            session.add(row)
        outbox.schedule(session, self.task_name, row.id, delay.total_seconds() if delay else 0.0)
        return row

    async def run(self, ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any] | None:
        # The payload is JSON: the model restores UUIDs, datetimes… to the declared types.
        arguments = self._arguments.model_validate(payload)
        func = typing.cast(Callable[..., Awaitable[dict[str, Any] | None]], self.func)
        return await func(ctx, **{name: getattr(arguments, name) for name in payload})

    async def _call_failure_hook(self, failure: JobFailure, payload: dict[str, Any]) -> None:
        if self.failure_hook is None:
            return
        arguments = self._arguments.model_validate(payload)
        hook = typing.cast(Callable[..., Awaitable[None]], self.failure_hook)
        await hook(failure, **{name: getattr(arguments, name) for name in payload})


async def call_failure_hook(failure: JobFailure, payload: dict[str, Any]) -> None:
    """Run the kind's failure hook in the transaction that has just moved the job to ``failed``.

    The hook runs in a savepoint: if it raises, what it wrote is undone and the error logged, and
    the job's failure still commits — without the savepoint, PostgreSQL would refuse every later
    statement of the transaction, and SQLite would keep the hook's half-done writes. The hook's
    after-commit callbacks are registered only once it has returned.
    """
    definition = failure.runtime.outbox.registry.get(failure.kind)
    if definition is None:
        log.warning("jobs.failure_hook.unknown_kind", job_id=str(failure.job_id), kind=failure.kind)
        return
    if definition.failure_hook is None:
        return
    try:
        async with failure.session.begin_nested():
            await definition._call_failure_hook(failure, payload)
    except Exception as exc:
        log.error(
            "jobs.failure_hook.failed",
            job_id=str(failure.job_id),
            kind=failure.kind,
            error=f"{type(exc).__name__}: {exc}"[:500],
        )
        return
    for callback in failure.callbacks:
        after_commit(failure.session, _logging_errors(callback, failure))


def _logging_errors(callback: AfterCommit, failure: JobFailure) -> AfterCommit:
    """The failure is committed by then; a follow-up that fails must not stop the caller's loop."""

    async def run() -> None:
        try:
            await callback()
        except Exception as exc:
            log.error(
                "jobs.failure_hook.followup_failed",
                job_id=str(failure.job_id),
                kind=failure.kind,
                error=f"{type(exc).__name__}: {exc}"[:500],
            )

    return run


def _arguments_model(kind: str, func: Callable[..., Any]) -> type[BaseModel]:
    hints = typing.get_type_hints(func)
    fields: dict[str, Any] = {}
    for name, parameter in list(inspect.signature(func).parameters.items())[1:]:
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[name] = (hints.get(name, Any), default)
    return create_model(f"JobArguments[{kind}]", **fields)


class Registry:
    """The job kinds one process knows, by kind: filled by the composition root (``oja.job_modules``)."""

    def __init__(self) -> None:
        self._definitions: dict[str, JobDefinition[Any]] = {}

    def add(self, definition: JobDefinition[Any]) -> None:
        existing = self._definitions.get(definition.kind)
        if existing is not None and existing.func is not definition.func:
            raise ValueError(f"job kind {definition.kind!r} is declared twice")
        self._definitions[definition.kind] = definition

    def add_module(self, module: ModuleType) -> None:
        """Every job a module declares (its :class:`JobDefinition` attributes)."""
        for value in vars(module).values():
            if isinstance(value, JobDefinition):
                self.add(value)

    def get(self, kind: str) -> JobDefinition[Any] | None:
        return self._definitions.get(kind)

    def all(self) -> list[JobDefinition[Any]]:
        return list(self._definitions.values())


def job(
    kind: str,
    *,
    timeout: float | None = None,
    max_attempts: int | None = None,
    subject: tuple[str, str] | None = None,
    queue: str = "default",
    periodic: float | None = None,
) -> Callable[[JobFunc[P]], JobDefinition[P]]:
    """Declare a job kind: ``@job("files.process_upload", subject=("file", "file_id"))``.

    The function receives a :class:`JobContext` and keyword arguments that must be JSON-serialisable
    ids or small values; it runs inside one transaction that also records its completion.
    ``periodic=seconds`` has beat enqueue it (without arguments) once per interval, deduplicated
    per interval however many beats run. Declaring registers nothing: a process runs the kinds its
    composition root added to its :class:`Registry`.
    """

    def wrap(func: JobFunc[P]) -> JobDefinition[P]:
        definition = JobDefinition(
            kind,
            func,
            timeout=timeout,
            max_attempts=max_attempts,
            subject=subject,
            queue=queue,
            periodic=periodic,
        )
        return definition

    return wrap
