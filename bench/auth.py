"""Authentication cost: password logins, token-authenticated reads, and whether hashing blocks the loop.

Oja runs under uvicorn (one process) in a subprocess on 127.0.0.1 with a fresh, migrated database; the
load comes from ``wrk`` in other processes (one httpx client saturated near 230 req/s, below what it
measured). Measured in one run:

* argon2id hashes/s on one core in this process — the bare-library ceiling for logins;
* ``POST /auth/login`` logins/s (and per core) with p50/p99, rotating over ``--users`` accounts;
* ``GET /healthz`` and token-authenticated ``GET /user/me`` req/s side by side (JWT decode + the
  session check is the difference);
* ``GET /user/me`` latency from a light probe (2 connections), alone and again while logins
  saturate the hashing pool: if hashing ran on the event loop, the second p99 would be a multiple
  of one hash (~40 ms+).

Each run signs up accounts with unique emails, so runs can repeat on the same ``--database-url``.

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
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid

import httpx

from bench.common import bench_env, machine_line, markdown_table, uvicorn_server
from bench.http import Result, load_average, read_wrk, run_wrk, wrk_argv

PASSWORD = "bench password 0123"
SECRET = "bench-secret-key-that-is-long-enough-0123456789"

_LOGIN_SCRIPT = """
local bodies = %s
local next_body = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  next_body = next_body %% #bodies + 1
  return wrk.format(nil, nil, nil, bodies[next_body])
end
"""


def login_script(folder: Path, emails: list[str]) -> Path:
    """A wrk Lua script that POSTs a login for each account in turn."""
    bodies = [json.dumps({"email": email, "password": PASSWORD}) for email in emails]
    lua_list = "{" + ", ".join(json.dumps(body) for body in bodies) + "}"
    path = folder / "login.lua"
    path.write_text(_LOGIN_SCRIPT % lua_list)
    return path


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


def run(
    base_url: str, folder: Path, *, duration: float, connections: int, users: int
) -> list[list[object]]:
    cores = os.cpu_count() or 1
    emails = [f"bench-{uuid.uuid4().hex[:12]}@example.com" for _ in range(users)]
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for email in emails:
            body = {"email": email, "password": PASSWORD}
            client.post("/auth/signup", json=body).raise_for_status()
        login = client.post("/auth/login", json={"email": emails[0], "password": PASSWORD})
        login.raise_for_status()
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    script = login_script(folder, emails)
    me, login_url = f"{base_url}/user/me", f"{base_url}/auth/login"
    logins = 2 * cores

    run_wrk(f"{base_url}/healthz", connections, 1)  # warm up
    run_wrk(me, connections, 1, headers)
    health = run_wrk(f"{base_url}/healthz", connections, duration)
    reads = run_wrk(me, connections, duration, headers)
    probe_alone = run_wrk(me, 2, duration, headers)
    logins_alone = run_wrk(login_url, logins, duration, script=script)
    # Both loads at once, each from its own wrk process.
    with subprocess.Popen(
        wrk_argv(login_url, logins, duration, script=script), stdout=subprocess.PIPE, text=True
    ) as busy:
        time.sleep(0.2)  # the logins are under way before the probe starts
        probe_busy = run_wrk(me, 2, duration - 0.2, headers)
        logins_busy = read_wrk(busy.communicate(timeout=duration + 30)[0])

    bare = bare_hashes_per_second(min(duration, 3))

    def row(what: str, note: str, r: Result) -> list[object]:
        return [what, note, r.requests_per_s, r.p50_ms, r.p99_ms, r.errors]

    return [
        ["argon2id verify, bare library, 1 thread", "–", bare, "–", "–", 0],
        row(
            f"POST /auth/login ({logins} connections)",
            f"{logins_alone.requests_per_s / cores:,.1f}/core",
            logins_alone,
        ),
        row(f"GET /healthz ({connections} connections)", "–", health),
        row(f"GET /user/me, token ({connections} connections)", "–", reads),
        row("GET /user/me probe (2 connections), alone", "–", probe_alone),
        row(
            "GET /user/me probe (2 connections), during logins",
            f"logins {logins_busy.requests_per_s:,.1f}/s",
            probe_busy,
        ),
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
    if shutil.which("wrk") is None:
        sys.exit("bench/auth.py needs wrk (apt-get install wrk)")

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
            loads = load_average()
            rows = run(
                base,
                Path(tmp),
                duration=args.duration,
                connections=args.connections,
                users=args.users,
            )
    print(machine_line())
    database = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
    print(f"database: {database}; wrk; {args.duration:g} s per phase; load average {loads}")
    print()
    print(markdown_table(["What", "Note", "per s", "p50 ms", "p99 ms", "errors"], rows))


if __name__ == "__main__":
    main()
