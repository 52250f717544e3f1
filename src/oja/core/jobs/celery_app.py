"""The Celery application: broker by URL, one task per declared job kind, the sweeper on beat."""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

from celery import Celery, signals

from oja.core.config import Settings
from oja.core.jobs.definition import registry
from oja.core.jobs.fsbroker import TRANSPORT

_app: Celery | None = None
_loop: asyncio.AbstractEventLoop | None = None
SWEEP_TASK = "oja.core.jobs.sweep"
PERIODIC_TASK = "oja.core.jobs.periodic"
CORE_JOB_MODULES = ["oja.core.jobs.builtin"]
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


def get_celery() -> Celery:
    global _app
    if _app is None:
        from oja.core.runtime import get_runtime

        _app = create_celery(get_runtime().settings)
    return _app


def reset_celery() -> None:
    global _app
    _app = None


def run_sync(coro: Any) -> Any:
    """Run a coroutine on this worker process's own event loop (one task at a time per process)."""
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
        asyncio.set_event_loop(_loop)
    return _loop.run_until_complete(coro)


def import_job_modules(extra: list[str]) -> None:
    for module in [*CORE_JOB_MODULES, *extra]:
        importlib.import_module(module)


def register_tasks(app: Celery, default_timeout: float) -> None:
    """One Celery task per declared job kind, each with its own hard time limit."""
    from oja.core.jobs.periodic import enqueue_periodic
    from oja.core.jobs.runner import execute
    from oja.core.jobs.sweeper import sweep

    for definition in registry.all():
        timeout = definition.timeout or default_timeout

        def run_job(job_id: str) -> None:
            run_sync(execute(job_id))

        app.task(
            name=definition.task_name,
            time_limit=int(timeout) + 60,  # backstop: the runner's own timeout fires first
            acks_late=True,
            reject_on_worker_lost=True,
            ignore_result=True,
        )(run_job)

    @app.task(name=SWEEP_TASK, ignore_result=True, time_limit=120)
    def sweep_task() -> None:
        run_sync(sweep())

    @app.task(name=PERIODIC_TASK, ignore_result=True, time_limit=60)
    def periodic_task(kind: str) -> None:
        run_sync(enqueue_periodic(kind))

    for definition in registry.all():
        if definition.periodic:
            app.conf.beat_schedule[f"oja-periodic-{definition.kind}"] = {
                "task": PERIODIC_TASK,
                "schedule": definition.periodic,
                "args": [definition.kind],
            }


@signals.worker_process_init.connect
def _fresh_runtime_after_fork(**_: Any) -> None:
    # Engines, pools and sockets inherited from the parent are unusable in a forked child.
    global _loop
    from oja.core.runtime import get_runtime, set_runtime

    _loop = None
    settings = get_runtime().settings
    from oja.core.runtime import Runtime

    set_runtime(Runtime.create(settings))


@signals.setup_logging.connect
def _setup_logging(**_: Any) -> None:
    # Connecting this signal stops Celery from installing its own handlers: one JSON format everywhere.
    from oja.core.logging import configure_logging
    from oja.core.runtime import get_runtime

    settings = get_runtime().settings
    configure_logging(settings.app.log_level, json=settings.app.log_json)
