"""Realtime: commit → WebSocket delivery latency with 500 connected clients, beside a bare Redis
pub/sub round trip measured in the same run.

One uvicorn process serves Oja (``bench/realtime_fixture.py``: Oja plus a route that publishes an
event in its unit of work, stamping the wall clock just before the commit) with Redis as the
fan-out, on a fresh migrated database (SQLite unless ``--database-url``). ``--users`` users hold
``--sockets`` WebSocket connections between them (round-robin, each opened with a ticket).

* one user: ``--events`` events, ``--concurrency`` publishers at once, each to one user's topic
  (all that user's sockets receive it); latency = receive time − commit time, per delivery.
* everyone: ``--broadcasts`` events each addressed to every user's topic (every socket receives it).
* baseline: a redis-py subscriber receiving ``--events`` messages PUBLISHed one at a time by
  another connection (same Redis, same machine): publish → receive.

    python -m bench.realtime [--sockets 500] [--users 50] [--events 200] [--concurrency 4]
                             [--broadcasts 20] [--redis-url redis://127.0.0.1:6379/0]
                             [--database-url postgresql://…]
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
import json
import tempfile
import time
import uuid
from collections import defaultdict

import httpx
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect

from bench.common import (
    HOST,
    bench_env,
    free_port,
    machine_line,
    markdown_table,
    percentile,
    start_process,
    stop_process,
    wait_http_ok,
)
from oja.core.migrate import upgrade

PASSWORD = "bench password 0123"
SECRET = "bench-secret-key-that-is-long-enough-0123456789"
_users = itertools.count()


async def new_user(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    email = f"rt-bench-{next(_users)}-{time.time_ns()}@example.com"
    created = await client.post("/auth/signup", json={"email": email, "password": PASSWORD})
    created.raise_for_status()
    login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    login.raise_for_status()
    return str(created.json()["id"]), {"Authorization": f"Bearer {login.json()['access_token']}"}


class Receivers:
    """Every socket's reader: when each event id reached each socket."""

    def __init__(self) -> None:
        self.arrivals: dict[int, list[float]] = defaultdict(list)
        self.committed: dict[int, float] = {}
        self.changed = asyncio.Event()

    async def read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            now = time.time()
            message = json.loads(raw)
            self.arrivals[message["id"]].append(now)
            self.changed.set()

    async def wait_for(self, event_id: int, copies: int) -> None:
        while len(self.arrivals.get(event_id, ())) < copies:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), timeout=30)

    def latencies(self, ids: list[int]) -> list[float]:
        return [(t - self.committed[i]) * 1000 for i in ids for t in self.arrivals[i]]


async def measure_oja(args: argparse.Namespace, base_url: str) -> dict[str, list[float]]:
    ws_url = base_url.replace("http://", "ws://") + "/ws"
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:
        users = [await new_user(client) for _ in range(args.users)]
        owners = [users[n % len(users)] for n in range(args.sockets)]
        sockets_of: dict[str, int] = defaultdict(int)
        for user_id, _ in owners:
            sockets_of[user_id] += 1
        receivers = Receivers()
        sockets: list[ClientConnection] = []
        for _user_id, headers in owners:
            ticket = (await client.post("/ws/ticket", headers=headers)).json()["ticket"]
            sockets.append(await connect(f"{ws_url}?ticket={ticket}", proxy=None, max_queue=None))
        readers = [asyncio.create_task(receivers.read(ws)) for ws in sockets]
        try:
            gate = asyncio.Semaphore(args.concurrency)

            async def one(n: int) -> int:
                user_id = users[n % len(users)][0]
                async with gate:
                    body = {"topics": [f"user:{user_id}"], "data": {"n": n}}
                    response = await client.post("/_bench/publish", json=body)
                    event_id = int(response.json()["id"])
                    await receivers.wait_for(event_id, sockets_of[user_id])
                    return event_id

            single = await asyncio.gather(*(one(n) for n in range(args.events)))
            everyone = [f"user:{user_id}" for user_id, _ in users]
            broadcast = []
            for n in range(args.broadcasts):
                body = {"topics": everyone, "data": {"n": n}}
                event_id = int((await client.post("/_bench/publish", json=body)).json()["id"])
                await receivers.wait_for(event_id, args.sockets)
                broadcast.append(event_id)
            commits = (await client.get("/_bench/commits")).json()
            receivers.committed = {int(k): float(v) for k, v in commits.items()}
        finally:
            for ws in sockets:
                await ws.close()
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
    return {
        "one user's sockets": receivers.latencies(list(single)),
        f"all {args.sockets} sockets": receivers.latencies(broadcast),
    }


async def measure_redis(redis_url: str, count: int) -> list[float]:
    channel = f"oja:bench:realtime:{uuid.uuid4().hex}"
    subscriber = aioredis.Redis.from_url(redis_url)
    publisher = aioredis.Redis.from_url(redis_url)
    latencies = []
    try:
        async with subscriber.pubsub() as pubsub:
            await pubsub.subscribe(channel)
            await pubsub.get_message(timeout=5)  # the subscribe confirmation
            for n in range(count):
                started = time.time()
                await publisher.publish(channel, json.dumps({"n": n, "t": started}))
                message = None
                while message is None:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
                latencies.append((time.time() - started) * 1000)
    finally:
        await subscriber.aclose()
        await publisher.aclose()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--broadcasts", type=int, default=20)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="oja-bench-realtime-") as tmp:
        var = Path(tmp)
        database_url = args.database_url or f"sqlite+aiosqlite:///{var / 'oja.db'}"
        if database_url.startswith("postgresql://"):
            database_url = "postgresql+asyncpg://" + database_url.removeprefix("postgresql://")
        upgrade(database_url)
        env = bench_env(
            OJA_VAR_DIR=str(var),
            OJA_SECRET_KEY=SECRET,
            OJA_DATABASE_URL=database_url,
            OJA_REDIS_URL=args.redis_url,
            # A channel of its own: other runs on the same Redis neither see nor disturb it.
            OJA_REALTIME_CHANNEL=f"oja:bench:realtime:{uuid.uuid4().hex}",
            OJA_LOG_LEVEL="WARNING",
        )
        port = free_port()
        argv = [sys.executable, "-m", "uvicorn", "bench.realtime_fixture:create_app", "--factory"]
        argv += ["--host", HOST, "--port", str(port), "--no-access-log", "--log-level", "warning"]
        argv += ["--ws", "websockets-sansio"]
        server = start_process(argv, env=env, log_path=var / "api.log")
        try:
            base_url = f"http://{HOST}:{port}"
            wait_http_ok(f"{base_url}/healthz", server, timeout=180)
            oja = asyncio.run(measure_oja(args, base_url))
        except BaseException:
            print((var / "api.log").read_text(errors="replace")[-4000:], file=sys.stderr)
            raise
        finally:
            stop_process(server)
    baseline = asyncio.run(measure_redis(args.redis_url, args.events))

    print(machine_line())
    print(
        f"{args.sockets} WebSocket clients of {args.users} users, one uvicorn process, "
        f"Redis fan-out, {'PostgreSQL' if 'postgresql' in database_url else 'SQLite'}\n"
    )
    rows: list[list[object]] = [
        [name, len(values), percentile(values, 50), percentile(values, 95), max(values)]
        for name, values in [*oja.items(), ("baseline: bare Redis PUBLISH → subscriber", baseline)]
    ]
    print(markdown_table(["commit → received", "deliveries", "p50 ms", "p95 ms", "max ms"], rows))


if __name__ == "__main__":
    main()
