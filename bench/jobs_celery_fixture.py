"""The raw Celery baseline of ``bench/jobs.py``: a no-op task on the same Redis broker, no job table.

The benchmark runs ``celery -A bench.jobs_celery_fixture worker --concurrency 2`` with
``BENCH_BROKER_URL`` (the same Redis as Oja's row) and ``BENCH_SAFE``: ``1`` gives the task Oja's
delivery settings (``acks_late``, ``reject_on_worker_lost``, prefetch 1), ``0`` Celery's defaults
(acknowledged on receipt, prefetch 4). No result backend: each task appends the time it finished
(``time.time()``, after its start) to the Redis list ``BENCH_DONE_KEY``, which is how the producer
knows when a batch is done and what each task's enqueue → start and → done latencies were —
the smallest write a task can make to say "done", where Oja's marks its job row.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":  # `make bench` runs every file in bench/; this one is imported, not run.
    print("bench/jobs_celery_fixture.py is the raw Celery app of bench/jobs.py; nothing to run")
    sys.exit(0)

import json
import os
import time

import redis
from celery import Celery

BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/15")
DONE_KEY = os.environ.get("BENCH_DONE_KEY", "bench:celery:done")
SAFE = os.environ.get("BENCH_SAFE", "1") == "1"
QUEUE = "bench-raw"

app = Celery("bench_raw", broker=BROKER_URL, set_as_current=False)
app.conf.update(
    task_default_queue=QUEUE,
    task_ignore_result=True,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    broker_transport_options={"visibility_timeout": 4 * 3600},
)
if SAFE:
    app.conf.update(
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1
    )

_client: redis.Redis | None = None


@app.task(name="bench.raw_noop", ignore_result=True)
def raw_noop(sent_at: float) -> None:
    """Nothing, then one RPUSH of (sent, started, finished) so the producer can time it."""
    global _client
    started = time.time()
    if _client is None:
        _client = redis.Redis.from_url(BROKER_URL)
    _client.rpush(DONE_KEY, json.dumps([sent_at, started, time.time()]))
