"""Publishing job messages to the broker, after commit, without ever failing the caller.

A failed publish is logged and left to the sweeper: the job row is already committed as ``queued``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger("oja.jobs")

Publisher = Callable[[str, uuid.UUID, float], Awaitable[None]]
_override: Publisher | None = None


def set_publisher(publisher: Publisher | None) -> None:
    """Tests and benchmarks may route publications elsewhere (None restores Celery)."""
    global _override
    _override = publisher


def publish_sync(task_name: str, job_id: uuid.UUID, countdown: float = 0.0) -> None:
    from oja.core.jobs.celery_app import get_celery

    get_celery().send_task(
        task_name,
        args=[str(job_id)],
        countdown=countdown or None,
        retry=False,
        ignore_result=True,
    )


async def publish(task_name: str, job_id: uuid.UUID, *, countdown: float = 0.0) -> bool:
    try:
        if _override is not None:
            await _override(task_name, job_id, countdown)
        else:
            await asyncio.to_thread(publish_sync, task_name, job_id, countdown)
    except Exception as exc:
        log.warning(
            "jobs.publish.failed", task=task_name, job_id=str(job_id), error=repr(exc)[:200]
        )
        return False
    return True
