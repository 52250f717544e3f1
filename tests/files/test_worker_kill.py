"""A real worker process, SIGKILLed in the middle of processing: the file still ends processed,
by a second attempt, with each variant stored exactly once under its fixed key; killed on the last
attempt, the file ends failed with the reason (the sweeper fails the job, its hook the file)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from oja.core.config import Settings
from oja.core.db import own_transaction
from oja.core.jobs import Job
from oja.core.jobs.celery_app import CeleryPublisher, create_celery
from oja.core.jobs.sweeper import LEASE_EXPIRED
from oja.files.jobs import PROCESS_MAX_ATTEMPTS
from tests.conftest import Jobs
from tests.files import media
from tests.files.conftest import stored_keys, upload
from tests.processes import running

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


@contextmanager
def worker(settings: Settings, log: Path, marker: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "OJA_ENV": "test",
        "OJA_SECRET_KEY": settings.secret_key,
        "OJA_VAR_DIR": str(settings.app.var_dir),
        "OJA_DATABASE_URL": settings.database_url,
        "OJA_BROKER_URL": "filesystem://",
        "OJA_WORKER_IMPORTS": json.dumps(["tests.files.worker_stall"]),
        "OJA_SWEEPER_INTERVAL": "0.5",
        "OJA_JOB_REQUEUE_AFTER": "1",
        "OJA_JOB_LEASE_GRACE": "1",
        "OJA_FILE_PROCESS_TIMEOUT": "6",
        "OJA_FILE_STAGE_TIMEOUT": "5",
        "OJA_TEST_FILES_STALL_MARKER": str(marker),
        "PYTHONPATH": str(REPO),
    }
    with running(["oja.cli", "worker", "--concurrency", "1", "--beat"], env, log) as process:
        yield process


async def wait_for(predicate: Any, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} did not happen in {timeout:g} s\n{log.read_text()[-3000:]}")


async def test_a_worker_killed_mid_processing_loses_nothing(
    client: httpx.AsyncClient,
    app: Any,
    settings: Settings,
    user: dict[str, str],
    tmp_path: Path,
    jobs: Jobs,
) -> None:
    jobs.forward = CeleryPublisher(create_celery(settings))  # real publication, filesystem broker
    log, marker = tmp_path / "worker.log", tmp_path / "stalled"
    response = await upload(client, user, media.jpeg(4000, 3000), "photo.jpg")
    assert response.status_code == 201
    file_id = response.json()["id"]

    async def status() -> dict[str, Any]:
        return dict((await client.get(f"/files/{file_id}", headers=user)).json())

    with worker(settings, log, marker) as first:

        async def stalled() -> bool:
            return marker.exists()

        await wait_for(stalled, 60, "the first attempt storing its variants", log)
        assert (await status())["status"] == "processing"
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    written_by_first = stored_keys(app)
    assert len(written_by_first) == 5  # original + 4 variants, not committed as processed

    with worker(settings, log, marker):

        async def finished() -> bool:
            return (await status())["status"] in {"processed", "failed"}

        await wait_for(finished, 60, "the file being processed by a second attempt", log)
    detail = await status()
    assert detail["status"] == "processed", detail
    assert [(j["status"], j["attempts"]) for j in detail["jobs"]] == [("succeeded", 2)]
    assert stored_keys(app) == written_by_first  # overwritten in place, nothing duplicated
    assert sorted(k.rsplit("/", 1)[-1] for k in stored_keys(app)) == [
        "compressed.webp",
        "compressed_jpeg.jpg",
        "original",
        "resized.jpg",
        "thumbnail.jpg",
    ]
    result = (await client.get(f"/upload/{file_id}/result", headers=user)).json()
    assert result["variants"]["resized"]["width"] == 1600
    storage_root = Path(app.state.runtime.storage.root)
    assert not [p for p in storage_root.rglob("*") if p.name.startswith(".~")]


async def test_a_worker_killed_on_the_last_attempt_leaves_the_file_failed_not_processing(
    client: httpx.AsyncClient,
    app: Any,
    settings: Settings,
    user: dict[str, str],
    tmp_path: Path,
    jobs: Jobs,
) -> None:
    jobs.forward = CeleryPublisher(create_celery(settings))
    log, marker = tmp_path / "worker.log", tmp_path / "stalled"
    response = await upload(client, user, media.jpeg(4000, 3000), "photo.jpg")
    assert response.status_code == 201
    file_id = response.json()["id"]
    async with own_transaction(app.state.runtime.database) as session:  # earlier attempts used
        await session.execute(
            update(Job).where(Job.subject_id == file_id).values(attempts=PROCESS_MAX_ATTEMPTS - 1)
        )

    async def status() -> dict[str, Any]:
        return dict((await client.get(f"/files/{file_id}", headers=user)).json())

    with worker(settings, log, marker) as victim:

        async def stalled() -> bool:
            return marker.exists()

        await wait_for(stalled, 60, "the last attempt storing its variants", log)
        assert (await status())["status"] == "processing"
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
    assert (await status())["status"] == "processing"  # nothing of the job body ran to fail it

    with worker(settings, log, marker):  # its beat drives the sweeper

        async def settled() -> bool:
            return bool((await status())["status"] != "processing")

        await wait_for(settled, 60, "the sweeper failing the job and the file", log)
    detail = await status()
    assert (detail["status"], detail["message"], detail["error"]) == (
        "failed",
        "processing failed",
        LEASE_EXPIRED,
    )
    assert [(j["status"], j["attempts"]) for j in detail["jobs"]] == [
        ("failed", PROCESS_MAX_ATTEMPTS)
    ]
    polled = (await client.get(f"/upload/{file_id}/status", headers=user)).json()
    assert (polled["status"], polled["error"]) == ("failed", LEASE_EXPIRED)
