"""The runner's lane (``runner._Lane``): the claim and the lone mark of job after job on one
connection of its own, never one of the pool's; closed with the runtime; a connection the server
dropped is replaced without losing the job or running it twice."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, select

from oja.core.db import unit_of_work
from oja.core.jobs import Job, JobStatus, runner
from oja.core.jobs.runner import execute
from oja.core.runtime import Runtime
from tests.conftest import make_settings
from tests.core import job_fixtures
from tests.core.job_fixtures import job_effect, metadata, quiet, record_effect

pytestmark = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


async def _capture(task_name: str, job_id: uuid.UUID, countdown: float) -> None:
    pass


async def _runtime(tmp_path: Path, database_url: str, **overrides: Any) -> Runtime:
    settings = make_settings(tmp_path, database_url, **overrides)
    runtime = Runtime.create(settings, registry=job_fixtures.registry(), publisher=_capture)
    async with runtime.database.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    return runtime


@pytest.fixture
async def runtime(tmp_path: Path, database_url: str) -> AsyncIterator[Runtime]:
    runtime = await _runtime(tmp_path, database_url)
    yield runtime
    async with runtime.database.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
    await runtime.close()


async def _enqueue(runtime: Runtime, count: int, **arguments: Any) -> list[uuid.UUID]:
    ids = []
    for _ in range(count):
        async with unit_of_work(runtime.database) as session:
            ids.append(quiet.enqueue(session, **arguments).id)
    return ids


async def _rows(runtime: Runtime, ids: list[uuid.UUID]) -> list[tuple[str, int]]:
    async with runtime.database.sessionmaker() as session:
        rows = await session.execute(
            select(Job.status, Job.attempts).where(Job.id.in_(ids)).order_by(Job.id)
        )
        return [(status, attempts) for status, attempts in rows.all()]


async def _lane_pid(runtime: Runtime) -> int:
    lane = runner._LANES[runtime.database]
    assert lane.fairy is not None
    connection = lane.fairy.dbapi_connection.driver_connection  # type: ignore[union-attr]
    return int(await connection.fetchval("SELECT pg_backend_pid()"))


def _connected(lane: runner._Lane) -> bool:
    return lane.fairy is not None or lane.engine is not None


async def test_the_bookkeeping_of_job_after_job_goes_on_the_lane_never_the_pool(
    runtime: Runtime,
) -> None:
    ids = await _enqueue(runtime, 3)
    checkouts: list[object] = []

    def checkout(*_: Any) -> None:
        checkouts.append(object())

    pool = runtime.database.engine.sync_engine.pool
    event.listen(pool, "checkout", checkout)
    try:
        assert [await execute(str(job_id), runtime, "tests.quiet") for job_id in ids] == [
            "succeeded"
        ] * 3
    finally:
        event.remove(pool, "checkout", checkout)
    assert checkouts == []  # quiet jobs: their sessions never needed a connection either
    assert await _rows(runtime, ids) == [(JobStatus.succeeded, 1)] * 3
    lane = runner._LANES[runtime.database]
    assert lane.engine is not None
    assert lane.engine.sync_engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    # The relaxed commit is the statement's own (SET LOCAL): the lane's connection keeps the
    # server's setting for whatever uses it after its hand-back.
    connection = lane.fairy.dbapi_connection.driver_connection  # type: ignore[union-attr]
    assert await connection.fetchval("SHOW synchronous_commit") == "on"
    assert await execute(str(ids[0]), runtime, "tests.quiet") == "not_claimed"


async def test_the_lane_is_closed_with_its_runtime(tmp_path: Path, database_url: str) -> None:
    runtime = await _runtime(tmp_path, database_url)
    (job_id,) = await _enqueue(runtime, 1)
    assert await execute(str(job_id), runtime, "tests.quiet") == "succeeded"
    lane = runner._LANES[runtime.database]
    assert _connected(lane)
    async with runtime.database.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
    await runtime.close()
    assert not _connected(lane)


@pytest.mark.parametrize("lane_seconds", [3600.0, 0.0], ids=["held", "checked-out-again"])
async def test_a_lane_connection_the_server_dropped_is_replaced_and_the_job_runs_once(
    runtime: Runtime, database_url: str, lane_seconds: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Held since the last job, or handed back and checked out again from the lane's pool (no
    pre-ping: the pool hands back the dead connection), the claim fails on it and is sent again on
    a new connection."""
    monkeypatch.setattr(runner, "LANE_SECONDS", lane_seconds)
    first, second, third = await _enqueue(runtime, 3)
    assert await execute(str(first), runtime, "tests.quiet") == "succeeded"
    pid = await _lane_pid(runtime)
    admin = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid) is True
        for _ in range(100):  # until the server has let the backend go
            if not await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid
            ):
                break
            await asyncio.sleep(0.05)
    finally:
        await admin.close()
    # The claim fails on the dead connection and is sent again on a new one: claimed once.
    assert await execute(str(second), runtime, "tests.quiet") == "succeeded"
    assert await _lane_pid(runtime) != pid
    assert await execute(str(third), runtime, "tests.quiet") == "succeeded"
    assert await _rows(runtime, [first, second, third]) == [(JobStatus.succeeded, 1)] * 3


async def test_the_lane_never_takes_the_connection_a_job_needs(
    tmp_path: Path, database_url: str
) -> None:
    """A worker with a pool of one connection: the lane's is its own, so the job's session (and
    its progress, in a transaction of its own) still get theirs."""
    runtime = await _runtime(tmp_path, database_url, database_pool_size=1, database_pool_timeout=2)
    try:
        async with unit_of_work(runtime.database) as session:
            writes = record_effect.enqueue(session, label="x").id
        (alone,) = await _enqueue(runtime, 1)
        assert await execute(str(writes), runtime, "tests.effect") == "succeeded"
        assert await execute(str(alone), runtime, "tests.quiet") == "succeeded"
        async with runtime.database.engine.connect() as conn:
            effects = (await conn.execute(select(job_effect.c.label))).scalars().all()
        assert effects == ["x"]
        assert await _rows(runtime, sorted([writes, alone])) == [(JobStatus.succeeded, 1)] * 2
    finally:
        async with runtime.database.engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)
        await runtime.close()


async def test_the_lane_hands_its_connection_back_after_its_time(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "LANE_SECONDS", 0.0)  # every statement checks out again
    ids = await _enqueue(runtime, 2)
    assert [await execute(str(job_id), runtime, "tests.quiet") for job_id in ids] == [
        "succeeded"
    ] * 2
    lane = runner._LANES[runtime.database]
    assert lane.engine is not None
    assert lane.engine.sync_engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    assert await _rows(runtime, ids) == [(JobStatus.succeeded, 1)] * 2
