"""Authentication cost: password logins, token-authenticated reads, and whether hashing blocks the loop.

Oja runs under uvicorn (one process) in a subprocess on 127.0.0.1 with a fresh, migrated database; the
load comes from this process with httpx. Measured in one run:

* argon2id hashes/s on one core in this process — the bare-library ceiling for logins;
* ``POST /auth/login`` logins/s (and per core) with p50/p95;
* ``GET /healthz`` and token-authenticated ``GET /user/me`` req/s side by side (JWT decode + session
  revocation lookup + user load is the difference);
* ``GET /user/me`` latency from a light probe, alone and again while logins saturate the hashing pool:
  if hashing ran on the event loop, the second p99 would be a multiple of one hash (~40 ms+).

    python bench/auth.py [--duration 5] [--connections 32] [--database-url postgresql+asyncpg://…]
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
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from bench.common import bench_env, machine_line, markdown_table, percentile, uvicorn_server

PASSWORD = "bench password 0123"
SECRET = "bench-secret-key-that-is-long-enough-0123456789"


@dataclass
class Sample:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.elapsed if self.elapsed else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


Request = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


async def load(
    client: httpx.AsyncClient, request: Request, *, connections: int, duration: float
) -> Sample:
    """``connections`` workers issue ``request`` back to back until ``duration`` runs out."""
    sample = Sample()
    started = time.perf_counter()
    deadline = started + duration

    async def worker(index: int) -> None:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                response = await request(client, index)
                ok = response.status_code < 400
            except httpx.HTTPError:
                ok = False
            if ok:
                sample.latencies_ms.append((time.perf_counter() - t0) * 1000)
            else:
                sample.errors += 1

    await asyncio.gather(*(worker(i) for i in range(connections)))
    sample.elapsed = time.perf_counter() - started
    return sample


def bare_hashes_per_second(duration: float) -> float:
    """argon2id at Oja's parameters, one thread, no server: the per-core ceiling for logins."""
    from oja.identity.config import IdentitySettings
    from oja.identity.passwords import Passwords

    settings = IdentitySettings()
    passwords = Passwords(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_cost,
        parallelism=settings.argon2_parallelism,
        threads=1,
        backlog=1,  # one check at a time here: the backlog never refuses
    )
    stored = passwords._hash.hash(PASSWORD)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < duration:
        passwords._hash.verify(PASSWORD, stored)
        count += 1
    return count / (time.perf_counter() - started)


async def run(
    base_url: str, *, duration: float, connections: int, users: int
) -> list[list[object]]:
    cores = os.cpu_count() or 1
    limits = httpx.Limits(
        max_connections=connections + 16, max_keepalive_connections=connections + 16
    )
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        emails = [f"bench{i}@example.com" for i in range(users)]
        for email in emails:
            response = await client.post(
                "/auth/signup", json={"email": email, "password": PASSWORD}
            )
            response.raise_for_status()
        login = await client.post("/auth/login", json={"email": emails[0], "password": PASSWORD})
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

        async def healthz(c: httpx.AsyncClient, _: int) -> httpx.Response:
            return await c.get("/healthz")

        async def me(c: httpx.AsyncClient, _: int) -> httpx.Response:
            return await c.get("/user/me", headers=headers)

        async def password_login(c: httpx.AsyncClient, i: int) -> httpx.Response:
            body = {"email": emails[i % users], "password": PASSWORD}
            return await c.post("/auth/login", json=body)

        await load(client, healthz, connections=connections, duration=1)  # warm up
        await load(client, me, connections=connections, duration=1)
        health = await load(client, healthz, connections=connections, duration=duration)
        reads = await load(client, me, connections=connections, duration=duration)
        probe_alone = await load(client, me, connections=2, duration=duration)
        logins_alone = await load(client, password_login, connections=2 * cores, duration=duration)
        logins_busy, probe_busy = await asyncio.gather(
            load(client, password_login, connections=2 * cores, duration=duration),
            load(client, me, connections=2, duration=duration),
        )

    bare = bare_hashes_per_second(min(duration, 3))
    return [
        ["argon2id verify, bare library, 1 thread", "–", bare, "–", "–", 0],
        [
            f"POST /auth/login ({2 * cores} concurrent)",
            f"{logins_alone.rate / cores:,.1f}/core",
            logins_alone.rate,
            logins_alone.p(50),
            logins_alone.p(95),
            logins_alone.errors,
        ],
        [
            f"GET /healthz ({connections} concurrent)",
            "–",
            health.rate,
            health.p(50),
            health.p(99),
            health.errors,
        ],
        [
            f"GET /user/me, token ({connections} concurrent)",
            "–",
            reads.rate,
            reads.p(50),
            reads.p(99),
            reads.errors,
        ],
        [
            "GET /user/me probe (2 concurrent), alone",
            "–",
            probe_alone.rate,
            probe_alone.p(50),
            probe_alone.p(99),
            probe_alone.errors,
        ],
        [
            "GET /user/me probe (2 concurrent), during logins",
            f"logins {logins_busy.rate:,.1f}/s",
            probe_busy.rate,
            probe_busy.p(50),
            probe_busy.p(99),
            probe_busy.errors,
        ],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per phase")
    parser.add_argument("--connections", type=int, default=32, help="concurrent readers")
    parser.add_argument("--users", type=int, default=8, help="accounts the logins rotate over")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp folder")
    parser.add_argument(
        "--hash-threads", type=int, default=0, help="OJA_PASSWORD_HASH_THREADS (0: one per core)"
    )
    args = parser.parse_args()

    from oja.core.migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="oja-bench-auth-") as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'oja.db'}"
        upgrade(url)
        env = bench_env(
            OJA_VAR_DIR=tmp,
            OJA_DATABASE_URL=url,
            OJA_SECRET_KEY=SECRET,
            OJA_LOG_LEVEL="WARNING",
            OJA_PASSWORD_HASH_THREADS=str(args.hash_threads),
        )
        with uvicorn_server(
            "oja.main:create_app", env=env, log_path=Path(tmp) / "server.log"
        ) as base:
            rows = asyncio.run(
                run(base, duration=args.duration, connections=args.connections, users=args.users)
            )
    print(machine_line())
    print(
        f"database: {'SQLite' if url.startswith('sqlite') else 'PostgreSQL'}; {args.duration:g} s per phase"
    )
    print()
    print(markdown_table(["What", "Note", "per s", "p50 ms", "p95/p99 ms", "errors"], rows))
    print()
    print("Latency column: p95 for logins, p99 for reads.")


if __name__ == "__main__":
    main()
