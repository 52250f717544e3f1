"""Backing-service outages during traffic, on servers these tests start and stop themselves.

* **Redis** (cache, rate limits, quotas, login throttle and the job broker) is killed for
  ``OJA_OUTAGE_SECONDS`` (30) while clients keep calling: routes that need Redis answer 503, never
  500; routes that do not keep answering; the jobs accepted before the kill — their broker messages
  die with Redis, which keeps nothing on disk — are published again by the sweeper and all finish.
  Once Redis is back, every route recovers within ``RECOVERY_DEADLINE`` without a restart.
* **PostgreSQL** (a cluster of its own) crashes (``pg_ctl stop -m immediate``) for
  ``OJA_DB_DOWN_SECONDS`` during traffic and a worker's jobs: every route that needs the database
  answers 503, fast; after the restart everything recovers within the deadline; every write that
  was answered 2xx is there, complete, and every write that was refused left nothing behind.

Both end with ``oja reconcile``, which must find nothing wrong. The figures are printed.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from oja.chat.models import ChatMessage, Chatroom
from oja.core.config import Settings
from oja.core.jobs import Job, JobStatus
from oja.core.migrate import upgrade
from oja.core.runtime import Runtime
from oja.files.models import File, FileStatus
from oja.reconcile import run as reconcile
from tests.conftest import _admin_execute, make_settings
from tests.processes import running
from tests.reliability import harness
from tests.reliability.servers import OwnPostgres, OwnRedis

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.usefixtures("local_ai")]

REPO = Path(__file__).resolve().parents[2]
OUTAGE = harness.env_int("OJA_OUTAGE_SECONDS", ci=30, soak=30)
DB_DOWN = harness.env_int("OJA_DB_DOWN_SECONDS", ci=5, soak=20)
RECOVERY_DEADLINE = 10.0
SHORT_LEASES = {"OJA_FILE_PROCESS_TIMEOUT": "20", "OJA_CHAT_GENERATION_TIMEOUT": "10"}
"""Job time limits (and so leases) short enough to expire inside :func:`jobs_settled`'s wait."""
"""The issue's recovery budget: seconds from the service being back to every route answering."""

Call = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


@dataclass
class Hit:
    probe: str
    phase: str
    status: int
    ms: float


@dataclass
class Traffic:
    """Clients calling a fixed set of probes in a loop, each hit recorded with the phase it fell
    in (``before>outage`` for one that straddled the change, which no phase's assertion counts)."""

    client: httpx.AsyncClient
    probes: dict[str, Call]
    phase: str = "before"
    hits: list[Hit] = field(default_factory=list)

    async def run(self, stop: asyncio.Event, pause: float = 0.05) -> None:
        while not stop.is_set():
            for name, call in self.probes.items():
                phase = self.phase
                started = time.perf_counter()
                try:
                    response = await call(self.client)
                    code = response.status_code
                except httpx.HTTPError:
                    code = 599  # the transport itself failed: counted as a server error
                if self.phase != phase:  # it straddled a kill or a restart: neither phase's
                    phase = f"{phase}>{self.phase}"
                self.hits.append(Hit(name, phase, code, (time.perf_counter() - started) * 1000))
            await asyncio.sleep(pause)

    def statuses(self, phase: str) -> dict[str, Counter[int]]:
        seen: dict[str, Counter[int]] = defaultdict(Counter)
        for hit in self.hits:
            if hit.phase == phase:
                seen[hit.probe][hit.status] += 1
        return seen

    def table(self) -> str:
        rows = [f"{'probe':<10} {'phase':<15} {'statuses':<28} {'p50 ms':>8} {'max ms':>8}"]
        groups: dict[tuple[str, str], list[Hit]] = defaultdict(list)
        for hit in self.hits:
            groups[(hit.probe, hit.phase)].append(hit)
        for (probe, phase), hits in sorted(groups.items()):
            codes = dict(sorted(Counter(h.status for h in hits).items()))
            ms = [h.ms for h in hits]
            rows.append(
                f"{probe:<10} {phase:<15} {json.dumps(codes):<28} "
                f"{statistics.median(ms):>8.1f} {max(ms):>8.1f}"
            )
        return "\n".join(rows)


async def recover(client: httpx.AsyncClient, probes: dict[str, tuple[Call, set[int]]]) -> float:
    """Seconds until every probe answers one of its healthy statuses (the clock starts now)."""
    started = time.monotonic()
    pending = dict(probes)
    while pending:
        elapsed = time.monotonic() - started
        assert elapsed < RECOVERY_DEADLINE, (
            f"not recovered after {elapsed:.1f} s: {sorted(pending)}"
        )
        for name, (call, healthy) in list(pending.items()):
            response = await call(client)
            assert response.status_code < 500 or response.status_code == 503, response.text
            if response.status_code in healthy:
                del pending[name]
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def through_outage(
    traffic: Traffic,
    *,
    kill: Callable[[], None],
    restore: Callable[[], None],
    seconds: float,
    healthy: dict[str, set[int]],
    prelude: Callable[[], Awaitable[None]] | None = None,
) -> float:
    """Traffic for 3 s, ``kill``, ``seconds`` of outage, ``restore``, recovery, 3 s after; the
    recovery time. A call is labelled "outage" only once the port is closed (``kill`` waits)."""
    stop = asyncio.Event()
    runner = asyncio.create_task(traffic.run(stop))
    await asyncio.sleep(3)
    if prelude is not None:
        await prelude()
    kill()
    traffic.phase = "outage"
    await asyncio.sleep(seconds)
    traffic.phase = "restart"
    restore()
    recovered_in = await recover(
        traffic.client, {name: (traffic.probes[name], codes) for name, codes in healthy.items()}
    )
    traffic.phase = "after"
    await asyncio.sleep(3)
    stop.set()
    await runner
    return recovered_in


@contextmanager
def worker_process(settings: Settings, log: Path, **extra: str) -> Iterator[None]:
    """``oja worker --beat`` (the sweeper included) as a process group of its own."""
    env = {
        **os.environ,
        "OJA_ENV": "test",
        "OJA_SECRET_KEY": settings.secret_key,
        "OJA_VAR_DIR": str(settings.app.var_dir),
        "OJA_DATABASE_URL": settings.database_url,
        "OJA_BROKER_URL": settings.broker_url,
        "OJA_LLM_PROVIDER": "local",
        "OJA_SWEEPER_INTERVAL": "0.5",
        "OJA_JOB_REQUEUE_AFTER": "2",
        "OJA_JOB_LEASE_GRACE": "1",
        "OJA_JOB_RETRY_BASE_DELAY": "0.2",
        "PYTHONPATH": str(REPO),
        **extra,
    }
    with running(["oja.cli", "worker", "--concurrency", "1", "--beat"], env, log):
        yield


async def jobs_settled(runtime: Runtime, log: Path, timeout: float = 90.0) -> Counter[str]:
    """Wait until no job is queued or running; the count of jobs by status."""
    deadline = time.monotonic() + timeout
    while True:
        async with runtime.database.sessionmaker() as session:
            rows = (
                await session.execute(select(Job.status, func.count()).group_by(Job.status))
            ).all()
        counts = Counter({str(status): int(n) for status, n in rows})
        if not counts[JobStatus.queued] and not counts[JobStatus.running]:
            return counts
        assert time.monotonic() < deadline, (
            f"jobs never settled: {counts}\n{log.read_text()[-3000:]}"
        )
        await asyncio.sleep(0.25)


def app_for(settings: Settings) -> Any:
    from oja.main import create_app

    return create_app(settings)


def asgi_client(app: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30)


def upload_call(person: harness.Person, accepted: list[str], refused: list[str]) -> Call:
    async def call(client: httpx.AsyncClient) -> httpx.Response:
        title = uuid.uuid4().hex
        response = await client.post(
            "/upload",
            files={"file": ("notes.txt", harness.TEXT_FILE, "text/plain")},
            data={"title": title},
            headers=person.headers,
        )
        if response.status_code in {201, 202}:
            accepted.append(response.json()["id"])
        else:
            refused.append(title)
        return response

    return call


def get_call(path: str, person: harness.Person | None = None) -> Call:
    async def call(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get(path, headers=person.headers if person else None)

    return call


async def file_rows(runtime: Runtime) -> dict[str, tuple[str | None, str]]:
    async with runtime.database.sessionmaker() as session:
        rows = (await session.execute(select(File.id, File.title, File.status))).all()
    return {str(r.id): (r.title, str(r.status)) for r in rows}


# -- Redis ----------------------------------------------------------------------------------------


async def test_redis_outage_answers_503_loses_no_job_and_recovers(
    tmp_path: Path, postgres_database: str
) -> None:
    from tests.conftest import _truncate_all

    await _truncate_all(postgres_database)
    log = tmp_path / "worker.log"
    with OwnRedis() as redis_server:
        settings = make_settings(
            tmp_path,
            postgres_database,
            redis_url=f"{redis_server.url}/0",
            broker_url=f"{redis_server.url}/1",
        )
        app = app_for(settings)
        runtime: Runtime = app.state.runtime
        try:
            async with asgi_client(app) as client:
                person = await harness.signup_and_login(client, "redis")
                room = await harness.create_chatroom(client, person)
                accepted: list[str] = []
                refused: list[str] = []
                upload = upload_call(person, accepted, refused)

                async def message(c: httpx.AsyncClient) -> httpx.Response:
                    return await c.post(
                        f"/chatroom/{room}/message", json={"content": "hi"}, headers=person.headers
                    )

                async def login(c: httpx.AsyncClient) -> httpx.Response:
                    body = {"email": person.email, "password": harness.PASSWORD}
                    return await c.post("/auth/login", json=body)

                probes: dict[str, Call] = {
                    "healthz": get_call("/healthz"),
                    "readyz": get_call("/readyz"),
                    "me": get_call("/user/me", person),
                    "files": get_call("/files", person),
                    "rooms": get_call("/chatroom", person),
                    "upload": upload,
                    "message": message,
                    "login": login,
                }
                # Routes that do not touch Redis, and what they answer throughout.
                independent = {"healthz": {200}, "me": {200}, "files": {200}}
                healthy = {
                    "readyz": {200},
                    "rooms": {200},
                    "upload": {201, 202},
                    "message": {200, 201, 202},
                    "login": {200},
                }
                with worker_process(settings, log, OJA_REDIS_URL=f"{redis_server.url}/0"):
                    traffic = Traffic(client, probes)

                    before_kill: list[int] = []

                    async def burst() -> None:
                        # Just before the kill: its broker messages die with Redis.
                        for _ in range(6):
                            await upload(client)
                        before_kill.append(len(accepted))

                    recovered_in = await through_outage(
                        traffic,
                        kill=redis_server.kill,
                        restore=redis_server.start,
                        seconds=OUTAGE,
                        healthy=healthy,
                        prelude=burst,
                    )
                    (in_flight,) = before_kill
                    settled = await jobs_settled(runtime, log)
                rows = await file_rows(runtime)
                report = await reconcile(runtime, stale_after=0)
        finally:
            await runtime.close()

    print(
        f"\nredis outage {OUTAGE} s: recovered in {recovered_in:.2f} s "
        f"(target {RECOVERY_DEADLINE:.0f} s); {in_flight} uploads accepted before the kill; "
        f"jobs {dict(settled)}\n{traffic.table()}\n{report.table()}"
    )
    outage = traffic.statuses("outage")
    server_errors = [h for h in traffic.hits if h.status >= 500 and h.status != 503]
    assert not server_errors, server_errors[:5]
    for name, codes in independent.items():
        assert set(outage[name]) <= codes, (name, outage[name])
    for name in healthy:
        assert set(outage[name]) == {503}, (name, outage[name])
    assert set(traffic.statuses("after")["upload"]) <= {201, 202}
    # Nothing accepted was lost: every accepted upload is a processed file; nothing refused left
    # a row behind.
    assert set(rows) == set(accepted)
    assert {status for _, status in rows.values()} == {FileStatus.processed}
    assert not {title for title, _ in rows.values()} & set(refused)
    assert settled[JobStatus.failed] == 0
    assert report.ok, report.table()


# -- PostgreSQL -----------------------------------------------------------------------------------


async def test_postgres_crash_answers_fast_503_and_leaves_no_half_written_rows(
    tmp_path: Path,
) -> None:
    log = tmp_path / "worker.log"
    broker = f"filesystem://{tmp_path / 'queue'}"
    with OwnPostgres() as pg:
        await _admin_execute(pg.server_url, 'CREATE DATABASE "oja"')
        database_url = pg.server_url.rsplit("/", 1)[0] + "/oja"
        await asyncio.to_thread(upgrade, database_url)
        settings = make_settings(tmp_path, database_url, broker_url=broker)
        app = app_for(settings)
        runtime: Runtime = app.state.runtime
        try:
            async with asgi_client(app) as client:
                person = await harness.signup_and_login(client, "pg")
                accepted: list[str] = []
                refused: list[str] = []
                rooms_made: list[str] = []
                rooms_refused: list[str] = []
                messages_sent: list[str] = []

                async def new_room(c: httpx.AsyncClient) -> httpx.Response:
                    title = uuid.uuid4().hex
                    response = await c.post(
                        "/chatroom", json={"title": title}, headers=person.headers
                    )
                    if response.status_code == 201:
                        rooms_made.append(response.json()["id"])
                        sent = await c.post(
                            f"/chatroom/{response.json()['id']}/message",
                            json={"content": "hello"},
                            headers=person.headers,
                        )
                        if sent.status_code < 300:
                            messages_sent.append(sent.json()["user_message"]["id"])
                    else:
                        rooms_refused.append(title)
                    return response

                async def signup(c: httpx.AsyncClient) -> httpx.Response:
                    body = {"email": harness.unique_email("pgs"), "password": harness.PASSWORD}
                    return await c.post("/auth/signup", json=body)

                probes: dict[str, Call] = {
                    "healthz": get_call("/healthz"),
                    "readyz": get_call("/readyz"),
                    "me": get_call("/user/me", person),
                    "files": get_call("/files", person),
                    "upload": upload_call(person, accepted, refused),
                    "room": new_room,
                    "signup": signup,
                }
                healthy = {
                    "readyz": {200},
                    "me": {200},
                    "files": {200},
                    "upload": {201, 202},
                    "room": {201},
                    "signup": {201},
                }
                # A crash may forget a job's relaxed mark (runner._Bookkeeping): the job
                # then runs again when its lease expires, so the leases are kept short here.
                with worker_process(settings, log, **SHORT_LEASES):
                    traffic = Traffic(client, probes)
                    recovered_in = await through_outage(
                        traffic, kill=pg.crash, restore=pg.start, seconds=DB_DOWN, healthy=healthy
                    )
                    settled = await jobs_settled(runtime, log)
                rows = await file_rows(runtime)
                async with runtime.database.sessionmaker() as session:
                    rooms = {
                        str(r.id): r.title
                        for r in (await session.execute(select(Chatroom))).scalars()
                    }
                    user_messages = {
                        str(m.id)
                        for m in (
                            await session.execute(
                                select(ChatMessage).where(ChatMessage.role == "user")
                            )
                        ).scalars()
                    }
                report = await reconcile(runtime, stale_after=0)
        finally:
            await runtime.close()

    outage = [h for h in traffic.hits if h.phase == "outage" and h.probe != "healthz"]
    refused_ms = sorted(h.ms for h in outage if h.status == 503)
    p95 = refused_ms[int(0.95 * (len(refused_ms) - 1))] if refused_ms else float("nan")
    print(
        f"\npostgres down {DB_DOWN} s: recovered in {recovered_in:.2f} s "
        f"(target {RECOVERY_DEADLINE:.0f} s); 503s while down: {len(refused_ms)}, "
        f"p95 {p95:.1f} ms, max {max(refused_ms, default=0):.1f} ms; jobs {dict(settled)}\n"
        f"{traffic.table()}\n{report.table()}"
    )
    server_errors = [h for h in traffic.hits if h.status >= 500 and h.status != 503]
    assert not server_errors, server_errors[:5]
    statuses = traffic.statuses("outage")
    assert set(statuses["healthz"]) == {200}
    for name in healthy:
        assert set(statuses[name]) == {503}, (name, statuses[name])
    # Every acknowledged write is there, whole; every refused one left nothing.
    assert set(rows) == set(accepted)
    assert not {title for title, _ in rows.values()} & set(refused)
    assert {status for _, status in rows.values()} == {FileStatus.processed}
    assert set(rooms) == set(rooms_made)
    assert not set(rooms.values()) & set(rooms_refused)
    assert set(messages_sent) <= user_messages
    assert settled[JobStatus.failed] == 0
    assert report.ok, report.table()
