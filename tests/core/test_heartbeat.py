"""The worker heartbeat in /readyz (only when a worker is required) and in /metrics."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from oja.core.jobs.heartbeat import REDIS_KEY, beat_once, heartbeat_age, heartbeat_path, last_beat
from oja.core.runtime import Runtime
from oja.main import create_app
from tests.conftest import make_settings, spare_redis_url


@pytest.fixture
async def required(tmp_path: Path, database_url: str) -> AsyncIterator[Any]:
    """An app whose readiness requires a worker, started a minute ago."""
    app = create_app(
        make_settings(
            tmp_path, database_url, worker_heartbeat_required=True, worker_heartbeat_max_age=15
        )
    )
    app.state.runtime.started_at = time.time() - 60
    yield app
    await app.state.runtime.close()


async def get(app: Any, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path)


def test_age_counts_from_the_newest_of_the_beat_and_the_api_start() -> None:
    assert heartbeat_age(None, now=100.0, since=90.0) == 10.0
    assert heartbeat_age(95.0, now=100.0, since=90.0) == 5.0
    assert heartbeat_age(50.0, now=100.0, since=90.0) == 10.0


async def test_readiness_is_ok_with_a_fresh_heartbeat(required: Any) -> None:
    beat_once(required.state.runtime.settings)
    response = await get(required, "/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "storage": "ok", "worker": "ok"},
        "down": [],
    }


async def test_readiness_names_the_worker_when_its_heartbeat_is_stale(required: Any) -> None:
    beat_once(required.state.runtime.settings, now=time.time() - 30)
    response = await get(required, "/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "down",
        "checks": {
            "database": "ok",
            "broker": "ok",
            "storage": "ok",
            "worker": "down: WorkerStale",
        },
        "down": ["worker"],
    }


async def test_readiness_names_the_worker_that_never_beat(required: Any) -> None:
    response = await get(required, "/readyz")
    assert response.status_code == 503
    assert response.json()["down"] == ["worker"]
    assert not heartbeat_path(required.state.runtime.settings).exists()


async def test_an_api_without_a_required_worker_ignores_a_stale_heartbeat(
    client: httpx.AsyncClient, settings: Any
) -> None:
    beat_once(settings, now=time.time() - 3600)
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert "worker" not in response.json()["checks"]


async def test_metrics_show_the_heartbeat_age(client: httpx.AsyncClient, settings: Any) -> None:
    assert "oja_worker_heartbeat_age_seconds NaN" in (await client.get("/metrics")).text
    beat_once(settings, now=time.time() - 1000)
    text = (await client.get("/metrics")).text
    [line] = [x for x in text.splitlines() if x.startswith("oja_worker_heartbeat_age_seconds ")]
    assert 1000 <= float(line.split()[1]) < 1100


async def test_with_redis_the_heartbeat_is_read_from_redis(
    tmp_path: Path, database_url: str
) -> None:
    url = spare_redis_url()
    redis.Redis.from_url(url).delete(REDIS_KEY)
    settings = make_settings(tmp_path, database_url, redis_url=url)
    beat_once(settings, now=12345.5)
    heartbeat_path(settings).unlink()  # only Redis knows now
    runtime = Runtime.create(settings)
    try:
        assert await last_beat(runtime) == 12345.5
    finally:
        await runtime.close()
    assert 0 < redis.Redis.from_url(url).pttl(REDIS_KEY) <= 15_000  # OJA_WORKER_HEARTBEAT_MAX_AGE
