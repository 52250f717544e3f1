"""A shopping day: 200 buyers browsing, searching, carting and paying against a seeded marketplace.

``python -m bench.load shopping-day [--minutes 5] [--users 200] [--products 10000] …``

What runs, all on 127.0.0.1: a fresh PostgreSQL database filled by ``oja seed`` (products,
stores, buyers; timed and shown), the sandbox fakes (``oja sandbox``, a subprocess: Paystack takes
the payments and sends its webhooks), one API process (uvicorn), two workers (``oja worker``, one
with beat) on that database and a Redis db (flushed first and last), and ``users`` simulated
buyers in this process: seeded buyers logged in (untimed setup), then, each in turn, a weighted
task and a think time (1–3 s): list products, search (words and a category), view a product,
recommendations, add to the cart, view the cart, check out (``POST /checkout``, pay on the fake's
checkout page, poll the group until ``paid``). Then the jobs drain and ``oja reconcile`` checks
the books: stock equal to its movements and never negative (nothing oversold), the ledger
balanced (no money lost or doubled), every paid group booked and its orders confirmed.

Prints p50/p95/p99 per endpoint against the goals (reads p95 < 300 ms, checkout and cart writes
p95 < 600 ms), the error count (goal 0), the CPU of the API, the workers and this load generator
(so a saturated client would show), and the load average before and after (the machine is
shared). Every process started is stopped and the database dropped, on errors and Ctrl-C too.

``--probe`` also measures both event loops over the day (:mod:`bench.loop_probe`): the API's and
this process's loop lag, their stalls and what ran during them, their garbage collections and
heaps, and the API's own time per route from the ASGI call to the last body byte, its product
page split by what the traffic check did (a read of the store's plan, a new visitor admitted).
``--db-prefix`` names the run's database.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":  # `make bench` runs every file in bench/; this scenario runs via load
    print("the shopping day runs as: python -m bench.load shopping-day [--minutes 5]")
    sys.exit(0)

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import shlex
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import aiohttp
import httpx
from tests.reliability.load import (
    HOST,
    SECRET,
    LoadConfig,
    Recorder,
    Row,
    Sample,
    _admin_execute,
    cpu_seconds,
    free_port,
    job_counts,
    server_env,
    unfinished_jobs,
)

from bench.common import markdown_table, start_process, stop_process
from bench.loop_probe import RESET_PATH, SUMMARY_PATH, LoopProbe
from oja.core.clock import utcnow
from oja.core.config import Settings
from oja.core.runtime import Runtime
from oja.marketplace.seed.plan import EMAIL_DOMAIN, PASSWORD
from oja.reconcile import run as reconcile

READ_P95_MS = 300.0
WRITE_P95_MS = 600.0
WRITES = ("POST /cart/items", "POST /checkout")
"""Held to the checkout goal; the fake's own page and the paid-poll are shown, not judged."""
ADDRESS = {"name": "Ada Obi", "line1": "12 Allen Avenue", "city": "Ikeja", "country": "NG"}
WORDS = ("phone", "ankara", "shea", "blender", "football", "novel", "perfume", "classic", "eko")


@dataclass(frozen=True)
class DayConfig:
    users: int = 200
    minutes: float = 5.0
    products: int = 10_000
    vendors: int = 50
    buyers: int = 2_000
    seed: int = 42
    think_min: float = 1.0
    think_max: float = 3.0
    warmup: float = 20.0
    """Users start one by one over this many seconds; their requests count for errors only."""
    paid_timeout: float = 30.0
    drain_timeout: float = 120.0
    probe: bool = False
    """Probe the API's and this process's event loops (:mod:`bench.loop_probe`)."""
    db_prefix: str = "oja_shop"


@dataclass
class Shopper:
    index: int
    rng: random.Random
    headers: dict[str, str] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)
    """Product ids from the shopper's last listings (what it may open next)."""
    carted: int = 0


@dataclass
class Tally:
    """What the day needs besides the samples: its categories, and what the checkouts did."""

    categories: list[str] = field(default_factory=list)
    paid_timeout: float = 30.0
    checkouts: int = 0
    paid: int = 0
    sold_out: int = 0
    paid_groups: list[str] = field(default_factory=list)


# --- the stack -----------------------------------------------------------------------------------


def _free_block(size: int) -> int:
    """A base port with ``size`` free ports after it (the sandbox's fixed offsets)."""
    rng = random.Random()
    for _ in range(50):
        base = rng.randrange(20_000, 40_000)
        try:
            for offset in range(size):
                with socket.socket() as sock:
                    sock.bind((HOST, base + offset))
        except OSError:
            continue
        return base
    raise RuntimeError("no block of free ports for the sandbox")


def _dotenv(path: Path) -> dict[str, str]:
    pairs = (shlex.split(line)[0] for line in path.read_text().splitlines() if "=" in line[:80])
    return dict(pair.split("=", 1) for pair in pairs if not pair.startswith("#"))


async def _wait_for(check: Callable[[], Awaitable[bool]], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, OSError):
            if await check():
                return
        await asyncio.sleep(0.25)
    raise TimeoutError(f"{what} not ready within {timeout:g} s")


@dataclass
class Stack:
    base_url: str
    settings: Settings
    workdir: Path
    api: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    sandbox: subprocess.Popen[bytes] | None = None
    database_dsn: str = ""
    """The run's database for asyncpg (``postgresql://…/name``): its backends and statements."""
    seed_output: str = ""

    def tail(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.workdir.glob("*.log"))
        )

    def check_alive(self) -> None:
        for process in [*self.workers, *([self.api] if self.api else [])]:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args!r} exited with {process.returncode}")


def _oja(*args: str) -> list[str]:
    return [sys.executable, "-m", "oja.cli", *args]


@asynccontextmanager
async def shopping_stack(
    workdir: Path, postgres_server: str, redis_url: str, config: DayConfig
) -> AsyncIterator[Stack]:
    """Database, Redis db, sandbox, seed, two workers and the API; all gone after the block."""
    import redis

    server = "postgresql+asyncpg://" + postgres_server.split("://", 1)[1]
    name = f"{config.db_prefix}_{uuid.uuid4().hex[:10]}"
    database_url = f"{server.rpartition('/')[0]}/{name}"
    port = free_port()
    base_url = f"http://{HOST}:{port}"
    env = server_env(workdir, database_url, redis_url, LoadConfig())
    # The seeded stores are on the free plan (20 visitors a month each): a day of 200 buyers is
    # the operator's traffic, not a store's, so the limit is lifted for the run.
    env["OJA_VENDOR_FREE_TIER_USERS"] = "1000000"
    env["OJA_DATABASE_POOL_TIMEOUT"] = "30"
    settings = Settings(
        env="test",
        secret_key=SECRET,
        var_dir=workdir / "var",
        database_url=database_url,
        redis_url=redis_url,
        broker_url=redis_url,
    )
    stack = Stack(base_url, settings, workdir, database_dsn=_asyncpg_dsn(database_url))
    started: list[subprocess.Popen[bytes]] = []
    await _admin_execute(server, f'CREATE DATABASE "{name}"')
    flush = redis.Redis.from_url(redis_url)
    try:
        flush.flushdb()
        sandbox_env = workdir / "sandbox.env"
        argv = _oja("sandbox", "--port-base", str(_free_block(12)), "--oja-url", base_url)
        argv += ["--write-env", str(sandbox_env)]
        stack.sandbox = start_process(argv, env=env, log_path=workdir / "sandbox.log")
        started.append(stack.sandbox)

        async def written() -> bool:
            return sandbox_env.exists() and "OJA_PAYSTACK_BASE_URL" in sandbox_env.read_text()

        await _wait_for(written, "the sandbox", 60)
        env.update(_dotenv(sandbox_env))
        seeded = await asyncio.to_thread(
            subprocess.run,
            _oja(
                "seed",
                f"--products={config.products}",
                f"--vendors={config.vendors}",
                f"--buyers={config.buyers}",
                f"--seed={config.seed}",
            ),
            env=env,
            cwd=workdir,
            capture_output=True,
            text=True,
            check=False,
        )
        if seeded.returncode != 0:
            raise RuntimeError(f"oja seed failed:\n{seeded.stdout}\n{seeded.stderr[-3000:]}")
        stack.seed_output = seeded.stdout
        await _database_fetch(
            stack.database_dsn, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
        )
        for n, extra in enumerate((["--beat"], [])):
            argv = _oja("worker", "--concurrency", "1", *extra)
            worker = start_process(argv, env=env, log_path=workdir / f"worker{n + 1}.log")
            started.append(worker)
            stack.workers.append(worker)
        factory = "bench.loop_probe:create_app" if config.probe else "oja.main:create_app"
        argv = [sys.executable, "-m", "uvicorn", factory, "--factory"]
        argv += ["--host", HOST, "--port", str(port), "--no-access-log", "--log-level", "warning"]
        # Longer than any think time: an idle pooled connection is never closed under a request.
        argv += ["--timeout-keep-alive", "30"]
        stack.api = start_process(argv, env=env, log_path=workdir / "api.log")
        started.append(stack.api)

        async def ready() -> bool:
            stack.check_alive()
            async with httpx.AsyncClient(base_url=base_url, timeout=2) as client:
                return (await client.get("/readyz")).status_code == 200

        await _wait_for(ready, "the API and its workers", 90)
        yield stack
    finally:
        try:
            for process in reversed(started):
                await asyncio.to_thread(stop_process, process)
        finally:
            await _admin_execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            with contextlib.suppress(redis.RedisError):
                flush.flushdb()
            flush.close()


# --- where the CPU and the database time go ---------------------------------------------------

TOP_STATEMENTS = 25
OURS = (
    "API",
    "two workers",
    "sandbox fakes",
    "load generator",
    "postgres backends of this database",
)
"""The day's own process groups (the rest of the machine is other people's work)."""


def _asyncpg_dsn(database_url: str) -> str:
    return "postgresql://" + database_url.split("://", 1)[1]


async def _database_fetch(dsn: str, statement: str) -> list[Any]:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(statement))
    finally:
        await conn.close()


def _pid_cpu(pid: int) -> float:
    """User + system CPU seconds of one live process (0 when gone or off Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_cpu() -> dict[int, float]:
    """CPU seconds of every ``postgres`` process this machine shows (backends of all databases,
    checkpointer…), by pid."""
    found = {}
    for comm in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError, ValueError):
            if comm.read_text().strip() == "postgres":
                found[int(comm.parent.name)] = _pid_cpu(int(comm.parent.name))
    return found


def _machine_busy() -> float:
    """CPU seconds every process of the machine has used, all cores (``/proc/stat``: all but
    idle and iowait; 0 off Linux)."""
    try:
        fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    except OSError:
        return 0.0
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _since(now: dict[int, float], before: dict[int, float]) -> float:
    """CPU since ``before`` of the processes alive now (one started since counts from 0; one
    that ended in between is lost)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in now.items())


_OWN_BACKENDS = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
_OWN_DATABASE = "(SELECT oid FROM pg_database WHERE datname = current_database())"


@dataclass
class Usage:
    """CPU seconds per process group and the statements' times over the measured day."""

    cpu: dict[str, float] = field(default_factory=dict)
    statements: list[list[object]] = field(default_factory=list)
    statements_ms: float = 0.0


@dataclass
class UsageProbe:
    """Reads CPU counters at the start of the day and again at its end (:meth:`usage`)."""

    stack: Stack
    backends: dict[int, float] = field(default_factory=dict)
    postgres: dict[int, float] = field(default_factory=dict)
    counters: dict[str, float] = field(default_factory=dict)

    def _counters(self) -> dict[str, float]:
        stack = self.stack
        return {
            "API": cpu_seconds(stack.api.pid) if stack.api else 0.0,
            "two workers": sum(cpu_seconds(w.pid) for w in stack.workers),
            "sandbox fakes": cpu_seconds(stack.sandbox.pid) if stack.sandbox else 0.0,
            "load generator": time.process_time(),
            "whole machine": _machine_busy(),
        }

    async def _backends(self) -> dict[int, float]:
        rows = await _database_fetch(self.stack.database_dsn, _OWN_BACKENDS)
        return {int(row["pid"]): _pid_cpu(int(row["pid"])) for row in rows}

    async def start(self) -> None:
        await _database_fetch(
            self.stack.database_dsn,
            f"SELECT pg_stat_statements_reset(0, {_OWN_DATABASE}, 0)",
        )
        self.backends = await self._backends()
        self.postgres = _postgres_cpu()
        self.counters = self._counters()

    async def usage(self) -> Usage:
        counters, backends, postgres = self._counters(), await self._backends(), _postgres_cpu()
        cpu = {name: counters[name] - self.counters[name] for name in counters}
        machine = cpu.pop("whole machine")
        # The pools are fixed, so few of this database's backends end during the day.
        cpu["postgres backends of this database"] = _since(backends, self.backends)
        cpu["everything else on the machine"] = machine - sum(cpu.values())
        cpu["(of which other postgres processes)"] = (
            _since(postgres, self.postgres) - cpu["postgres backends of this database"]
        )
        cpu["whole machine"] = machine
        rows = await _database_fetch(
            self.stack.database_dsn,
            "SELECT total_exec_time, calls, mean_exec_time, rows, shared_blks_hit, shared_blks_read,"
            " regexp_replace(query, '\\s+', ' ', 'g') AS query"
            f" FROM pg_stat_statements WHERE dbid = {_OWN_DATABASE}"
            " ORDER BY total_exec_time DESC",
        )
        statements = [
            [
                round(row["total_exec_time"] / 1000, 1),
                row["calls"],
                round(row["mean_exec_time"], 2),
                row["rows"],
                round((row["shared_blks_hit"] + row["shared_blks_read"]) / max(row["calls"], 1)),
                row["query"][:150],
            ]
            for row in rows[:TOP_STATEMENTS]
        ]
        total_ms = sum(float(row["total_exec_time"]) for row in rows)
        return Usage(cpu=cpu, statements=statements, statements_ms=total_ms)


# --- the shoppers' client -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    """A response read whole; its body is parsed only by the tasks that need a field of it."""

    status_code: int
    body: bytes
    headers: Mapping[str, str]

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


@dataclass
class Client:
    """The shoppers' one pooled aiohttp session (a keep-alive connection per busy user).

    aiohttp rather than httpx: this process shares the machine's cores with what it measures,
    and an aiohttp request costs it a fraction of an httpx one (C parser, less Python a call)."""

    session: aiohttp.ClientSession
    base_url: str

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        full = url if url.startswith(("http://", "https://")) else self.base_url + url
        async with self.session.request(
            method, full, params=params, json=json, headers=headers
        ) as response:
            return Answer(response.status, await response.read(), response.headers)


class DayRecorder(Recorder):
    """:class:`Recorder` for :class:`Client`: the same samples, aiohttp's errors as status 0."""

    transport_errors = (aiohttp.ClientError, TimeoutError)

    async def call(  # type: ignore[override]
        self,
        client: Client,
        endpoint: str,
        method: str,
        url: str,
        *,
        expect: set[int],
        **kwargs: Any,
    ) -> Answer | None:
        answer = await super().call(
            cast(Any, client), endpoint, method, url, expect=expect, **kwargs
        )
        return cast("Answer | None", answer)


# --- the shoppers --------------------------------------------------------------------------------


Task = Callable[[Client, Shopper, DayRecorder, Tally], Awaitable[None]]


def _take_products(shopper: Shopper, response: Answer | None) -> None:
    if response is not None and response.status_code == 200:
        ids = [str(item["id"]) for item in response.json()["items"]]
        if ids:
            shopper.seen = ids


async def browse(client: Client, s: Shopper, rec: DayRecorder, tally: Tally) -> None:
    params = {"page": s.rng.randrange(1, 30), "per_page": 20}
    answer = await rec.call(
        client, "GET /products", "GET", "/products", expect={200}, params=params, headers=s.headers
    )
    _take_products(s, answer)


async def search(client: Client, s: Shopper, rec: DayRecorder, tally: Tally) -> None:
    params = {"q": s.rng.choice(WORDS), "per_page": 20}
    answer = await rec.call(
        client, "GET /search?q", "GET", "/search", expect={200}, params=params, headers=s.headers
    )
    _take_products(s, answer)


async def category(client: Client, s: Shopper, rec: DayRecorder, tally: Tally) -> None:
    slug = s.rng.choice(tally.categories)
    params = {"category": slug, "sort": s.rng.choice(("price_asc", "rating", "newest"))}
    answer = await rec.call(
        client,
        "GET /search?category",
        "GET",
        "/search",
        expect={200},
        params=params,
        headers=s.headers,
    )
    _take_products(s, answer)


async def product(client: Client, s: Shopper, rec: DayRecorder, tally: Tally) -> None:
    if not s.seen:
        await browse(client, s, rec, tally)
        return
    await _open(client, s, rec)


async def _open(client: Client, s: Shopper, rec: DayRecorder) -> Answer | None:
    product_id = s.rng.choice(s.seen)
    answer = await rec.call(
        client,
        "GET /products/{id}",
        "GET",
        f"/products/{product_id}",
        expect={200},
        headers=s.headers,
    )
    return answer if answer is not None and answer.status_code == 200 else None


async def recommended(client: Client, s: Shopper, rec: DayRecorder, tally: Tally) -> None:
    await rec.call(
        client, "GET /recommendations", "GET", "/recommendations", expect={200}, headers=s.headers
    )


async def cart_add(client: Client, s: Shopper, rec: DayRecorder, tally: Tally) -> None:
    if not s.seen:
        await browse(client, s, rec, tally)
        return
    shown = await _open(client, s, rec)
    if shown is None:
        return
    variants = [v for v in shown.json().get("variants", []) if v.get("stock", 0) > 0]
    if not variants:
        return
    body = {"variant_id": s.rng.choice(variants)["id"], "quantity": 1}
    # 409: the last units went to another buyer between the page and the click (not an error).
    answer = await rec.call(
        client,
        "POST /cart/items",
        "POST",
        "/cart/items",
        expect={201, 409},
        json=body,
        headers=s.headers,
    )
    if answer is not None and answer.status_code == 201:
        s.carted += 1


async def cart(client: Client, s: Shopper, rec: DayRecorder, tally: Tally) -> None:
    await rec.call(client, "GET /cart", "GET", "/cart", expect={200}, headers=s.headers)


async def checkout(client: Client, s: Shopper, rec: DayRecorder, tally: Tally) -> None:
    if not s.carted:
        await cart_add(client, s, rec, tally)
        return
    headers = {**s.headers, "Idempotency-Key": uuid.uuid4().hex}
    placed = await rec.call(
        client,
        "POST /checkout",
        "POST",
        "/checkout",
        expect={201, 409},
        json={"shipping_address": ADDRESS},
        headers=headers,
    )
    if placed is None or placed.status_code != 201:
        tally.sold_out += placed is not None
        return
    s.carted = 0
    tally.checkouts += 1
    group = placed.json()
    pay_url = f"{group['payment']['authorization_url']}/pay"
    paid = await rec.call(
        client,
        "pay on the Paystack fake",
        "POST",
        pay_url,
        expect={200},
        headers={"Accept": "application/json"},
    )
    if paid is None or paid.status_code != 200:
        return
    deadline = time.monotonic() + tally.paid_timeout
    while time.monotonic() < deadline:
        answer = await rec.call(
            client,
            "GET /order-groups/{id}",
            "GET",
            f"/order-groups/{group['order_group_id']}",
            expect={200},
            headers=s.headers,
        )
        if answer is not None and answer.status_code == 200 and answer.json()["status"] == "paid":
            tally.paid += 1
            tally.paid_groups.append(str(group["order_group_id"]))
            return
        await asyncio.sleep(0.5)
    rec.samples.append(
        Sample(
            rec.phase,
            "group paid in time",
            0,
            tally.paid_timeout,
            False,
            f"group {group['order_group_id']} not paid within {tally.paid_timeout:g} s",
            time.monotonic(),
        )
    )


TASKS: list[tuple[Task, int]] = [
    (browse, 18),
    (search, 18),
    (category, 10),
    (product, 24),
    (recommended, 8),
    (cart_add, 10),
    (cart, 6),
    (checkout, 6),
]


async def _login(client: Client, shopper: Shopper) -> None:
    body = {"email": f"buyer{shopper.index}@{EMAIL_DOMAIN}", "password": PASSWORD}
    for _ in range(30):
        answer = await client.request("POST", "/auth/login", json=body)
        if answer.status_code == 200:
            shopper.headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
            return
        if answer.status_code != 429:
            raise AssertionError(f"login {body['email']}: {answer.status_code} {answer.text}")
        await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))
    raise AssertionError(f"login {body['email']}: still busy")


async def _shop(
    client: Client,
    shopper: Shopper,
    rec: DayRecorder,
    tally: Tally,
    start: float,
    deadline: float,
    config: DayConfig,
) -> None:
    tasks, weights = [t for t, _ in TASKS], [w for _, w in TASKS]
    await asyncio.sleep(max(0.0, start - time.monotonic()))
    while time.monotonic() < deadline:
        await shopper.rng.choices(tasks, weights)[0](client, shopper, rec, tally)
        think = shopper.rng.uniform(config.think_min, config.think_max)
        await asyncio.sleep(max(0.0, min(think, deadline - time.monotonic())))


@dataclass
class DayResult:
    config: DayConfig
    rec: Recorder
    tally: Tally
    seconds: float
    usage: Usage
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    seed_output: str
    jobs: dict[str, int] = field(default_factory=dict)
    kinds: list[list[object]] = field(default_factory=list)
    """Per job kind at the end of the day: count, attempts, mean run ms (``job_kinds``)."""
    report_table: str = ""
    report_ok: bool = False
    confirmed: int = 0
    probes: dict[str, Any] = field(default_factory=dict)
    """With ``--probe``: the event loops of the API and of this process over the measured day."""

    @property
    def day_jobs(self) -> int:
        return sum(cast(int, kind[1]) for kind in self.kinds)

    def rows(self) -> list[Row]:
        mixed = self.rec.of("day")
        names = sorted({s.endpoint for s in mixed})
        return [Row.of(n, [s for s in mixed if s.endpoint == n]) for n in names]

    def errors(self) -> list[str]:
        return [s.detail for s in self.rec.samples if not s.ok]

    def table(self) -> str:
        body = []
        for row in self.rows():
            target = WRITE_P95_MS if row.endpoint in WRITES else READ_P95_MS
            judged = row.endpoint.startswith(("GET /", "POST /"))
            if row.endpoint == "GET /order-groups/{id}":
                judged = True
            verdict = ("PASS" if row.p95_ms < target else "MISS") if judged else "–"
            body.append(
                [
                    row.endpoint,
                    row.requests,
                    row.errors,
                    row.p50_ms,
                    row.p95_ms,
                    row.p99_ms,
                    row.max_ms,
                    f"p95<{target:g}: {verdict}" if judged else "(the fake)",
                ]
            )
        mixed = self.rec.of("day")
        overall = Row.of("overall", mixed)
        body.append(
            [
                "overall",
                overall.requests,
                overall.errors,
                overall.p50_ms,
                overall.p95_ms,
                overall.p99_ms,
                overall.max_ms,
                "",
            ]
        )
        headers = ["endpoint", "requests", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"]
        errors = self.errors()
        c = self.config
        lines = [
            f"shopping day: {c.users} users for {self.seconds / 60:.1f} min measured after a "
            f"{c.warmup:g} s ramp, think {c.think_min:g}-{c.think_max:g} s; seeded "
            f"{c.products} products, {c.vendors} stores, {c.buyers} buyers (seed {c.seed})",
            markdown_table([*headers, "goal"], body),
            f"throughput {overall.requests / self.seconds:.1f} req/s; checkouts "
            f"{self.tally.checkouts}, paid and confirmed {self.tally.paid}, sold out at "
            f"checkout {self.tally.sold_out}",
            f"errors (ramp and measured): {len(errors)}",
            *(f"  error: {e}" for e in errors[:10]),
            "CPU over the measured day (share of one core; the machine has "
            f"{os.cpu_count()}): "
            + ", ".join(f"{name} {sec / self.seconds:.0%}" for name, sec in self.usage.cpu.items()),
            # Per request served: what the work costs, whatever share of the machine it got.
            "CPU ms per request served: "
            + ", ".join(
                f"{name} {sec * 1000 / max(overall.requests, 1):.1f}"
                for name, sec in self.usage.cpu.items()
                if name in OURS
            ),
            f"top statements of this database by total execution time (all statements: "
            f"{self.usage.statements_ms / 1000:.1f} s of execution in {self.seconds:.0f} s, "
            f"{self.usage.statements_ms / max(overall.requests, 1):.1f} ms per request):",
            markdown_table(
                ["total s", "calls", "mean ms", "rows", "buffers/call", "statement"],
                self.usage.statements,
            ),
            f"load average (1, 5, 15 min) before {_load(self.load_before)}, "
            f"after {_load(self.load_after)} on {os.cpu_count()} CPUs",
            f"jobs: {self.jobs}",
            f"jobs created in the measured day and its drain, by kind (all {self.day_jobs}, "
            f"{self.day_jobs / self.seconds:.1f} a second; two-worker CPU "
            f"{self.usage.cpu.get('two workers', 0.0) * 1000 / max(self.day_jobs, 1):.1f} ms a job):",
            markdown_table(
                ["kind", "jobs", "attempts", "mean run ms", "not succeeded"], self.kinds
            ),
            *self.probe_lines(),
            f"paid groups of the day confirmed: {self.confirmed} of {self.tally.paid}",
            "oja reconcile after the day:",
            self.report_table.rstrip("\n"),
        ]
        return "\n".join(lines) + "\n"

    def probe_lines(self) -> list[str]:
        """The loop probes' figures (``--probe``): each loop's lag and stalls, what ran during
        the stalls, its garbage collections, and the API's own time per route."""
        lines = []
        for name, loop in (
            (n, self.probes[n]["loop"] if n == "API" else self.probes[n]) for n in self.probes
        ):
            lines.append(
                f"{name} event loop: lag {_figures(loop['lag_ms'])}; stalls over "
                f"{loop['stalls']['threshold_ms']:g} ms {_figures(loop['stalls'])}, "
                f"{loop['stalls']['total_ms'] / 1000:.1f} s in all"
            )
            for generation, times in loop["gc_ms"].items():
                lines.append(
                    f"  gc {generation}: {_figures(times)}, {times['total_ms'] / 1000:.1f} s, "
                    f"{times['collected']} objects freed"
                )
            heap = loop["heap"]
            lines.append(
                f"  tracked at the end: generations {heap['generations']}, frozen {heap['frozen']};"
                " the oldest generation's most numerous types:"
            )
            lines += [f"    {n:>7}  {kind}" for kind, n in heap["oldest_types"]]
            lines.append("  what the loop ran during its stalls (samples, one per 5 ms):")
            lines += [f"    {n:>5}  {where}" for where, n in loop["stall_samples"]]
        if "API" in self.probes:
            lines.append("API time per request, ASGI call to last body byte (ms):")
            lines += [
                f"  {name}: {_figures(figures)}"
                for name, figures in self.probes["API"]["requests_ms"].items()
            ]
        return lines


def _figures(values: Mapping[str, float]) -> str:
    if not values.get("count"):
        return "none"
    return (
        f"n {values['count']:.0f} p50 {values['p50']:g} p95 {values['p95']:g} "
        f"p99 {values['p99']:g} max {values['max']:g}"
    )


def _load(values: tuple[float, float, float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


async def job_kinds(runtime: Runtime, since: datetime) -> list[list[object]]:
    """Each job kind created since ``since`` (the measured day and its drain): how many, their attempts, the mean time from start to
    finish (the worker's wall time, queue wait excluded) and how many did not succeed; most
    numerous first. What the workers' CPU went on, kind by kind."""
    from sqlalchemy import func, select

    from oja.core.jobs.models import Job, JobStatus

    run_ms = func.avg(func.extract("epoch", Job.finished_at - Job.started_at) * 1000)
    statement = (
        select(
            Job.kind,
            func.count(),
            func.sum(Job.attempts),
            run_ms,
            func.count().filter(Job.status != str(JobStatus.succeeded)),
        )
        .where(Job.created_at >= since)
        .group_by(Job.kind)
        .order_by(func.count().desc(), Job.kind)
    )
    async with runtime.database.sessionmaker() as db:
        rows = (await db.execute(statement)).all()
    return [
        [kind, int(n), int(attempts or 0), round(float(ms or 0.0), 1), int(failed)]
        for kind, n, attempts, ms, failed in rows
    ]


async def _confirmed(runtime: Runtime, groups: list[str]) -> int:
    """How many of the day's paid groups have every store order past ``pending``."""
    from sqlalchemy import func, select

    from oja.marketplace.orders.models import OrderStatus, StoreOrder

    if not groups:
        return 0
    ids = [uuid.UUID(g) for g in groups]
    async with runtime.database.sessionmaker() as db:
        pending = await db.scalar(
            select(func.count(func.distinct(StoreOrder.group_id))).where(
                StoreOrder.group_id.in_(ids), StoreOrder.status == str(OrderStatus.pending)
            )
        )
    return len(ids) - int(pending or 0)


async def run_day(stack: Stack, config: DayConfig) -> DayResult:
    rec, tally = DayRecorder(), Tally(paid_timeout=config.paid_timeout)
    shoppers = [Shopper(i, random.Random(f"{config.seed}:{i}")) for i in range(config.users)]
    connector = aiohttp.TCPConnector(limit=config.users + 20, keepalive_timeout=25)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        client = Client(session, stack.base_url)
        tree = (await client.request("GET", "/categories")).json()
        tally.categories = [n["slug"] for n in tree] + [
            c["slug"] for n in tree for c in n.get("children", [])
        ]
        own_loop = LoopProbe() if config.probe else None
        if own_loop is not None:
            own_loop.start(asyncio.get_running_loop())
        gate = asyncio.Semaphore(4)

        async def login(shopper: Shopper) -> None:
            async with gate:
                await _login(client, shopper)

        await asyncio.gather(*(login(s) for s in shoppers))
        # This process holds Oja's modules, the seed's settings and 200 sessions: hundreds of
        # thousands of objects that live to the end. Unfrozen, each full collection during the day
        # walked them all while the loop stood still (~1 s at a load of 10), a pause counted in the
        # latency of every request then in flight; the API freezes its own the same way.
        gc.collect()
        gc.freeze()
        rec.phase = "ramp"
        ramp = time.monotonic()
        measured = ramp + config.warmup
        deadline = measured + config.minutes * 60
        starts = [ramp + config.warmup * s.index / len(shoppers) for s in shoppers]
        day = asyncio.gather(
            *(
                _shop(client, s, rec, tally, at, deadline, config)
                for s, at in zip(shoppers, starts, strict=True)
            )
        )
        try:
            await asyncio.sleep(max(0.0, measured - time.monotonic()))
            rec.phase = "day"
            if own_loop is not None:
                own_loop.stop()
                own_loop = LoopProbe()
                own_loop.start(asyncio.get_running_loop())
                await client.request("POST", RESET_PATH)
            load_before = os.getloadavg()
            probe = UsageProbe(stack)
            await probe.start()
            began, began_at = time.monotonic(), utcnow()
            await day
        except BaseException:
            day.cancel()
            raise
        seconds = time.monotonic() - began
        probes: dict[str, Any] = {}
        if own_loop is not None:
            own_loop.stop()
            probes["load generator"] = own_loop.summary()
            probes["API"] = (await client.request("GET", SUMMARY_PATH)).json()
        result = DayResult(
            config=config,
            rec=rec,
            tally=tally,
            seconds=seconds,
            usage=await probe.usage(),
            load_before=load_before,
            load_after=os.getloadavg(),
            seed_output=stack.seed_output,
            probes=probes,
        )
    stopped_at = utcnow()
    runtime = Runtime.create(stack.settings)
    try:
        drain = time.monotonic()
        while await unfinished_jobs(runtime, stopped_at):
            stack.check_alive()
            if time.monotonic() - drain > config.drain_timeout:
                break
            await asyncio.sleep(0.5)
        result.jobs = dict(await job_counts(runtime))
        result.kinds = await job_kinds(runtime, began_at)
        result.confirmed = await _confirmed(runtime, tally.paid_groups)
        report = await reconcile(runtime, stale_after=0, now=stopped_at)
        result.report_table, result.report_ok = report.table(), report.ok
    finally:
        await runtime.close()
    return result


async def main(args: argparse.Namespace) -> int:
    config = DayConfig(
        users=args.users,
        minutes=args.minutes,
        products=args.products,
        vendors=args.vendors,
        buyers=args.buyers,
        seed=args.seed,
        warmup=args.warmup,
        probe=args.probe,
        db_prefix=args.db_prefix,
    )
    if config.users > config.buyers:
        raise SystemExit("--users must not exceed --buyers: each user is a seeded buyer")
    with tempfile.TemporaryDirectory(prefix="oja-shopping-day-") as folder:
        workdir = Path(folder)
        async with shopping_stack(workdir, args.postgres_url, args.redis_url, config) as stack:
            print(stack.seed_output, end="")
            try:
                result = await run_day(stack, config)
            except BaseException:
                print(stack.tail(), file=sys.stderr)
                raise
    print(result.table(), end="")
    rows = result.rows()
    met = all(
        row.p95_ms < (WRITE_P95_MS if row.endpoint in WRITES else READ_P95_MS)
        for row in rows
        if row.endpoint.startswith(("GET /", "POST /"))
    )
    correct = not result.errors() and result.report_ok and result.confirmed == result.tally.paid
    print(
        f"correctness: {'PASS' if correct else 'MISS'}; latency goals: {'PASS' if met else 'MISS'}"
    )
    return 0 if correct and (met or not args.strict) else 1


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.load shopping-day", description=__doc__)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=5.0, help="The measured day (5).")
    parser.add_argument("--warmup", type=float, default=20.0, help="Ramp seconds (not measured).")
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--vendors", type=int, default=50)
    parser.add_argument("--buyers", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--strict", action="store_true", help="Exit 1 on a latency MISS too.")
    parser.add_argument(
        "--probe",
        action="store_true",
        help="Probe the API's and the load generator's event loops (bench/loop_probe.py).",
    )
    parser.add_argument(
        "--db-prefix", default="oja_shop", help="The run's database is named <prefix>_<random>."
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "OJA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
        help="A PostgreSQL server; a database is created for the run and dropped.",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("OJA_TEST_REDIS_URL", "redis://127.0.0.1:6379/6"),
        help="A Redis db the run owns (flushed before and after).",
    )
    return parser.parse_args(argv)


def run(argv: list[str]) -> int:
    """The day on uvloop when it is installed (uvicorn's standard extra brings it): the shoppers'
    event loop is this process's other big cost after the HTTP client."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main(parse(argv)))
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main(parse(argv)))
