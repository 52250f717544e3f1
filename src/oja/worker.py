"""The worker's composition root: the Celery app the worker and beat processes run
(``celery -A oja.worker worker``, ``oja worker``, ``oja beat``).

Importing this module registers every job kind (:mod:`oja.job_modules`, then the modules named by
``OJA_WORKER_IMPORTS``, in that order: a benchmark's may replace the broker transport) and builds the
Celery app with one task per kind. Each task runs with its worker process's runtime.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from celery import signals

from oja.core.config import get_settings
from oja.core.jobs.celery_app import CeleryPublisher, Work, create_celery, register_tasks
from oja.core.logging import configure_logging
from oja.core.runtime import Runtime
from oja.job_modules import job_registry

settings = get_settings()
registry = job_registry(settings.queue.worker_imports)
settings.load_sections()  # the feature sections just imported: an invalid value stops the start
app = create_celery(settings)
publisher = CeleryPublisher(app)


@dataclass
class _WorkerProcess:
    """What one worker process keeps between tasks: its runtime and the event loop it runs on."""

    runtime: Runtime
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)


_process: _WorkerProcess | None = None
"""The one process global of the job machinery, and why it must be one: Celery calls a task by name
in a forked child, with nothing but the task's arguments, so the child's runtime cannot be passed in.
It is made on the child's first task, never inherited across a fork (engines, pools and sockets do
not survive one), and dropped by :func:`_forget_parents_process` when a pool process starts."""


def run_in_process(work: Work) -> Any:
    """Run ``work`` to completion with this process's runtime, on its own event loop (one task at a
    time per process)."""
    global _process
    if _process is None or _process.loop.is_closed():
        _process = _WorkerProcess(Runtime.create(settings, registry=registry, publisher=publisher))
        asyncio.set_event_loop(_process.loop)
    return _process.loop.run_until_complete(work(_process.runtime))


register_tasks(app, registry, settings.queue.job_default_timeout, run_in_process)


@signals.worker_process_init.connect
def _forget_parents_process(**_: Any) -> None:
    global _process
    _process = None


@signals.setup_logging.connect
def _setup_logging(**_: Any) -> None:
    # Connecting this signal stops Celery from installing its own handlers: one JSON format everywhere.
    configure_logging(settings.app.log_level, json=settings.app.log_json)
