"""The job core end to end: a real worker process, a real broker, a real database.

Brokers: the filesystem (embedded default) always; Redis and RabbitMQ when their URLs are set.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from oja.core.config import Settings
from oja.core.db import unit_of_work
from oja.core.jobs import Job, JobStatus
from oja.core.runtime import Runtime
from tests.conftest import celery_runtime, make_settings, service_url
from tests.core import job_fixtures
from tests.core.job_fixtures import job_effect, linger, metadata, record_effect
from tests.processes import running

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(
    params=[
        "filesystem",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("rabbitmq", marks=pytest.mark.rabbitmq),
    ]
)
def broker_url(request: pytest.FixtureRequest) -> str:
    if request.param == "filesystem":
        return "filesystem://"
    url = service_url(request.param)
    if request.param == "redis":
        # A database of its own, emptied, so no other run's messages are in the way.
        import redis

        url = url.rsplit("/", 1)[0] + "/13"
        redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
async def runtime(tmp_path: Path, database_url: str, broker_url: str) -> AsyncIterator[Runtime]:
    settings = make_settings(tmp_path, database_url, broker_url=broker_url)
    runtime = celery_runtime(settings, job_fixtures.registry())
    async with runtime.database.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    yield runtime
    async with runtime.database.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
    await runtime.close()


def worker_env(settings: Settings, broker_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "OJA_ENV": "test",
        "OJA_SECRET_KEY": settings.secret_key,
        "OJA_VAR_DIR": str(settings.app.var_dir),
        "OJA_DATABASE_URL": settings.database_url,
        "OJA_BROKER_URL": broker_url,
        "OJA_WORKER_IMPORTS": json.dumps(["tests.core.job_fixtures"]),
        "OJA_SWEEPER_INTERVAL": "0.5",
        "OJA_JOB_REQUEUE_AFTER": "1",
        "OJA_JOB_LEASE_GRACE": "1",
        "OJA_JOB_RETRY_BASE_DELAY": "0.1",
        "PYTHONPATH": str(REPO),
    }


@contextmanager
def worker(settings: Settings, broker_url: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    argv = ["oja.cli", "worker", "--concurrency", "1", "--beat"]
    with running(argv, worker_env(settings, broker_url), log) as process:
        yield process


async def wait_for_status(
    runtime: Runtime, job_id: uuid.UUID, statuses: set[str], timeout: float = 45.0
) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with runtime.database.sessionmaker() as session:
            row = await session.get(Job, job_id)
            if row is not None and row.status in statuses:
                return row
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} never reached {statuses}")


async def effects(runtime: Runtime) -> list[tuple[str, int]]:
    async with runtime.database.engine.connect() as conn:
        rows = await conn.execute(select(job_effect.c.label, job_effect.c.attempt))
        return sorted((r.label, r.attempt) for r in rows)


async def test_committed_jobs_run_exactly_once_through_the_broker(
    runtime: Runtime, broker_url: str, tmp_path: Path
) -> None:
    async with unit_of_work(runtime.database) as session:
        jobs = [record_effect.enqueue(session, label=f"job-{i}") for i in range(5)]
        flaky = record_effect.enqueue(session, label="flaky", fail_times=1)
    with worker(runtime.settings, broker_url, tmp_path / "worker.log"):
        for row in [*jobs, flaky]:
            done = await wait_for_status(runtime, row.id, {JobStatus.succeeded, JobStatus.failed})
            assert done.status == JobStatus.succeeded, (tmp_path / "worker.log").read_text()[-3000:]
    assert await effects(runtime) == sorted([(f"job-{i}", 1) for i in range(5)] + [("flaky", 2)])


async def test_a_worker_killed_mid_job_loses_nothing_and_applies_the_effect_once(
    runtime: Runtime, broker_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    async with unit_of_work(runtime.database) as session:
        row = linger.enqueue(session, label="survivor", seconds=1.5)
    with worker(runtime.settings, broker_url, log) as first:
        await wait_for_status(runtime, row.id, {JobStatus.running})
        await asyncio.sleep(0.5)  # inside the job, its effect written but not committed
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert await effects(runtime) == []
    with worker(runtime.settings, broker_url, log):
        done = await wait_for_status(runtime, row.id, {JobStatus.succeeded, JobStatus.failed})
    assert done.status == JobStatus.succeeded, log.read_text()[-3000:]
    assert done.attempts == 2
    assert await effects(runtime) == [("survivor", 2)]


async def test_a_job_accepted_while_the_broker_is_down_runs_when_it_is_back(
    tmp_path: Path, database_url: str, broker_url: str
) -> None:
    # The API side publishes to a broker that is down …
    down = make_settings(tmp_path, database_url, broker_url="redis://127.0.0.1:1/0")
    runtime = celery_runtime(down, job_fixtures.registry())
    try:
        async with runtime.database.engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)
            await conn.run_sync(metadata.create_all)
        async with unit_of_work(runtime.database) as session:  # the request still succeeds
            row = record_effect.enqueue(session, label="patient")
        async with runtime.database.sessionmaker() as session:
            stored = await session.get(Job, row.id)
            assert stored is not None
            assert stored.status == JobStatus.queued
        # … then a worker on a broker that is up: its sweeper finds the job and publishes it.
        with worker(down, broker_url, tmp_path / "worker.log"):
            done = await wait_for_status(runtime, row.id, {JobStatus.succeeded, JobStatus.failed})
        assert done.status == JobStatus.succeeded
        assert await effects(runtime) == [("patient", 1)]
        async with runtime.database.engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)
    finally:
        await runtime.close()
