"""Fixtures of the reliability harness: the sandbox fakes, jobs run in-process, the local AI."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from oja.core.jobs.runner import execute
from oja.core.runtime import Runtime
from tests.conftest import Jobs, use_settings
from tests.reliability.harness import Fakes, sandbox_fakes

if TYPE_CHECKING:
    from tests.reliability.fuzzing import Served


@pytest.fixture(scope="session")
def fakes() -> Iterator[Fakes]:
    with sandbox_fakes() as served:
        yield served


@pytest.fixture
def local_ai(monkeypatch: pytest.MonkeyPatch) -> None:
    """The offline, deterministic providers; uploads limited generously."""
    for name in ("OJA_OPENROUTER_API_KEY", "OJA_GEMINI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OJA_LLM_PROVIDER", "local")
    monkeypatch.setenv("OJA_UPLOAD_RATE", "100000/minute")
    monkeypatch.setenv("OJA_ANALYZE_WAIT_SECONDS", "0")
    monkeypatch.setenv("OJA_CHAT_WAIT_SECONDS", "0")


class InlineJobs:
    """Runs every published job in this process, one at a time, as a one-slot worker would.

    Jobs run in a background task, after the publishing transaction has let go of the database
    (a job run inside the publisher would wait on SQLite's write lock held by its parent)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.outcomes: list[str] = []
        self.queue: asyncio.Queue[uuid.UUID] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def __call__(self, task_name: str, job_id: uuid.UUID, countdown: float) -> None:
        self.queue.put_nowait(job_id)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._work())

    async def _work(self) -> None:
        while True:
            job_id = await self.queue.get()
            try:
                self.outcomes.append(await execute(str(job_id), self.runtime))
            finally:
                self.queue.task_done()

    async def drain(self, timeout: float = 60.0) -> None:
        if self.task is None:
            return
        await asyncio.wait_for(self.queue.join(), timeout)
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        self.task = None


class DroppedJobs:
    """Accepts publications and drops them (the fuzzer checks requests, not pipelines)."""

    def __init__(self) -> None:
        self.published: list[uuid.UUID] = []

    async def __call__(self, task_name: str, job_id: uuid.UUID, countdown: float) -> None:
        self.published.append(job_id)


@pytest.fixture
async def inline_jobs(app: Any, jobs: Jobs) -> AsyncIterator[InlineJobs]:
    """Depends on ``app`` so that it drains before the app's runtime closes."""
    runner = InlineJobs(app.state.runtime)
    jobs.forward = runner
    yield runner
    await runner.drain()


@pytest.fixture
def dropped_jobs(jobs: Jobs) -> DroppedJobs:
    dropped = DroppedJobs()
    jobs.forward = dropped
    return dropped


@pytest.fixture
def harness_app(app: Any, fakes: Fakes, local_ai: None) -> Iterator[Any]:
    """The test app with the billing and Google fakes installed."""
    fakes.install(app)
    yield app
    fakes.uninstall(app)


TEST_ARGON2 = {"argon2_memory_cost": 1024, "argon2_time_cost": 1}
"""argon2id at a test's cost (1 MiB, one pass; production keeps its own): the authorization matrix
and the mass-assignment cases prove who may call what, not how costly a guessed password is, and
hashed ~6 passwords per test at 19 MiB."""


@pytest.fixture
def cheap_hashing(harness_app: Any) -> None:
    """``harness_app`` hashing passwords with :data:`TEST_ARGON2`."""
    use_settings(harness_app, **TEST_ARGON2)


@pytest.fixture
def served(tmp_path: Path, database_url: str, fakes: Fakes, local_ai: None) -> Iterator[Served]:
    """Oja served over HTTP for the fuzzer (``tests/reliability/fuzzing.py``)."""
    from tests.reliability.fuzzing import serve

    with serve(tmp_path, database_url, fakes) as served:
        yield served
