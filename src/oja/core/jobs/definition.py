"""Typed job declarations and transactional enqueue."""

from __future__ import annotations

import asyncio
import inspect
import typing
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec

import structlog
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, create_model
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.db import SQLITE_BUSY_TIMEOUT_MS, AfterCommit, after_commit, current_session
from oja.core.ids import uuid7
from oja.core.jobs.models import Job, JobStatus

if TYPE_CHECKING:
    from oja.core.runtime import Runtime

P = ParamSpec("P")
log = structlog.get_logger("oja.jobs")


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
                async with self.runtime.database.sessionmaker() as session:
                    sqlite = self.runtime.database.url.startswith("sqlite")
                    if sqlite:
                        # The job's own transaction may hold SQLite's single write lock: give up fast.
                        await session.execute(text("PRAGMA busy_timeout=200"))
                    try:
                        await session.execute(
                            update(Job)
                            .where(Job.id == self.job_id, Job.attempts == self.attempt)
                            .values(progress=percent, message=message, updated_at=utcnow())
                        )
                        await session.commit()
                    finally:
                        if sqlite:  # pooled connection: restore the normal patience
                            await session.rollback()
                            await session.execute(
                                text(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
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

    def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> Job:
        """Add the job to the current unit of work; it is published once that work commits."""
        return self.enqueue_with(EnqueueOptions(), *args, **kwargs)

    def enqueue_with(self, options: EnqueueOptions, *args: P.args, **kwargs: P.kwargs) -> Job:
        """``enqueue`` with a dedupe key (unique among all jobs) or a start delay."""
        dedupe_key, delay = options.dedupe_key, options.delay
        if args:
            raise TypeError("job arguments are keyword-only (they are stored as JSON)")
        self._signature.bind(None, **kwargs)  # fail now, in the caller, on a wrong argument
        from oja.core.runtime import get_runtime

        settings = get_runtime().settings
        session = current_session()
        now = utcnow()
        subject_type, subject_id = None, None
        if self.subject is not None:
            subject_type, key = self.subject
            subject_id = str(kwargs[key])
        row = Job(
            id=uuid7(),
            kind=self.kind,
            payload=jsonable_encoder(kwargs),
            status=JobStatus.queued,
            attempts=0,
            max_attempts=self.max_attempts or settings.queue.job_max_attempts,
            progress=0,
            subject_type=subject_type,
            subject_id=subject_id,
            dedupe_key=dedupe_key,
            run_after=now + (delay or timedelta()),
            published_at=now,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        _schedule_publication(session, self, row.id, delay)
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
    definition = registry.get(failure.kind)
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


_PENDING = "oja.jobs.pending"


def _schedule_publication(
    session: AsyncSession,
    definition: JobDefinition[Any],
    job_id: uuid.UUID,
    delay: timedelta | None,
) -> None:
    pending: list[tuple[str, uuid.UUID, float]] | None = session.info.get(_PENDING)
    if pending is None:
        pending = []
        session.info[_PENDING] = pending

        async def publish_all() -> None:
            from oja.core.jobs.publisher import publish

            batch = session.info.pop(_PENDING, [])
            for task_name, pending_id, countdown in batch:
                await publish(task_name, pending_id, countdown=countdown)

        after_commit(session, publish_all)
    pending.append((definition.task_name, job_id, delay.total_seconds() if delay else 0.0))


class Registry:
    def __init__(self) -> None:
        self._definitions: dict[str, JobDefinition[Any]] = {}

    def add(self, definition: JobDefinition[Any]) -> None:
        existing = self._definitions.get(definition.kind)
        if existing is not None and existing.func is not definition.func:
            raise ValueError(f"job kind {definition.kind!r} is declared twice")
        self._definitions[definition.kind] = definition

    def get(self, kind: str) -> JobDefinition[Any] | None:
        return self._definitions.get(kind)

    def all(self) -> list[JobDefinition[Any]]:
        return list(self._definitions.values())


registry = Registry()


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
    per interval however many beats run.
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
        registry.add(definition)
        return definition

    return wrap
