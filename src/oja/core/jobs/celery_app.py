"""The Celery adapter: broker by URL, one task per registered job kind, the sweeper on beat.

It depends on the job kernel, never the reverse: :class:`CeleryPublisher` is one implementation of
the outbox's :class:`~oja.core.jobs.outbox.Publisher` port, and :func:`register_tasks` turns a
:class:`~oja.core.jobs.definition.Registry` into tasks. Which runtime a task runs with is the caller's
business (``run_in_process``): the worker composition root (:mod:`oja.worker`) owns it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from celery import Celery

from oja.core.config import Settings
from oja.core.jobs.definition import Registry
from oja.core.jobs.fsbroker import TRANSPORT
from oja.core.jobs.outbox import Message, PublishThread
from oja.core.jobs.periodic import enqueue_periodic
from oja.core.jobs.runner import execute
from oja.core.jobs.sweeper import sweep
from oja.core.runtime import Runtime

SWEEP_TASK = "oja.core.jobs.sweep"
PERIODIC_TASK = "oja.core.jobs.periodic"
FILESYSTEM_TRANSPORT = TRANSPORT
"""Module-level so that the benchmark can put kombu's own transport back for its "before" row."""


def broker_options(settings: Settings) -> dict[str, Any]:
    url = settings.broker_url
    if url.startswith("filesystem://"):
        folder = settings.queue_dir
        (folder / "messages").mkdir(parents=True, exist_ok=True)
        (folder / "processed").mkdir(parents=True, exist_ok=True)
        return {
            "data_folder_in": str(folder / "messages"),
            "data_folder_out": str(folder / "messages"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "claimed_folder": str(folder / "claimed"),
            "corrupt_folder": str(folder / "corrupt"),
            "store_processed": False,
            "polling_interval": settings.queue.broker_polling_interval,
        }
    if url.startswith(("redis://", "rediss://")):
        # Redis redelivers an unacked message only after this; it must exceed the longest job.
        return {"visibility_timeout": 4 * 3600, "socket_connect_timeout": 2}
    return {}


def broker_transport(settings: Settings) -> str | None:
    """The transport class for the broker URL: Oja's own for ``filesystem://`` (see fsbroker)."""
    return FILESYSTEM_TRANSPORT if settings.broker_url.startswith("filesystem://") else None


def create_celery(settings: Settings) -> Celery:
    app = Celery("oja", broker=settings.broker_url, set_as_current=False)
    filesystem = settings.broker_url.startswith("filesystem://")
    app.conf.update(
        broker_transport=broker_transport(settings),
        broker_transport_options=broker_options(settings),
        broker_connection_timeout=2,
        broker_connection_retry_on_startup=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        task_ignore_result=True,
        task_default_queue="default",
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_enable_remote_control=not filesystem,
        worker_send_task_events=False,
        broker_heartbeat=0 if filesystem else 10,
        beat_schedule={
            "oja-sweep": {"task": SWEEP_TASK, "schedule": settings.queue.sweeper_interval}
        },
        # In-memory schedule: the sweeper's interval is all there is to remember, and the default
        # shelve file is corrupted by a SIGKILL and then stops beat from starting.
        beat_scheduler="celery.beat:Scheduler",
        timezone="UTC",
    )
    return app


class CeleryPublisher:
    """The outbox's publisher on a Celery app: ``send_task`` by name, off the event loop (kombu
    blocks) — awaited on a thread-pool thread, or handed to this publisher's one sending thread
    without waiting (after a commit: see :mod:`oja.core.jobs.outbox`)."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self.thread = PublishThread(self.send_batch)

    async def __call__(self, task_name: str, job_id: uuid.UUID, countdown: float) -> None:
        await asyncio.to_thread(self.send, task_name, job_id, countdown)

    def hand_off(self, task_name: str, job_id: uuid.UUID, countdown: float) -> None:
        self.thread.hand_off(task_name, job_id, countdown)

    def send(self, task_name: str, job_id: uuid.UUID, countdown: float = 0.0) -> None:
        self.send_batch([(task_name, job_id, countdown)])

    def send_batch(self, messages: list[Message]) -> None:
        """``messages`` through one producer (one broker connection checkout for the batch)."""
        with self.app.producer_or_acquire() as producer:
            for task_name, job_id, countdown in messages:
                self.app.send_task(
                    task_name,
                    args=[str(job_id)],
                    countdown=countdown or None,
                    retry=False,
                    ignore_result=True,
                    producer=producer,
                )


Work = Callable[[Runtime], Awaitable[Any]]
RunInProcess = Callable[[Work], Any]
"""Runs ``work`` to completion with this worker process's runtime (see :mod:`oja.worker`)."""


def _job_task(kind: str, run_in_process: RunInProcess) -> Callable[[str], None]:
    """The task body of one kind: its claim knows the kind, so it needs no read to find it."""

    def run_job(job_id: str) -> None:
        run_in_process(lambda runtime: execute(job_id, runtime, kind))

    return run_job


def register_tasks(
    app: Celery, registry: Registry, default_timeout: float, run_in_process: RunInProcess
) -> None:
    """One Celery task per registered job kind, each with its own hard time limit; the sweeper
    and the periodic kinds on beat's schedule."""
    for definition in registry.all():
        timeout = definition.timeout or default_timeout

        app.task(
            name=definition.task_name,
            time_limit=int(timeout) + 60,  # backstop: the runner's own timeout fires first
            acks_late=True,
            reject_on_worker_lost=True,
            ignore_result=True,
        )(_job_task(definition.kind, run_in_process))

    @app.task(name=SWEEP_TASK, ignore_result=True, time_limit=120)
    def sweep_task() -> None:
        run_in_process(sweep)

    @app.task(name=PERIODIC_TASK, ignore_result=True, time_limit=60)
    def periodic_task(kind: str) -> None:
        run_in_process(lambda runtime: enqueue_periodic(runtime, kind))

    for definition in registry.all():
        if definition.periodic:
            app.conf.beat_schedule[f"oja-periodic-{definition.kind}"] = {
                "task": PERIODIC_TASK,
                "schedule": definition.periodic,
                "args": [definition.kind],
            }
