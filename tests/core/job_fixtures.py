"""Job kinds used by the job tests; a worker subprocess imports this via OJA_WORKER_IMPORTS.

``tests.effect`` records one row per successful run in ``job_effect`` (a table of the tests' own, in its
own metadata), inside the job's transaction, so the tests can count how often the effect happened.
"""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import Column, Integer, MetaData, String, Table, Uuid, insert

from oja.core.jobs import JobContext, PermanentJobError, job

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
