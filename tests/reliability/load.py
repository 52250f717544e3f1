"""The load scenario: N virtual users doing mixed reads and writes against a real Oja, then a login
storm beyond the password-hashing capacity, then drain and reconcile.

What runs (all on 127.0.0.1):

* Oja under uvicorn (one process) in a subprocess, on a fresh PostgreSQL database made for the run
  (``oja migrate``, dropped at the end), Redis (a dedicated db, flushed first) for cache, rate limits,
  quotas, reply streams and as the Celery broker, the offline ``local`` AI provider, and a real
  ``oja worker --beat`` subprocess that processes the uploads and chat prompts;
* ``users`` virtual users in this process, each an asyncio task with its own ``httpx.AsyncClient``
  on a real socket. Setup (untimed): sign up, log in, open one chatroom, with bounded concurrency
  (a ``429 busy`` from the hashing admission control is retried after its ``Retry-After``).
  Then each user picks a weighted task (:data:`TASKS`), records its latency and status, and thinks
  0.5–1.5 s (seeded), over a ``warmup`` in which users start one by one (a ramp) and then for the
  measured ``seconds``. Latency is reported for the measured window only: the first seconds
  against a cold server (growing database pools, first imports in the worker) are not the steady
  state, and they are shown on their own line. Every request has a set of expected statuses;
  anything else, a connection error or a timeout is an error, and any status >= 500 is a server
  error, counted over the warm-up too;
* the login storm: ``storm_logins`` correct-password logins fired at once, spread over the users,
  against ``OJA_PASSWORD_HASH_BACKLOG=hash_backlog``. Each must be 200 or 429 ``busy`` with
  ``Retry-After`` (never 5xx), and at least one must be shed with 429;
* after the load, the worker drains every job accepted during the run and
  :func:`oja.reconcile.run` (``oja reconcile``) checks that the books agree: jobs, webhooks,
  storage, quotas and rows left in progress. Its cutoff is the moment the load stopped: periodic
  sweeper runs enqueued since are in flight, not stuck.

All users come from 127.0.0.1, yet no limit needs raising: no route the scenario calls is limited
per IP (the login lockout counts failed logins only, and there are none; it is left as it is), and
uploads are limited per user (``OJA_UPLOAD_RATE``, 30/minute), far above a user's few a minute here.
``OJA_CHAT_WAIT_SECONDS=0``: a prompt answers 202 at once and the reply comes through the worker, so
the latency measured is Oja's, not the model's. A Basic user has 5 prompts a day; each virtual user
sends at most that many and then only reads its prompts.

Sizing: ``OJA_LOAD_USERS`` (50) and ``OJA_LOAD_SECONDS`` (60 in CI, 300 under ``OJA_SOAK=1``); see
``tests/reliability/test_load.py`` (asserts errors and server errors) and ``bench/load.py`` (the same
run from the command line, with the p95 target as PASS/MISS).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import httpx
from sqlalchemy import func, select

from oja.core.clock import utcnow
from oja.core.config import Settings
from oja.core.jobs.models import Job, JobStatus
from oja.core.runtime import Runtime
from oja.reconcile import Report
from oja.reconcile import run as reconcile
from tests.processes import spawn, stop

HOST = "127.0.0.1"
SECRET = "load-secret-key-that-is-long-enough-0123456789abcdef"
PASSWORD = "correct horse battery"
REDIS_DB = 11
"""The Redis database the run owns (flushed first): cache, limits, streams and the broker."""
TEXT_FILE = b"Load test: a small text file, extracted by the worker.\n" * 8
PROMPTS_PER_USER = 5
"""The Basic plan's daily prompts; a user never sends more, so no 429 quota answer is expected."""


@dataclass(frozen=True)
class LoadConfig:
    users: int = 50
    seconds: float = 60.0
    """The measured window, after the warm-up."""
    warmup: float = 10.0
    """Users start one by one over this many seconds (a ramp, as locust's spawn rate) and run the
    same tasks; those requests count for errors but not for latency (cold pools and caches)."""
    seed: str = "oja-load"
    think_min: float = 0.5
    think_max: float = 1.5
    setup_concurrency: int = 4
    storm_logins: int = 200
    hash_backlog: int = 4
    """``OJA_PASSWORD_HASH_BACKLOG`` of the server: small, so that the storm is shed for certain."""
    worker_concurrency: int = 2
    api_workers: int = 1
    """uvicorn ``--workers``: API processes (each with its own pools and hashing backlog)."""
    request_timeout: float = 30.0
    drain_timeout: float = 120.0


# --- recording ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    phase: str
    endpoint: str
    status: int
    """HTTP status, or 0 for a connection error or timeout."""
    seconds: float
    ok: bool
    detail: str = ""
    at: float = 0.0
    """When the request started (``time.monotonic()``)."""


@dataclass
class Recorder:
    samples: list[Sample] = field(default_factory=list)
    phase: str = "setup"
    # What a client raises when no answer came back (recorded as status 0).
    transport_errors: ClassVar[tuple[type[BaseException], ...]] = (httpx.HTTPError,)

    async def call(
        self,
        client: httpx.AsyncClient,
        endpoint: str,
        method: str,
        url: str,
        *,
        expect: set[int],
        **kwargs: Any,
    ) -> httpx.Response | None:
        """One request, timed; ``None`` when it never got an answer (recorded as status 0)."""
        phase, at, started = self.phase, time.monotonic(), time.perf_counter()
        try:
            response = await client.request(method, url, **kwargs)
        except self.transport_errors as exc:
            elapsed = time.perf_counter() - started
            detail = f"{method} {url}: {exc!r}"
            self.samples.append(Sample(phase, endpoint, 0, elapsed, False, detail, at))
            return None
        elapsed = time.perf_counter() - started
        ok = response.status_code in expect
        detail = "" if ok else f"{method} {url} -> {response.status_code}: {response.text[:300]}"
        self.samples.append(Sample(phase, endpoint, response.status_code, elapsed, ok, detail, at))
        return response

    def of(self, phase: str) -> list[Sample]:
        return [s for s in self.samples if s.phase == phase]


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0–100), linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Row:
    endpoint: str
    requests: int
    errors: int
    server_errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, endpoint: str, samples: Sequence[Sample]) -> Row:
        ms = [s.seconds * 1000 for s in samples]
        return cls(
            endpoint=endpoint,
            requests=len(samples),
            errors=sum(not s.ok for s in samples),
            server_errors=sum(s.status >= 500 for s in samples),
            p50_ms=percentile(ms, 50),
            p95_ms=percentile(ms, 95),
            p99_ms=percentile(ms, 99),
            max_ms=max(ms, default=math.nan),
        )

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


@dataclass
class LoadResult:
    config: LoadConfig
    warmup: list[Sample]
    mixed: list[Sample]
    mixed_seconds: float
    storm: list[Sample]
    storm_seconds: float
    setup_seconds: float
    drain_seconds: float = 0.0
    jobs: Counter[str] = field(default_factory=Counter)
    report: Report | None = None
    log_problems: list[str] = field(default_factory=list)
    api_cpu: float = 0.0
    """CPU seconds the API processes spent per second of the mixed phase (1.0: one core busy)."""
    client_cpu: float = 0.0
    """The same for this process, the load generator."""
    load_average: float = 0.0

    @property
    def overall(self) -> Row:
        return Row.of("overall", self.mixed)

    def rows(self) -> list[Row]:
        names = sorted({s.endpoint for s in self.mixed})
        return [Row.of(n, [s for s in self.mixed if s.endpoint == n]) for n in names]

    @property
    def rps(self) -> float:
        return len(self.mixed) / self.mixed_seconds if self.mixed_seconds else 0.0

    @property
    def storm_statuses(self) -> Counter[int]:
        return Counter(s.status for s in self.storm)

    @property
    def loaded(self) -> Row:
        """Every request under load, the warm-up's included: what errors are counted on."""
        return Row.of("warm-up and measured", self.warmup + self.mixed)

    def errors(self, limit: int = 10) -> list[str]:
        bad = [s for s in self.warmup + self.mixed + self.storm if not s.ok]
        first = min((s.at for s in self.warmup + self.mixed), default=0.0)
        return [
            f"[{s.phase} +{s.at - first:.1f} s, {s.seconds * 1000:.0f} ms] {s.detail}"
            for s in bad[:limit]
        ]

    def table(self, p95_target_ms: float | None = None) -> str:
        """Per-endpoint latency of the mixed phase, the overall row last, then the storm.

        With ``p95_target_ms`` a last column says PASS or MISS for each row's p95."""
        headers = ["endpoint", "requests", "errors", "5xx", "p50 ms", "p95 ms", "p99 ms", "max ms"]
        if p95_target_ms is not None:
            headers.append(f"p95<{p95_target_ms:g}")
        body: list[list[str]] = []
        for row in [*self.rows(), self.overall]:
            cells = [
                row.endpoint,
                str(row.requests),
                str(row.errors),
                str(row.server_errors),
                *(f"{v:.1f}" for v in (row.p50_ms, row.p95_ms, row.p99_ms, row.max_ms)),
            ]
            if p95_target_ms is not None:
                cells.append("PASS" if row.p95_ms < p95_target_ms else "MISS")
            body.append(cells)
        widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(headers)]

        def line(cells: Sequence[str]) -> str:
            return "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )

        overall, loaded = self.overall, self.loaded
        warm = Row.of("warm-up", self.warmup)
        statuses = self.storm_statuses
        c = self.config
        lines = [
            f"load: {c.users} users, {self.mixed_seconds:.1f} s measured after a {c.warmup:g} s "
            f"warm-up (setup {self.setup_seconds:.1f} s), think {c.think_min:g}-{c.think_max:g} s, "
            f"seed {c.seed!r}",
            line(headers),
            line(["-" * w for w in widths]),
            *(line(r) for r in body[:-1]),
            line(["-" * w for w in widths]),
            line(body[-1]),
            f"measured: {overall.requests} requests, {self.rps:.1f} req/s; warm-up "
            f"({c.warmup:g} s ramp to {c.users} users): {warm.requests} requests, p50 "
            f"{warm.p50_ms:.1f} ms, p95 {warm.p95_ms:.1f} ms",
            f"errors (warm-up and measured): {loaded.errors} of {loaded.requests} "
            f"({loaded.error_rate:.3%}), server errors {loaded.server_errors}",
            f"login storm: {len(self.storm)} concurrent logins in {self.storm_seconds:.2f} s "
            f"(OJA_PASSWORD_HASH_BACKLOG={c.hash_backlog}): "
            + "; ".join(
                f"{status or 'no answer'} x{n} (p50 {row.p50_ms:.0f} ms, p95 {row.p95_ms:.0f} ms, "
                f"max {row.max_ms:.0f} ms)"
                for status, n in sorted(statuses.items())
                for row in [Row.of(str(status), [s for s in self.storm if s.status == status])]
            ),
            f"jobs: {dict(sorted(self.jobs.items()))}, drained in {self.drain_seconds:.1f} s",
        ]
        lines.append(
            f"machine: {os.cpu_count()} CPUs, load average {self.load_average:.2f} at the end of "
            f"the mixed phase; CPU of one core used by the API processes ({c.api_workers}) "
            f"{self.api_cpu:.0%}, by the load generator {self.client_cpu:.0%}"
        )
        lines += [f"error: {e}" for e in self.errors()]
        if self.log_problems:
            counted = Counter(self.log_problems)
            lines.append(f"log lines at warning or worse (API, worker): {len(self.log_problems)}")
            lines += [f"  {n} x {text}" for text, n in counted.most_common(5)]
        if self.report is not None:
            lines.append(self.report.table().rstrip("\n"))
        return "\n".join(lines) + "\n"


# --- the stack: PostgreSQL database, Redis db, worker and API subprocesses --------------------------


def cpu_seconds(group: int) -> float:
    """User + system CPU time so far of the live processes in process group ``group`` (Linux
    ``/proc``; 0 elsewhere)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _asyncpg_url(url: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url}")


async def _admin_execute(server_url: str, statement: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(server_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@dataclass
class Stack:
    """A running Oja (API + worker) on its own database and Redis db."""

    base_url: str
    settings: Settings
    env: dict[str, str]
    workdir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def api_pid(self) -> int:
        return self.processes[-1].pid

    @property
    def logs(self) -> list[Path]:
        return [self.workdir / "api.log", self.workdir / "worker.log"]

    def log_tail(self, chars: int = 4000) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-chars:]}"
            for p in self.logs
            if p.exists()
        )

    def check_alive(self) -> None:
        """Raise if the API or the worker has exited (a crash, or a failed start)."""
        for process, log in zip(self.processes, ["worker.log", "api.log"], strict=False):
            if process.poll() is not None:
                tail = (self.workdir / log).read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{log[:-4]} exited with {process.returncode}:\n{tail}")

    def log_problems(self) -> list[str]:
        """Log lines at level warning or worse (JSON, shortened to level, event and error) and
        tracebacks, from both processes."""
        found: list[str] = []
        for path in self.logs:
            if not path.exists():
                continue
            for text in path.read_text(errors="replace").splitlines():
                if text.startswith("Traceback"):
                    found.append(f"{path.name}: {text}")
                if not text.startswith("{"):
                    continue
                try:
                    event = json.loads(text)
                except ValueError:
                    continue
                if event.get("level") in {"warning", "error", "critical", "exception"}:
                    summary = f"{event.get('level')} {str(event.get('event'))[:200]}"
                    if event.get("error"):
                        summary += f" ({event['error']})"
                    found.append(f"{path.name}: {summary}")
        return found


def server_env(
    workdir: Path, database_url: str, redis_url: str, config: LoadConfig
) -> dict[str, str]:
    """This process's environment without any OJA_ variable, plus the run's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OJA_")}
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "OJA_ENV": "test",
            "OJA_SECRET_KEY": SECRET,
            "OJA_VAR_DIR": str(workdir / "var"),
            "OJA_DATABASE_URL": database_url,
            "OJA_REDIS_URL": redis_url,
            "OJA_BROKER_URL": redis_url,
            "OJA_LOG_LEVEL": "WARNING",
            "OJA_LLM_PROVIDER": "local",
            "OJA_EMBEDDING_PROVIDER": "local",
            "OJA_CHAT_WAIT_SECONDS": "0",
            "OJA_ANALYZE_WAIT_SECONDS": "0",
            "OJA_PASSWORD_HASH_BACKLOG": str(config.hash_backlog),
            "OJA_SWEEPER_INTERVAL": "2",
            "OJA_JOB_REQUEUE_AFTER": "10",
        }
    )
    return env


async def _wait_ready(base_url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base_url, timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the API exited with {process.returncode} before it was ready")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{base_url}/readyz did not answer 200 within {timeout:g} s")


@asynccontextmanager
async def oja_stack(
    workdir: Path, postgres_server: str, redis_server: str, config: LoadConfig
) -> AsyncIterator[Stack]:
    """Create and migrate a database, flush the Redis db, start the worker and the API; yield;
    stop both process groups and drop the database, whatever happened."""
    import redis

    server = _asyncpg_url(postgres_server)
    name = f"oja_load_{uuid.uuid4().hex[:10]}"
    database_url = f"{server.rpartition('/')[0]}/{name}"
    redis_url = f"{redis_server.rsplit('/', 1)[0]}/{REDIS_DB}"
    workdir.mkdir(parents=True, exist_ok=True)
    env = server_env(workdir, database_url, redis_url, config)
    settings = Settings(
        env="test",
        secret_key=SECRET,
        var_dir=workdir / "var",
        database_url=database_url,
        redis_url=redis_url,
        broker_url=redis_url,
    )
    settings.validate()
    stack = Stack(base_url="", settings=settings, env=env, workdir=workdir)
    await _admin_execute(server, f'CREATE DATABASE "{name}"')
    try:
        client = redis.Redis.from_url(redis_url)
        client.flushdb()
        client.close()
        migrate = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "oja.cli", "migrate"],
            env=env,
            cwd=workdir,
            capture_output=True,
            check=False,
        )
        if migrate.returncode != 0:
            raise RuntimeError(f"oja migrate failed:\n{migrate.stdout!r}\n{migrate.stderr!r}")
        worker_argv = ["oja.cli", "worker", "--beat"]
        worker_argv += ["--concurrency", str(config.worker_concurrency)]
        stack.processes.append(spawn(worker_argv, env, workdir / "worker.log", cwd=workdir))
        port = free_port()
        api_argv = ["uvicorn", "oja.main:create_app", "--factory"]
        api_argv += ["--host", HOST, "--port", str(port), "--no-access-log"]
        api_argv += ["--log-level", "warning", "--workers", str(config.api_workers)]
        api = spawn(api_argv, env, workdir / "api.log", cwd=workdir)
        stack.processes.append(api)
        stack.base_url = f"http://{HOST}:{port}"
        await _wait_ready(stack.base_url, api, timeout=60)
        stack.check_alive()
        yield stack
    finally:
        try:
            for process in reversed(stack.processes):
                await asyncio.to_thread(stop, process)
        finally:
            await _admin_execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        with contextlib.suppress(redis.RedisError):
            client = redis.Redis.from_url(redis_url)
            client.flushdb()
            client.close()


# --- virtual users ------------------------------------------------------------------------------


@dataclass
class User:
    index: int
    email: str
    rng: random.Random
    client: httpx.AsyncClient = field(init=False)
    id: str = ""
    access: str = ""
    refresh: str = ""
    rooms: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    prompts: list[tuple[str, str]] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}

    def take_tokens(self, response: httpx.Response) -> None:
        body = response.json()
        self.access, self.refresh = body["access_token"], body["refresh_token"]


Task = Callable[[User, Recorder], Awaitable[None]]


async def me(user: User, rec: Recorder) -> None:
    await rec.call(
        user.client, "GET /user/me", "GET", "/user/me", expect={200}, headers=user.headers
    )


async def list_rooms(user: User, rec: Recorder) -> None:
    await rec.call(
        user.client, "GET /chatroom", "GET", "/chatroom", expect={200}, headers=user.headers
    )


async def create_room(user: User, rec: Recorder) -> None:
    response = await rec.call(
        user.client,
        "POST /chatroom",
        "POST",
        "/chatroom",
        expect={201},
        json={"title": f"load {user.index}-{len(user.rooms)}"},
        headers=user.headers,
    )
    if response is not None and response.status_code == 201:
        user.rooms.append(str(response.json()["id"]))


async def get_room(user: User, rec: Recorder) -> None:
    room = user.rng.choice(user.rooms)
    await rec.call(
        user.client,
        "GET /chatroom/{id}",
        "GET",
        f"/chatroom/{room}",
        expect={200},
        headers=user.headers,
    )


async def send_message(user: User, rec: Recorder) -> None:
    if len(user.prompts) >= PROMPTS_PER_USER:
        await message_status(user, rec)
        return
    room = user.rng.choice(user.rooms)
    response = await rec.call(
        user.client,
        "POST /chatroom/{id}/message",
        "POST",
        f"/chatroom/{room}/message",
        expect={201, 202},
        json={"content": f"Hello from load user {user.index}, message {len(user.prompts)}."},
        headers=user.headers,
    )
    if response is not None and response.status_code in {201, 202}:
        user.prompts.append((room, str(response.json()["user_message"]["id"])))


async def message_status(user: User, rec: Recorder) -> None:
    if not user.prompts:
        await send_message(user, rec)
        return
    room, message = user.rng.choice(user.prompts)
    await rec.call(
        user.client,
        "GET /chatroom/{id}/messages/{id}",
        "GET",
        f"/chatroom/{room}/messages/{message}",
        expect={200},
        headers=user.headers,
    )


async def upload(user: User, rec: Recorder) -> None:
    response = await rec.call(
        user.client,
        "POST /upload",
        "POST",
        "/upload",
        expect={201, 202},
        files={"file": (f"notes-{len(user.files)}.txt", TEXT_FILE, "text/plain")},
        headers=user.headers,
    )
    if response is not None and response.status_code in {201, 202}:
        user.files.append(str(response.json()["id"]))


async def upload_status(user: User, rec: Recorder) -> None:
    if not user.files:
        await upload(user, rec)
        return
    file_id = user.rng.choice(user.files)
    await rec.call(
        user.client,
        "GET /upload/{id}/status",
        "GET",
        f"/upload/{file_id}/status",
        expect={200},
        headers=user.headers,
    )


async def file_detail(user: User, rec: Recorder) -> None:
    if not user.files:
        await upload(user, rec)
        return
    file_id = user.rng.choice(user.files)
    await rec.call(
        user.client,
        "GET /files/{id}",
        "GET",
        f"/files/{file_id}",
        expect={200},
        headers=user.headers,
    )


async def list_files(user: User, rec: Recorder) -> None:
    await rec.call(user.client, "GET /files", "GET", "/files", expect={200}, headers=user.headers)


async def list_documents(user: User, rec: Recorder) -> None:
    await rec.call(
        user.client, "GET /documents", "GET", "/documents", expect={200}, headers=user.headers
    )


async def refresh(user: User, rec: Recorder) -> None:
    response = await rec.call(
        user.client,
        "POST /auth/refresh",
        "POST",
        "/auth/refresh",
        expect={200},
        json={"refresh_token": user.refresh},
    )
    if response is not None and response.status_code == 200:
        user.take_tokens(response)


TASKS: list[tuple[Task, int]] = [
    (me, 14),
    (list_rooms, 14),
    (get_room, 12),
    (create_room, 6),
    (send_message, 8),
    (message_status, 6),
    (upload, 8),
    (upload_status, 8),
    (file_detail, 6),
    (list_files, 8),
    (list_documents, 5),
    (refresh, 5),
]
"""Weighted tasks: about 27 % writes (rooms, prompts, uploads, token refreshes), 73 % reads."""


async def _retrying_busy(
    call: Callable[[], Awaitable[httpx.Response]], attempts: int = 20
) -> httpx.Response:
    """A sign-up or login, retried as its ``429 busy`` says (``Retry-After``)."""
    for _ in range(attempts):
        response = await call()
        if response.status_code != 429:
            return response
        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
    return response


async def setup_user(user: User, rec: Recorder) -> None:
    credentials = {"email": user.email, "password": PASSWORD}
    created = await _retrying_busy(lambda: user.client.post("/auth/signup", json=credentials))
    if created.status_code != 201:
        raise AssertionError(f"signup {user.email}: {created.status_code} {created.text}")
    user.id = str(created.json()["id"])
    logged_in = await _retrying_busy(lambda: user.client.post("/auth/login", json=credentials))
    if logged_in.status_code != 200:
        raise AssertionError(f"login {user.email}: {logged_in.status_code} {logged_in.text}")
    user.take_tokens(logged_in)
    await create_room(user, rec)
    if not user.rooms:
        raise AssertionError(f"no chatroom for {user.email}: {rec.samples[-1].detail}")


async def run_user(
    user: User, rec: Recorder, start: float, deadline: float, config: LoadConfig
) -> None:
    """Weighted tasks with think times from ``start`` until ``deadline``."""
    tasks = [t for t, _ in TASKS]
    weights = [w for _, w in TASKS]
    await asyncio.sleep(max(0.0, start - time.monotonic()))
    while time.monotonic() < deadline:
        await user.rng.choices(tasks, weights)[0](user, rec)
        think = user.rng.uniform(config.think_min, config.think_max)
        await asyncio.sleep(max(0.0, min(think, deadline - time.monotonic())))


async def storm_login(user: User, rec: Recorder) -> None:
    response = await rec.call(
        user.client,
        "POST /auth/login (storm)",
        "POST",
        "/auth/login",
        expect={200, 429},
        json={"email": user.email, "password": PASSWORD},
    )
    if response is None or response.status_code != 429:
        return
    try:
        code = response.json().get("error", {}).get("code")
    except ValueError:
        code = None
    if code != "busy" or "retry-after" not in response.headers:
        # A 429 that is not the hashing admission control's: counted as an error.
        rec.samples[-1] = dataclasses.replace(
            rec.samples[-1],
            ok=False,
            detail=f"429 without code busy and Retry-After: {response.headers} {response.text}",
        )


# --- the run --------------------------------------------------------------------------------------


async def unfinished_jobs(runtime: Runtime, before: datetime) -> int:
    async with runtime.database.sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.status.in_([JobStatus.queued, JobStatus.running]), Job.created_at < before)
        )
    return int(count or 0)


async def job_counts(runtime: Runtime) -> Counter[str]:
    async with runtime.database.sessionmaker() as session:
        rows = (await session.execute(select(Job.status, func.count()).group_by(Job.status))).all()
    return Counter({str(status): int(n) for status, n in rows})


@asynccontextmanager
async def connected(users: list[User], base_url: str, config: LoadConfig) -> AsyncIterator[None]:
    """A fresh client (connection pool) for every user, closed at the end.

    Each phase opens its own: a connection left idle between phases longer than uvicorn's
    keep-alive (5 s) is closed by the server, and a request sent on it just then is lost (the
    server's close and the client's reuse race). That is the client's problem, not Oja's."""
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=8)
    async with contextlib.AsyncExitStack() as exits:
        for user in users:
            user.client = await exits.enter_async_context(
                httpx.AsyncClient(base_url=base_url, timeout=config.request_timeout, limits=limits)
            )
        yield


async def run_load(stack: Stack, config: LoadConfig) -> LoadResult:
    """Setup, the mixed phase, the login storm; then drain the jobs and reconcile."""
    rec = Recorder()
    run_tag = uuid.uuid4().hex[:8]
    users = [
        User(
            index=i,
            email=f"load{i}-{run_tag}@example.com",
            rng=random.Random(f"{config.seed}:{i}"),
        )
        for i in range(config.users)
    ]
    async with connected(users, stack.base_url, config):
        started = time.monotonic()
        gate = asyncio.Semaphore(config.setup_concurrency)

        async def setup(user: User) -> None:
            async with gate:
                await setup_user(user, rec)

        await asyncio.gather(*(setup(u) for u in users))
        setup_seconds = time.monotonic() - started
        stack.check_alive()

    async with connected(users, stack.base_url, config):
        rec.phase = "warmup"
        ramp = time.monotonic()
        measured = ramp + config.warmup
        deadline = measured + config.seconds
        # Without a warm-up, a random part of a think time: not all users in the same millisecond.
        starts = [
            ramp + config.warmup * u.index / len(users)
            if config.warmup
            else ramp + u.rng.uniform(0.0, config.think_max)
            for u in users
        ]
        running = asyncio.gather(
            *(run_user(u, rec, at, deadline, config) for u, at in zip(users, starts, strict=True))
        )
        try:
            await asyncio.sleep(max(0.0, measured - time.monotonic()))
            rec.phase = "mixed"
            started, cpu = time.monotonic(), cpu_seconds(stack.api_pid)
            client_cpu = time.process_time()
            await running
        except BaseException:
            running.cancel()
            raise
        mixed_seconds = time.monotonic() - started
        api_cpu = (cpu_seconds(stack.api_pid) - cpu) / mixed_seconds
        client_cpu = (time.process_time() - client_cpu) / mixed_seconds
        load_average = os.getloadavg()[0]

    async with connected(users, stack.base_url, config):
        rec.phase = "storm"
        started = time.monotonic()
        await asyncio.gather(
            *(storm_login(users[i % len(users)], rec) for i in range(config.storm_logins))
        )
        storm_seconds = time.monotonic() - started

    stopped_at = utcnow()
    result = LoadResult(
        config=config,
        warmup=rec.of("warmup"),
        mixed=rec.of("mixed"),
        mixed_seconds=mixed_seconds,
        storm=rec.of("storm"),
        storm_seconds=storm_seconds,
        setup_seconds=setup_seconds,
        api_cpu=api_cpu,
        client_cpu=client_cpu,
        load_average=load_average,
    )
    runtime = Runtime.create(stack.settings)
    try:
        started = time.monotonic()
        while await unfinished_jobs(runtime, stopped_at):
            stack.check_alive()
            if time.monotonic() - started > config.drain_timeout:
                break
            await asyncio.sleep(0.5)
        result.drain_seconds = time.monotonic() - started
        result.jobs = await job_counts(runtime)
        # Every job, upload and prompt accepted before the load stopped must be settled by now;
        # periodic sweeper runs enqueued since are in flight, not stuck.
        result.report = await reconcile(runtime, stale_after=0, now=stopped_at)
    finally:
        await runtime.close()
    result.log_problems = stack.log_problems()
    return result
