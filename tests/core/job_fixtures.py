"""Job kinds used by the job tests; a worker subprocess imports this via OJA_WORKER_IMPORTS.

``tests.effect`` records one row per successful run in ``job_effect`` (a table of the tests' own, in its
own metadata), inside the job's transaction, so the tests can count how often the effect happened.

``tests.hooked`` stands for a feature job: it moves a ``job_subject`` row to ``processing`` (in a
short transaction of its own, as the files pipeline does), and its failure hook moves the row to
``failed``, counting its calls in the row and its after-commit follow-ups in :data:`FOLLOW_UPS`.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import Literal

from sqlalchemy import Column, Integer, MetaData, String, Table, Uuid, insert, update

from oja.core.db import own_transaction
from oja.core.jobs import Job, JobContext, JobFailure, PermanentJobError, Registry, job

metadata = MetaData()
job_effect = Table(
    "job_effect",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Uuid, nullable=False),
    Column("label", String(100), nullable=False),
    Column("attempt", Integer, nullable=False),
)

FAILURES: dict[str, int] = {}


@job("tests.effect", timeout=20, max_attempts=3)
async def record_effect(
    ctx: JobContext, *, label: str, sleep_after: float = 0.0, fail_times: int = 0
) -> dict[str, str]:
    """Insert the effect, then optionally linger (a SIGKILL then loses the uncommitted effect)."""
    await ctx.session.execute(
        insert(job_effect).values(job_id=ctx.job_id, label=label, attempt=ctx.attempt)
    )
    await ctx.session.flush()
    if ctx.attempt <= fail_times:
        raise RuntimeError(f"planned failure {ctx.attempt}")
    if sleep_after:
        await ctx.progress(50, "lingering")
        await asyncio.sleep(sleep_after)
    return {"label": label}


@job("tests.quiet", timeout=20, max_attempts=2)
async def quiet(ctx: JobContext, *, steal: bool = False) -> dict[str, bool]:
    """Writes nothing in its own session (its mark is then one statement of its own); with
    ``steal``, another attempt takes the job over while it runs, as a sweeper's re-run would."""
    if steal:
        async with ctx.runtime.database.autocommit_engine.connect() as connection:
            await connection.execute(
                update(Job).where(Job.id == ctx.job_id).values(attempts=Job.attempts + 1)
            )
    return {"steal": steal}


@job("tests.permanent", max_attempts=5)
async def always_permanent(ctx: JobContext, *, reason: str) -> None:
    raise PermanentJobError(reason)


@job("tests.slow", timeout=0.2, max_attempts=1)
async def too_slow(ctx: JobContext, *, subject_id: uuid.UUID) -> None:
    await asyncio.sleep(5)


@job("tests.linger", timeout=4, max_attempts=3)
async def linger(ctx: JobContext, *, label: str, seconds: float) -> None:
    """Record the effect, then stay busy long enough to be killed mid-job."""
    await ctx.session.execute(
        insert(job_effect).values(job_id=ctx.job_id, label=label, attempt=ctx.attempt)
    )
    await ctx.session.flush()
    await asyncio.sleep(seconds)


job_subject = Table(
    "job_subject",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("error", String(500)),
    Column("hook_calls", Integer, nullable=False, default=0),
)

FOLLOW_UPS: list[uuid.UUID] = []
"""Job ids whose hook's after-commit follow-up ran, in order."""

Outcome = Literal["succeed", "raise", "permanent"]


@job("tests.hooked", timeout=20, max_attempts=2)
async def hooked(
    ctx: JobContext,
    *,
    subject_id: uuid.UUID,
    outcome: Outcome = "succeed",
    hook_raises: bool = False,
) -> None:
    async with own_transaction(ctx.runtime.database) as session:
        await session.execute(
            update(job_subject).where(job_subject.c.id == subject_id).values(status="processing")
        )
    if outcome == "raise":
        raise RuntimeError(f"planned failure {ctx.attempt}")
    if outcome == "permanent":
        raise PermanentJobError("bad input")
    await ctx.session.execute(
        update(job_subject).where(job_subject.c.id == subject_id).values(status="done")
    )


@hooked.on_failure
async def hooked_failed(
    failure: JobFailure,
    *,
    subject_id: uuid.UUID,
    outcome: Outcome = "succeed",
    hook_raises: bool = False,
) -> None:
    """Counts every call (no state check, so a second call would show); ``subject_id`` arrives as a
    UUID — a string would not bind to the Uuid column on SQLite."""
    await failure.session.execute(
        update(job_subject)
        .where(job_subject.c.id == subject_id)
        .values(
            status="failed",
            error=failure.error,
            hook_calls=job_subject.c.hook_calls + 1,
        )
    )
    job_id = failure.job_id

    async def follow_up() -> None:
        FOLLOW_UPS.append(job_id)

    failure.after_commit(follow_up)
    if hook_raises:
        raise RuntimeError("the hook itself failed")


def registry() -> Registry:
    """The test kinds and the built-in ones, as a composition root would register them."""
    from oja.core.jobs import builtin

    kinds = Registry()
    for module in (builtin, sys.modules[__name__]):
        kinds.add_module(module)
    return kinds
