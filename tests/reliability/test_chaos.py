"""Chaos on real processes: a worker SIGKILLed at random points while jobs run, on PostgreSQL and
Redis. Every job finishes, its effect is recorded exactly once, and ``oja.reconcile`` agrees.

Runs: ``OJA_CHAOS_RUNS`` (3 in CI, 20 under ``OJA_SOAK=1``).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from oja.core.db import unit_of_work
from oja.core.jobs import JobStatus
from oja.core.runtime import Runtime
from oja.reconcile import run as reconcile
from tests.conftest import celery_runtime, make_settings, spare_redis_url
from tests.core import job_fixtures
from tests.core.job_fixtures import job_effect, linger, metadata
from tests.core.test_worker import wait_for_status, worker
from tests.reliability.harness import env_int

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]
RUNS = env_int("OJA_CHAOS_RUNS", ci=3, soak=20)
JOBS_PER_RUN = 4


@pytest.fixture
def redis_broker() -> str:
    import redis

    url = spare_redis_url()
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
async def runtime(
    tmp_path: Path, postgres_database: str, redis_broker: str
) -> AsyncIterator[Runtime]:
    from tests.conftest import _truncate_all

    await _truncate_all(postgres_database)
    settings = make_settings(tmp_path, postgres_database, broker_url=redis_broker)
    runtime = celery_runtime(settings, job_fixtures.registry())
    async with runtime.database.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    yield runtime
    async with runtime.database.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
    await runtime.close()


async def test_worker_killed_at_random_points_loses_nothing_and_applies_once(
    runtime: Runtime, redis_broker: str, tmp_path: Path
) -> None:
    rng = random.Random(os.environ.get("OJA_CHAOS_SEED", "oja"))
    log = tmp_path / "worker.log"
    labels: list[str] = []
    for run in range(RUNS):
        async with unit_of_work(runtime.database) as session:
            rows = [
                linger.enqueue(session, label=f"run{run}-job{i}", seconds=rng.uniform(0.3, 1.5))
                for i in range(JOBS_PER_RUN)
            ]
        labels += [f"run{run}-job{i}" for i in range(JOBS_PER_RUN)]
        with worker(runtime.settings, redis_broker, log) as victim:
            await wait_for_status(runtime, rows[0].id, {JobStatus.running, JobStatus.succeeded})
            await asyncio.sleep(rng.uniform(0.0, 2.0))  # anywhere: mid-job, between jobs, idle
            os.killpg(victim.pid, signal.SIGKILL)
            victim.wait()
        with worker(runtime.settings, redis_broker, log):
            for row in rows:
                done = await wait_for_status(
                    runtime, row.id, {JobStatus.succeeded, JobStatus.failed}, timeout=60
                )
                assert done.status == JobStatus.succeeded, log.read_text()[-3000:]
    async with runtime.database.engine.connect() as conn:
        applied = Counter((await conn.execute(select(job_effect.c.label))).scalars())
    assert applied == Counter(labels), "every job's effect recorded exactly once"
    report = await reconcile(runtime, stale_after=0)
    print(f"\nchaos: {RUNS} SIGKILL runs, {len(labels)} jobs\n{report.table()}")
    assert report.ok, report.table()
