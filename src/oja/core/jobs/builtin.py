"""Jobs the kernel itself declares."""

from __future__ import annotations

from typing import Any

from oja.core.jobs.definition import JobContext, job


@job("core.ping", timeout=10, max_attempts=1)
async def ping(ctx: JobContext, *, note: str = "") -> dict[str, Any]:
    """A no-op round trip through the broker and a worker: readiness probes and benchmarks."""
    return {"pong": True, "note": note}
