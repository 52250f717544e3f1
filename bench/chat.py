"""Chat: Oja's added latency over the provider, and ``GET /chatroom`` cached against uncached.

Oja runs under uvicorn (one process) with ``oja worker`` subprocesses on 127.0.0.1, Redis as broker,
cache, quota store and reply streams, and a fresh migrated database (SQLite unless
``--database-url``). The Gemini fake answers every call after a fixed 200 ms (``latency=0.2``).

* send → reply: ``POST /chatroom/{id}/message`` until its 201 (the request waits for the job), one
  at a time and then ``--concurrency`` at once; Oja's added latency = that time − 200 ms (quota
  reservation, commit, broker hop, worker claim, history read, streaming into Redis, storing the
  reply, waking the waiting request).
* ``GET /chatroom`` req/s for a user with 20 rooms, against the server above (cached, every request
  a hit) and against a second uvicorn process on the same database whose cache TTL is 0.1 ms
  (every request a miss), with the ``X-Cache`` headers counted to prove it.

    python -m bench.chat [--sends 40] [--concurrency 4] [--duration 5] [--connections 16]
                         [--redis-url redis://127.0.0.1:6379/14 (and /13)] [--database-url postgresql://…]
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    _bench_dir = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _bench_dir]
    sys.path.insert(0, str(_bench_dir.parent))

import argparse
import asyncio
import itertools
import tempfile
import time
from collections import Counter
from contextlib import ExitStack

import httpx

from bench.common import (
    bench_env,
    machine_line,
    markdown_table,
    percentile,
    start_process,
    stop_process,
    uvicorn_server,
)
from oja.core.migrate import upgrade
from oja.sandbox.gemini import DEFAULT_API_KEY, GeminiFake
from oja.sandbox.server import SandboxServer

PROVIDER_LATENCY = 0.2
PASSWORD = "bench password 0123"
SECRET = "bench-secret-key-that-is-long-enough-0123456789"
_users = itertools.count()


async def new_user(client: httpx.AsyncClient) -> dict[str, str]:
    email = f"chat-bench-{next(_users)}-{time.time_ns()}@example.com"
    created = await client.post("/auth/signup", json={"email": email, "password": PASSWORD})
    created.raise_for_status()
    login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    login.raise_for_status()
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def new_room(client: httpx.AsyncClient, headers: dict[str, str], title: str) -> str:
    response = await client.post("/chatroom", json={"title": title}, headers=headers)
    response.raise_for_status()
    return str(response.json()["id"])


async def send_once(client: httpx.AsyncClient, headers: dict[str, str], room: str, n: int) -> float:
    started = time.perf_counter()
    response = await client.post(
        f"/chatroom/{room}/message",
        json={"content": f"Question {n}: what is good to eat in Lagos? Keep it short."},
        headers=headers,
    )
    elapsed = time.perf_counter() - started
    if response.status_code != 201:
        raise RuntimeError(f"send answered {response.status_code}: {response.text[:300]}")
    return elapsed * 1000


async def sends(client: httpx.AsyncClient, count: int, concurrency: int) -> list[float]:
    """``count`` sends, ``concurrency`` at a time, spread over Basic users (5 prompts each)."""
    users = [await new_user(client) for _ in range((count + 4) // 5)]
    rooms = [await new_room(client, user, "bench") for user in users]
    slots = [(users[i // 5], rooms[i // 5], i) for i in range(count)]
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)

    async def one(headers: dict[str, str], room: str, n: int) -> None:
        async with gate:
            latencies.append(await send_once(client, headers, room, n))

    await asyncio.gather(*(one(*slot) for slot in slots))
    return latencies


async def list_load(
    base_url: str, headers: dict[str, str], *, duration: float, connections: int
) -> tuple[float, Counter[str]]:
    seen: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        for _ in range(20):  # warm-up (and fill the cache)
            (await client.get("/chatroom", headers=headers)).raise_for_status()
        deadline = time.perf_counter() + duration
        started = time.perf_counter()

        async def worker() -> None:
            while time.perf_counter() < deadline:
                response = await client.get("/chatroom", headers=headers)
                response.raise_for_status()
                seen[response.headers["x-cache"]] += 1

        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    return sum(seen.values()) / elapsed, seen


async def measure(args: argparse.Namespace, base_url: str, uncached_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        await sends(client, 5, 1)  # warm-up: worker processes, connections, the SDK's imports
        idle = await sends(client, args.sends, 1)
        loaded = await sends(client, args.sends, args.concurrency)
        lister = await new_user(client)
        for n in range(20):
            await new_room(client, lister, f"Room {n}")
    cached_rate, cached_seen = await list_load(
        base_url, lister, duration=args.duration, connections=args.connections
    )
    uncached_rate, uncached_seen = await list_load(
        uncached_url, lister, duration=args.duration, connections=args.connections
    )

    provider_ms = PROVIDER_LATENCY * 1000
    rows = []
    for label, values in (
        (f"1 at a time, {args.sends} sends", idle),
        (
            f"{args.concurrency} at once, {args.sends} sends",
            loaded,
        ),
    ):
        added = [v - provider_ms for v in values]
        rows.append(
            [
                label,
                percentile(values, 50),
                percentile(values, 95),
                percentile(added, 50),
                percentile(added, 95),
            ]
        )
    print(machine_line())
    print()
    print(f"Send → reply (201), Gemini fake answering after a fixed {provider_ms:.0f} ms")
    print()
    print(
        markdown_table(
            ["Load", "total p50 ms", "total p95 ms", "Oja added p50 ms", "Oja added p95 ms"], rows
        )
    )
    print()
    print(f"GET /chatroom, 20 rooms, {args.connections} connections, {args.duration:g} s each")
    print()
    print(
        markdown_table(
            ["Server", "req/s", "X-Cache hit", "X-Cache miss"],
            [
                ["cached (TTL 300 s)", cached_rate, cached_seen["hit"], cached_seen["miss"]],
                [
                    "uncached (TTL 0.1 ms)",
                    uncached_rate,
                    uncached_seen["hit"],
                    uncached_seen["miss"],
                ],
                [
                    "cached / uncached",
                    cached_rate / uncached_rate if uncached_rate else 0.0,
                    "",
                    "",
                ],
            ],
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    with tempfile.TemporaryDirectory(prefix="oja-bench-chat-") as tmp, ExitStack() as stack:
        var = Path(tmp)
        database_url = args.database_url or f"sqlite+aiosqlite:///{var / 'oja.db'}"
        if database_url.startswith("postgresql://"):
            database_url = "postgresql+asyncpg://" + database_url.removeprefix("postgresql://")
        upgrade(database_url)
        gemini = GeminiFake(latency=PROVIDER_LATENCY)
        fake = stack.enter_context(SandboxServer(gemini.app))
        env = bench_env(
            OJA_VAR_DIR=str(var),
            OJA_SECRET_KEY=SECRET,
            OJA_DATABASE_URL=database_url,
            OJA_REDIS_URL=args.redis_url,
            OJA_BROKER_URL=args.redis_url,
            OJA_GEMINI_BASE_URL=fake.url,
            OJA_GEMINI_API_KEY=DEFAULT_API_KEY,
            OJA_CHAT_WAIT_SECONDS="30",
            OJA_LOG_LEVEL="WARNING",
            OJA_WORKER_CONCURRENCY=str(args.workers),
        )
        worker = start_process(
            [sys.executable, "-m", "oja.cli", "worker"], env=env, log_path=var / "worker.log"
        )
        try:
            base_url = stack.enter_context(
                uvicorn_server("oja.main:create_app", env=env, log_path=var / "api.log")
            )
            # Its own Redis database for the cache, so the first server's entries are not seen.
            cache_db = args.redis_url.rsplit("/", 1)[0] + "/13"
            redis.Redis.from_url(cache_db).flushdb()
            uncached_env = {**env, "OJA_CHATROOM_CACHE_TTL": "0.0001", "OJA_REDIS_URL": cache_db}
            uncached_url = stack.enter_context(
                uvicorn_server("oja.main:create_app", env=uncached_env, log_path=var / "api2.log")
            )
            asyncio.run(measure(args, base_url, uncached_url))
        except BaseException:
            print((var / "worker.log").read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
        finally:
            stop_process(worker)


if __name__ == "__main__":
    main()
