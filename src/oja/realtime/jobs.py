"""Realtime jobs: push what an after-commit push missed, and prune the history."""

from __future__ import annotations

from typing import Any

from oja.core.jobs.definition import JobContext, job

# The service (and the identity tokens it checks) is imported by the jobs that run it: a worker
# process that runs neither does not load it (tests/test_process_imports.py).


@job("realtime.drain", timeout=60, periodic=15.0)  # service.DRAIN_KIND (asserted in a test)
async def drain(ctx: JobContext) -> dict[str, Any]:
    """Push events committed but never pushed (the process died, Redis was down) once they are
    ``OJA_REALTIME_DRAIN_AFTER`` seconds old. Every 15 s, and after an after-commit push
    that failed; idempotent (a pushed row is marked in the same transaction)."""
    from oja.realtime import service

    return {"pushed": await service.drain(ctx.session, ctx.runtime)}


@job("realtime.prune", timeout=300, periodic=3600.0)
async def prune(ctx: JobContext) -> dict[str, Any]:
    """Delete events past ``OJA_REALTIME_HISTORY_HOURS`` and expired tickets."""
    from oja.realtime import service

    return await service.prune(ctx.session, ctx.runtime)
