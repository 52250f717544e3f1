"""The worker's heartbeat: a timestamp a consuming worker renews every few seconds.

Written to ``OJA_VAR_DIR/worker.heartbeat`` (the embedded case: ``oja serve`` and its worker share the
folder) and, when ``OJA_REDIS_URL`` is set, to a Redis key every API replica can read. The beat starts
when Celery reports the worker ready (connected and consuming) and stops with the worker process, so a
worker that died — or never got going — stops renewing it. Any worker's beat counts: the question the
API asks is "is something consuming my jobs", not "which worker".
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

import structlog

from oja.core.config import Settings
from oja.core.runtime import Runtime

log = structlog.get_logger("oja.jobs")

REDIS_KEY = "oja:worker:heartbeat"


class WorkerStale(Exception):
    """No worker heartbeat fresher than ``OJA_WORKER_HEARTBEAT_MAX_AGE``."""


def heartbeat_path(settings: Settings) -> Path:
    return settings.app.var_dir / "worker.heartbeat"


def beat_once(settings: Settings, now: float | None = None) -> None:
    """Record ``now`` (written to a temporary file and renamed, so a reader never sees half)."""
    stamp = f"{time.time() if now is None else now:.3f}"
    path = heartbeat_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(stamp)
    os.replace(temporary, path)
    if settings.redis.redis_url:
        import redis

        client = redis.Redis.from_url(
            settings.redis.redis_url, socket_connect_timeout=2, socket_timeout=2
        )
        try:
            client.set(REDIS_KEY, stamp, ex=max(1, round(settings.queue.worker_heartbeat_max_age)))
        finally:
            client.close()


def start_beating(settings: Settings) -> threading.Event:
    """Beat every ``OJA_WORKER_HEARTBEAT_INTERVAL`` seconds on a daemon thread until the returned
    event is set (or the process ends)."""
    stop = threading.Event()

    def loop() -> None:
        while True:
            try:
                beat_once(settings)
            except Exception as exc:  # a missed beat shows as a stale heartbeat, not a dead worker
                log.warning("jobs.heartbeat.failed", error=repr(exc)[:200])
            if stop.wait(settings.queue.worker_heartbeat_interval):
                return

    threading.Thread(target=loop, name="oja-heartbeat", daemon=True).start()
    return stop


async def last_beat(runtime: Runtime) -> float | None:
    """The newest heartbeat's Unix time, or None when no worker ever beat."""
    if runtime.redis is not None:
        with contextlib.suppress(Exception):  # Redis down: its own readiness check says so
            value = await runtime.redis.get(REDIS_KEY)
            if value is not None:
                return float(value)
    try:
        return float(heartbeat_path(runtime.settings).read_text())
    except (OSError, ValueError):
        return None


def heartbeat_age(beat: float | None, *, now: float, since: float) -> float:
    """Seconds without a heartbeat, counted from ``since`` (when the API started) at the latest, so a
    worker starting beside a fresh API — or an old heartbeat file left by a previous run — gets the
    full ``max_age`` to show up."""
    return now - max(beat or 0.0, since)


async def check_worker(runtime: Runtime) -> None:
    """The readiness check: raises :class:`WorkerStale` when no worker beat recently enough."""
    age = heartbeat_age(await last_beat(runtime), now=time.time(), since=runtime.started_at)
    if age > runtime.settings.queue.worker_heartbeat_max_age:
        raise WorkerStale(f"no worker heartbeat for {age:.0f} s")
