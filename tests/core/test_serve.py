"""``oja serve`` on real processes: it restarts a worker that died, and stops everything it started.

Each test runs ``oja serve`` with its worker and beat on the embedded filesystem broker and a SQLite
database, and finds the children through /proc.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from oja.core.db import unit_of_work
from oja.core.jobs import JobStatus
from oja.core.runtime import Runtime
from tests.conftest import celery_runtime, make_settings
from tests.core import job_fixtures
from tests.core.job_fixtures import metadata, record_effect
from tests.core.test_worker import effects, wait_for_status, worker_env
from tests.processes import alive, children, descendants, running

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
async def runtime(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Runtime]:
    path = tmp_path / "oja.db"
    shutil.copy(sqlite_template, path)
    settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{path}", broker_url="filesystem://")
    runtime = celery_runtime(settings, job_fixtures.registry())
    async with runtime.database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield runtime
    await runtime.close()


class Served:
    def __init__(self, process: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.process = process
        self.url = url
        self.log = log

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", timeout=5)

    def child(self, kind: str) -> int:
        """The pid of the ``oja worker`` or ``oja beat`` child (its session leader)."""
        [pid] = [p for p, c in children(self.process.pid).items() if f"oja.cli {kind} " in c]
        return pid

    def wait_ready(self, timeout: float = 90.0) -> httpx.Response:
        """/readyz answers 200 and a worker has beaten (a worker that is starting is not late
        yet, so /readyz alone may answer 200 before it consumes)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                response = self.get("/readyz")
                beating = "oja_worker_heartbeat_age_seconds NaN" not in self.get("/metrics").text
                if response.status_code == 200 and beating:
                    return response
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"/readyz never answered 200\n{self.log.read_text()[-3000:]}")


@contextmanager
def serve(runtime: Runtime, tmp_path: Path) -> Iterator[Served]:
    port = free_port()
    env = worker_env(runtime.settings, "filesystem://")
    log = tmp_path / "serve.log"
    argv = ["oja.cli", "serve", "--port", str(port), "--no-migrate"]
    with running(argv, env, log) as process:
        yield Served(process, f"http://127.0.0.1:{port}", log)


def kinds(tree: dict[int, str]) -> list[str]:
    """``worker`` or ``beat`` per process, from ``… -m oja.cli <kind> --parent-pid …``."""
    return sorted(command.split("oja.cli ", 1)[1].split()[0] for command in tree.values())


async def test_a_worker_sigkilled_under_serve_is_restarted_and_runs_a_job_enqueued_after(
    runtime: Runtime, tmp_path: Path
) -> None:
    with serve(runtime, tmp_path) as served:
        ready = served.wait_ready()
        assert ready.json()["checks"]["worker"] == "ok"
        killed = served.child("worker")
        beat = served.child("beat")
        os.kill(killed, signal.SIGKILL)
        async with unit_of_work(runtime.database) as session:
            row = record_effect.enqueue(session, label="after-the-kill")
        done = await wait_for_status(runtime, row.id, {JobStatus.succeeded, JobStatus.failed})
        assert done.status == JobStatus.succeeded, served.log.read_text()[-3000:]
        assert served.child("worker") != killed
        assert served.child("beat") == beat
        metrics = served.get("/metrics").text
        assert 'oja_worker_restarts_total{process="worker"} 1.0' in metrics
        assert 'oja_worker_restarts_total{process="beat"} 0.0' in metrics
        assert served.wait_ready().json()["checks"]["worker"] == "ok"
    assert await effects(runtime) == [("after-the-kill", 1)]
    log = served.log.read_text()
    assert log.count('"event": "worker.exited"') == 1
    assert log.count('"event": "worker.restarted"') == 1


@pytest.mark.parametrize(
    ("signum", "returncode"),
    # SIGTERM ends it by the signal, as uvicorn would have; Ctrl-C exits 130 as a shell expects.
    [(signal.SIGTERM, -signal.SIGTERM), (signal.SIGINT, 130)],
    ids=["SIGTERM", "SIGINT"],
)
def test_a_signal_stops_serve_and_every_process_it_started(
    runtime: Runtime, tmp_path: Path, signum: signal.Signals, returncode: int
) -> None:
    with serve(runtime, tmp_path) as served:
        served.wait_ready()
        tree = descendants(served.process.pid)
        # The worker's leader and its two pool processes, and beat.
        assert kinds(tree) == ["beat", "worker", "worker", "worker"]
        served.process.send_signal(signum)
        assert served.process.wait(timeout=60) == returncode
        left = {pid: command for pid, command in tree.items() if alive(pid)}
    assert left == {}
    assert '"event": "worker.stopped"' in served.log.read_text()


async def test_the_worker_and_beat_stop_when_serve_is_sigkilled(
    runtime: Runtime, tmp_path: Path
) -> None:
    with serve(runtime, tmp_path) as served:
        served.wait_ready()
        tree = descendants(served.process.pid)
        assert kinds(tree) == ["beat", "worker", "worker", "worker"]
        served.process.kill()
        served.process.wait()
        deadline = time.monotonic() + 60
        while any(alive(pid) for pid in tree) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        left = {pid: command for pid, command in tree.items() if alive(pid)}
    assert left == {}
