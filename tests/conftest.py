"""Shared fixtures: a migrated database per backend, settings, the app and an HTTP client.

The session fails when a test left a process running (see :func:`pytest_sessionfinish`).

SQLite always runs. PostgreSQL, Redis and RabbitMQ run when ``OJA_TEST_POSTGRES_URL``,
``OJA_TEST_REDIS_URL`` and ``OJA_TEST_RABBITMQ_URL`` are set; with ``OJA_TEST_REQUIRE_SERVICES=1``
(set by ``.ci/run``) a missing service fails the run instead of skipping.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from oja.core.config import Settings
from oja.core.db import Base
from oja.core.jobs.celery_app import CeleryPublisher, create_celery
from oja.core.jobs.definition import Registry
from oja.core.jobs.outbox import Publisher
from oja.core.jobs.runner import execute
from oja.core.migrate import upgrade
from oja.core.runtime import Runtime
from tests.processes import descendants

TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
PR_SET_CHILD_SUBREAPER = 36


def pytest_sessionstart(session: pytest.Session) -> None:
    # Orphans of the processes tests start (a worker whose parent died) are re-parented to pytest
    # instead of init, so the check below still finds them.
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1)


SLOWEST_FIRST = (
    "tests/reliability/test_fuzz*.py",
    "tests/reliability/test_authorization*.py",
    "tests/test_demo.py",
    "tests/admin/test_browser.py",
    "tests/reliability/test_chaos.py",
    "tests/reliability/test_load.py",
    "tests/*/test_*worker_kill.py",
)
"""Files that take minutes each, slowest kinds first."""


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # xdist's --dist loadfile hands out files in collection order: a slow file collected last
    # becomes the run's tail on one worker while the others idle, so the slow ones start first.
    def rank(item: pytest.Item) -> int:
        # A relative glob matches a path from its right end.
        matches = (i for i, glob in enumerate(SLOWEST_FIRST) if Path(item.path).match(glob))
        return next(matches, len(SLOWEST_FIRST))

    items.sort(key=rank)  # stable: files keep their order, and tests theirs, within a rank


_LEFT_BY_WORKERS: dict[int, str] = {}


def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist's controller: collects what each worker found left running (see below)."""
    _LEFT_BY_WORKERS.update(getattr(node, "workeroutput", {}).get("left_processes", {}))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run, naming them, when processes started by tests are still running; kill them.

    Under xdist each worker checks its own descendants and hands the list to the controller, which
    fails the run (a worker's own exit status does not reach the controller)."""
    config = session.config
    if hasattr(config, "workerinput"):  # an xdist worker
        config.workeroutput["left_processes"] = _kill_left_processes()  # type: ignore[attr-defined]
        return
    distributed = getattr(config.option, "dist", "no") != "no"
    left = dict(_LEFT_BY_WORKERS) if distributed else _kill_left_processes()
    if not left:
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("processes left running by the tests (now killed):", red=True)
        for pid, command in sorted(left.items()):
            reporter.write_line(f"  {pid} {command}", red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _kill_left_processes() -> dict[int, str]:
    left = descendants(os.getpid())
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    return left


def service_url(name: str) -> str:
    """The URL of a real service for integration tests, or skip (fail under .ci/run)."""
    variable = f"OJA_TEST_{name.upper()}_URL"
    url = os.environ.get(variable)
    if url:
        return _per_worker(name, url)
    if os.environ.get("OJA_TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{variable} is required (OJA_TEST_REQUIRE_SERVICES=1)")
    pytest.skip(f"{variable} not set")


def _per_worker(name: str, url: str) -> str:
    """Under xdist each worker gets its own Redis database (``gw0`` → the configured one + 1, …), so
    a test that flushes its database never empties another worker's. PostgreSQL needs nothing: each
    session creates its own database (see ``postgres_database``)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if name != "redis" or not worker:
        return url
    base, _, db = url.rpartition("/")
    return f"{base}/{(int(db or 0) + 1 + int(worker.removeprefix('gw'))) % 12}"


def spare_redis_url() -> str:
    """A Redis database no other test of this process (or worker) uses — for tests that flush it:
    database 12, or 12 + the xdist worker's index (workers ``gw0``–``gw3``)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    base = service_url("redis").rpartition("/")[0]
    return f"{base}/{12 + int(worker.removeprefix('gw'))}"


def asyncpg_url(url: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url}")


async def _admin_execute(server_url: str, statement: str) -> None:
    import asyncpg

    dsn = server_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "oja.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh database on the test server, migrated once for the session, dropped at the end."""
    server = asyncpg_url(service_url("postgres"))
    name = f"oja_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin_execute(server, f'CREATE DATABASE "{name}"'))
    base, _, _ = server.rpartition("/")
    url = f"{base}/{name}"
    upgrade(url)
    yield url
    asyncio.run(_admin_execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_tables(postgres_database: str) -> Iterator[PostgresTables]:
    tables = PostgresTables(postgres_database)
    yield tables
    tables.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """Each test gets an empty, migrated database on every backend."""
    if request.param == "sqlite":
        path = tmp_path / "oja.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    tables: PostgresTables = request.getfixturevalue("postgres_tables")
    tables.empty()
    yield tables.url


def _empty_all_statement() -> str:
    """Deletes every row of every model table, run by :func:`_empty_all` (sequences keep their
    values, as they did under ``TRUNCATE`` without ``RESTART IDENTITY``).

    ``DELETE`` instead of ``TRUNCATE``: truncating the ~100 tables cost 1.3-3.3 s per test (each
    truncated relation gets new files at commit) while a test fills a handful of them; a ``DELETE``
    of an empty table costs next to nothing. The ``replica`` role skips triggers, so the foreign
    keys and the ledger's refusal to delete postings do not apply (it needs a superuser, as the
    test server's ``postgres`` is); children still go first."""
    deletes = "; ".join(f'DELETE FROM "{t.name}"' for t in reversed(Base.metadata.sorted_tables))
    return f"SET LOCAL session_replication_role = replica; {deletes}"


async def _empty_all(conn: Any, statement: str) -> None:
    """Run ``statement`` (see above) in a transaction of its own: a failure rolls it back and
    leaves the connection usable."""
    async with conn.transaction():
        await conn.execute(statement)


async def _truncate_all(url: str) -> None:
    """Empty every model table of the PostgreSQL database at ``url`` (see :class:`PostgresTables`
    for the per-test path)."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await _empty_all(conn, _empty_all_statement())
    finally:
        await conn.close()


class PostgresTables:
    """Empties the session database's tables before each test over one connection kept for the
    session: a new connection first loads the catalog entries of every table it touches (~100 ms
    for ~100 tables), a kept one has them.

    The connection lives on its own event loop, as each test runs on a loop of its own. A test may
    cut it (``pg_terminate_backend`` of every other connection): emptying then reconnects once. The
    statement names every model table: the migration of ``postgres_database`` imported them all."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._statement = _empty_all_statement()
        self._loop = asyncio.new_event_loop()
        self._connection = self._loop.run_until_complete(self._connect())

    async def _connect(self) -> Any:
        import asyncpg

        return await asyncpg.connect(self.url.replace("postgresql+asyncpg://", "postgresql://"))

    async def _empty(self) -> None:
        import asyncpg

        try:
            await _empty_all(self._connection, self._statement)
        except (
            asyncpg.PostgresConnectionError,
            asyncpg.exceptions.OperatorInterventionError,  # terminated by the server
            asyncpg.InterfaceError,
            OSError,
        ):
            self._connection.terminate()
            self._connection = await self._connect()
            await _empty_all(self._connection, self._statement)

    def empty(self) -> None:
        self._loop.run_until_complete(self._empty())

    def close(self) -> None:
        self._loop.run_until_complete(self._connection.close())
        self._loop.close()


def make_settings(tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "secret_key": TEST_SECRET,
        "var_dir": tmp_path / "var",
        "database_url": database_url,
        "log_json": True,
    }
    values.update(overrides)
    settings = Settings(**values)
    settings.validate()
    return settings


def use_settings(app: Any, **fields: Any) -> Settings:
    """Change a running app's settings (field name → value): its requests and the jobs run against
    its runtime read them from now on."""
    runtime = app.state.runtime
    runtime.settings = runtime.settings.replace(**fields)
    settings: Settings = runtime.settings
    return settings


def set_env(monkeypatch: pytest.MonkeyPatch, app: Any = None, **variables: str) -> None:
    """Set ``OJA_*`` variables for one test. An app made after this reads them; pass a running
    ``app`` to have it read its settings again now."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    if app is not None:
        use_settings(app)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


def celery_runtime(settings: Settings, registry: Registry | None = None) -> Runtime:
    """A runtime that publishes through Celery to ``settings``' broker, as the API's does."""
    publisher = CeleryPublisher(create_celery(settings))
    return Runtime.create(settings, registry=registry, publisher=publisher)


class Jobs:
    """The tests' job publisher: captures the id of each published job in :attr:`published` (its
    task name in :attr:`task_names`); :meth:`run` executes them in this process as a worker would.

    With ``inline_runtime`` set, a publication runs its job at once (so a request that waits for its
    job sees it done); with ``forward`` set, publications go there instead (a real Celery publisher,
    or a test's own).
    """

    def __init__(self) -> None:
        self.published: list[uuid.UUID] = []
        self.task_names: dict[uuid.UUID, str] = {}
        self.inline_runtime: Any = None
        self.forward: Publisher | None = None

    async def __call__(self, task_name: str, job_id: uuid.UUID, countdown: float) -> None:
        if self.forward is not None:
            await self.forward(task_name, job_id, countdown)
            return
        self.task_names[job_id] = task_name
        if self.inline_runtime is not None:
            await execute(str(job_id), self.inline_runtime)
        else:
            self.published.append(job_id)

    async def run(self, app: Any) -> list[str]:
        """Run what was published, in order (what they publish included); their outcomes."""
        return [outcome for _, outcome in await self.run_kinds(app)]

    async def run_kinds(self, app: Any) -> list[tuple[str, str]]:
        """:meth:`run`, each outcome with its job kind."""
        outcomes = []
        while self.published:
            job_id = self.published.pop(0)
            kind = self.task_names.get(job_id, "").removeprefix("oja.job.")
            outcomes.append((kind, await execute(str(job_id), app.state.runtime)))
        return outcomes


@pytest.fixture
def jobs() -> Jobs:
    """The publisher of the ``app`` fixture's jobs (see :class:`Jobs`)."""
    return Jobs()


@pytest.fixture
async def app(settings: Settings, jobs: Jobs) -> AsyncIterator[Any]:
    from oja.main import create_app

    application = create_app(settings, publisher=jobs)
    yield application
    await application.state.runtime.close()


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


class LogCapture:
    """What Oja's own JSON log handler wrote (after redaction), as text."""

    def __init__(self) -> None:
        import io

        self.buffer = io.StringIO()

    @property
    def text(self) -> str:
        return self.buffer.getvalue()

    def events(self) -> list[dict[str, Any]]:
        import json

        return [json.loads(line) for line in self.text.splitlines() if line.startswith("{")]


@pytest.fixture
def log_output(app: Any) -> Iterator[LogCapture]:
    """Redirects the root JSON handler installed by ``create_app`` into a buffer."""
    import logging

    capture = LogCapture()
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    previous = [h.setStream(capture.buffer) for h in handlers]
    yield capture
    for handler, stream in zip(handlers, previous, strict=True):
        if stream is not None:
            handler.setStream(stream)
