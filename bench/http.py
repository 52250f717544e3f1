"""HTTP overhead: Oja next to the bare libraries, on the cheapest route and on an authenticated read.

* ``GET /healthz`` next to a bare FastAPI app answering the same JSON: what Oja's middleware, error
  handling and app wiring cost.
* ``GET /user/me`` with a JWT, on PostgreSQL, next to a bare FastAPI endpoint that does the same
  work with the bare libraries: PyJWT verifies the token, asyncpg runs the same SELECT (session,
  user and roles joined), the session is checked, the user is answered as JSON. At 1 connection
  (the serial cost of one request) and at ``--connections``; rounds are interleaved (Oja, bare,
  Oja, bare…) so a neighbour's load hits both alike, and the ratio is printed per round.
  The bench creates its own database on ``--postgres`` and drops it at the end.

Each server runs under uvicorn (one process) in its own subprocess on 127.0.0.1; the load comes from
a third process: ``wrk`` when it is installed (``apt-get install wrk``), else an httpx + asyncio
generator, which saturates below the servers it measures.

    python bench/http.py [--connections 64] [--duration 10] [--warmup 2] [--tool auto|wrk|httpx]
                         [--only healthz|me] [--rounds 3] [--compare-src DIR]
                         [--compare-log-level WARNING] [--floor]
                         [--postgres postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/http.py` puts bench/ first on sys.path, where this very file would shadow the
# standard library's `http` package for everything imported later; put the repository root there.
if __name__ == "__main__":
    _bench_dir = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _bench_dir]
    sys.path.insert(0, str(_bench_dir.parent))

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, Response

from bench.common import (
    bench_env,
    machine_line,
    markdown_table,
    percentile,
    uvicorn_server,
)


def create_bare_app() -> FastAPI:
    """The baseline: FastAPI with one route and nothing else."""
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


_RAW_ME = """
SELECT u.id, u.email, u.mobile, u.name, u.avatar_url, u.locale, u.is_active,
       u.password_hash IS NOT NULL AS has_password, u.email_verified_at, u.mobile_verified_at,
       u.created_at, u.updated_at, s.revoked_at, r.role
FROM "user" u JOIN session s ON s.user_id = u.id LEFT JOIN user_role r ON r.user_id = u.id
WHERE s.id = $1
"""


def asyncpg_app(dsn: str) -> tuple[FastAPI, dict[str, Any]]:
    """A bare FastAPI app with ``/healthz`` and an asyncpg pool of Oja's size (20 connections,
    opened as needed and kept) and Oja's session settings (no JIT, as ``oja.core.db``: a plan
    estimated above ``jit_above_cost`` would otherwise compile for 80–135 ms a query on this
    machine, in the baseline only), opened by its lifespan: the pool is ``holder["pool"]`` once
    the app has started."""
    import asyncpg

    holder: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        holder["pool"] = await asyncpg.create_pool(
            dsn, min_size=10, max_size=20, server_settings={"jit": "off"}
        )
        yield
        await holder["pool"].close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app, holder


def create_raw_me_app() -> FastAPI:
    """The baseline for ``GET /user/me``: PyJWT and asyncpg, the same check and the same SELECT.

    Configured by ``BENCH_DSN`` (asyncpg) and ``BENCH_SECRET`` (the JWT key); the pool is Oja's
    size (20 connections).
    """
    import jwt

    secret = os.environ["BENCH_SECRET"]
    app, pool = asyncpg_app(os.environ["BENCH_DSN"])

    @app.get("/user/me")
    async def me(request: Request) -> Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        try:
            claims = jwt.decode(
                token,
                secret,
                algorithms=["HS256"],
                audience="oja-api",
                issuer="oja",
                options={"require": ["iss", "aud", "sub", "sid", "typ", "exp"]},
            )
        except jwt.PyJWTError:
            return Response(status_code=401)
        rows = await pool["pool"].fetch(_RAW_ME, uuid.UUID(claims["sid"]))
        if not rows or str(rows[0]["id"]) != claims["sub"] or rows[0]["revoked_at"] is not None:
            return Response(status_code=401)
        user = {k: v for k, v in rows[0].items() if k not in {"revoked_at", "role"}}
        user["roles"] = sorted(r["role"] for r in rows if r["role"] is not None)
        body = json.dumps(
            user, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v)
        )
        return Response(body, media_type="application/json")

    return app


def create_floor_me_app() -> FastAPI:
    """The raw endpoint behind Oja's own request middleware (request id, body limit, metrics, the
    access line at ``BENCH_LOG_LEVEL``): a floor for Oja, which adds routing over its ~50 routers,
    dependency resolution, SQLAlchemy and the response model on top."""
    from oja.core.logging import configure_logging
    from oja.core.middleware import RequestContextMiddleware

    configure_logging(os.environ.get("BENCH_LOG_LEVEL", "INFO"))
    app = create_raw_me_app()
    app.add_middleware(RequestContextMiddleware, max_body_bytes=1 << 20, large_body_paths={})
    return app


@dataclass
class Result:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int


# --- wrk ------------------------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _wrk_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def wrk_argv(
    url: str,
    connections: int,
    duration: float,
    headers: Mapping[str, str] | None = None,
    script: Path | None = None,
) -> list[str]:
    """``wrk`` with one thread (the servers under test get the other core), ``--latency``, the
    ``headers`` and, for requests other than a GET, a Lua ``script``."""
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency", url]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    if script is not None:
        argv += ["-s", str(script)]
    return argv


def read_wrk(output: str) -> Result:
    """req/s, p50, p99 and errors (non-2xx/3xx answers and socket errors) from wrk's report."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    if not (rps and p50 and p99):
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    errors = 0
    if non_2xx := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output):
        errors += int(non_2xx[1])
    if socket_errors := re.search(r"Socket errors:(.*)", output):
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors[1]))
    return Result(float(rps[1]), _wrk_ms(p50[1]), _wrk_ms(p99[1]), errors)


def run_wrk(
    url: str,
    connections: int,
    duration: float,
    headers: Mapping[str, str] | None = None,
    script: Path | None = None,
) -> Result:
    argv = wrk_argv(url, connections, duration, headers, script)
    output = subprocess.run(
        argv, capture_output=True, text=True, check=True, timeout=duration + 30
    ).stdout
    return read_wrk(output)


# --- httpx generator (a separate process: python -m bench.http --generate URL) --------------------


async def _generate(
    url: str, connections: int, duration: float, headers: dict[str, str]
) -> dict[str, object]:
    import httpx

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration

    # One client (so one keep-alive connection) per simulated connection: a single client with a
    # pool of 64 collapses to ~140 req/s here on httpcore's pool bookkeeping.
    async def connection() -> None:
        nonlocal errors
        async with httpx.AsyncClient(timeout=10, headers=headers) as client:
            while (started := time.perf_counter()) < deadline:
                try:
                    response = await client.get(url)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    errors += 1

    began = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    elapsed = time.perf_counter() - began
    return {
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "errors": errors,
    }


def run_httpx(
    url: str, connections: int, duration: float, headers: Mapping[str, str] | None = None
) -> Result:
    argv = [sys.executable, "-m", "bench.http", "--generate", url]
    argv += ["--connections", str(connections), "--duration", str(duration)]
    argv += ["--headers", json.dumps(dict(headers or {}))]
    completed = subprocess.run(
        argv, env=bench_env(), capture_output=True, text=True, check=True, timeout=duration + 60
    )
    data = json.loads(completed.stdout.strip().splitlines()[-1])
    return Result(
        float(data["requests_per_s"]),
        float(data["p50_ms"]),
        float(data["p99_ms"]),
        int(data["errors"]),
    )


# --- the benchmark --------------------------------------------------------------------------------


def measure(
    url: str,
    tool: str,
    connections: int,
    duration: float,
    warmup: float,
    headers: Mapping[str, str] | None = None,
) -> Result:
    load = run_wrk if tool == "wrk" else run_httpx
    if warmup > 0:
        load(url, connections, warmup, headers)
    return load(url, connections, duration, headers)


def load_average() -> str:
    return "/".join(f"{n:.2f}" for n in os.getloadavg())


def listener_pid(base_url: str) -> int:
    """The uvicorn process serving ``base_url`` (found by the ``--port`` on its command line)."""
    port = base_url.rpartition(":")[2]
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            b"uvicorn" in argv
            and b"--port" in argv
            and argv[argv.index(b"--port") + 1] == port.encode()
        ):
            return int(proc.name)
    raise LookupError(f"no uvicorn process listens on port {port}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used: what a request costs the server whatever
    share of the machine its neighbours leave it."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def statements_per_me(dsn: str, headers: Mapping[str, str]) -> list[str]:
    """The SQL statements one ``GET /user/me`` sends, counted in this process on Oja's engine
    (the first word and first table of each; tests/core/test_statement_budget.py asserts them)."""
    import httpx
    from sqlalchemy import event

    from oja.core.config import Settings
    from oja.main import create_app

    sent: list[str] = []

    async def count() -> None:
        app = create_app(Settings())
        engine = app.state.runtime.database.engine
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://oja") as client:
            (await client.get("/user/me", headers=dict(headers))).raise_for_status()

            def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
                words = statement.split()
                table = words[words.index("FROM") + 1].strip('"') if "FROM" in words else ""
                sent.append(f"{words[0].upper()} {table}".strip())

            event.listen(engine.sync_engine, "before_cursor_execute", record)
            (await client.get("/user/me", headers=dict(headers))).raise_for_status()
            event.remove(engine.sync_engine, "before_cursor_execute", record)
        await app.state.runtime.database.dispose()

    overrides = {"OJA_DATABASE_URL": dsn.replace("postgresql://", "postgresql+asyncpg://", 1)}
    overrides |= {"OJA_SECRET_KEY": SECRET, "OJA_LOG_LEVEL": "WARNING"}
    saved = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    try:
        with tempfile.TemporaryDirectory(prefix="oja-bench-count-") as var:
            os.environ["OJA_VAR_DIR"] = var
            asyncio.run(count())
    finally:
        os.environ.pop("OJA_VAR_DIR", None)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return sent


def bench_healthz(args: argparse.Namespace, tool: str) -> None:
    print(
        f"## GET /healthz: {tool}, {args.connections} connections, {args.warmup:g} s warm-up then "
        f"{args.duration:g} s per server, one uvicorn process each; load average {load_average()}"
    )
    results: dict[str, Result] = {}
    with tempfile.TemporaryDirectory(prefix="oja-bench-http-") as tmp:
        work = Path(tmp)
        servers = {
            "bare FastAPI": ("bench.http:create_bare_app", bench_env()),
            "Oja": (
                "oja.main:create_app",
                bench_env(OJA_VAR_DIR=str(work / "var"), OJA_LOG_LEVEL="WARNING"),
            ),
            # Production's default level writes one JSON access line per request (to a file here).
            "Oja, INFO logs": (
                "oja.main:create_app",
                bench_env(OJA_VAR_DIR=str(work / "var"), OJA_LOG_LEVEL="INFO"),
            ),
        }
        for index, (name, (app, env)) in enumerate(servers.items()):
            log_path = work / f"server-{index}.log"
            with uvicorn_server(app, env=env, log_path=log_path) as base_url:
                results[name] = measure(
                    f"{base_url}/healthz", tool, args.connections, args.duration, args.warmup
                )

    bare = results["bare FastAPI"]
    rows = [
        [
            name,
            r.requests_per_s,
            r.p50_ms,
            r.p99_ms,
            f"{r.requests_per_s / bare.requests_per_s:.2f}×",
            r.errors,
        ]
        for name, r in results.items()
    ]
    headers = ["server", "req/s", "p50 ms", "p99 ms", "req/s vs bare", "errors"]
    print(markdown_table(headers, rows))
    oja = results["Oja"]
    print(
        f"\nOja / bare: {oja.requests_per_s / bare.requests_per_s:.2f}× throughput, "
        f"{oja.p50_ms / bare.p50_ms:.2f}× p50 latency, {oja.p99_ms / bare.p99_ms:.2f}× p99 latency"
    )


# --- GET /user/me on PostgreSQL -------------------------------------------------------------------

SECRET = "bench-secret-key-that-is-long-enough-0123456789"
START_TIMEOUT = 120.0
"""Seconds a server gets to answer ``/healthz``: Oja's start took over 30 s with the 2 cores loaded."""
PASSWORD = "bench password 0123"


@contextmanager
def scratch_database(server_url: str, prefix: str = "oja_bench") -> Iterator[str]:
    """A migrated database of our own on ``server_url`` (asyncpg form), dropped at the end."""
    import asyncpg

    from oja.core.migrate import upgrade

    admin = server_url.replace("postgresql+asyncpg://", "postgresql://")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"

    async def execute(statement: str) -> None:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        dsn = f"{admin.rpartition('/')[0]}/{name}"
        upgrade(dsn.replace("postgresql://", "postgresql+asyncpg://", 1))
        yield dsn
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def sign_in(base_url: str) -> dict[str, str]:
    import httpx

    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    with httpx.Client(base_url=base_url, timeout=30) as client:
        client.post("/auth/signup", json={"email": email, "password": PASSWORD}).raise_for_status()
        login = client.post("/auth/login", json={"email": email, "password": PASSWORD})
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        me = client.get("/user/me", headers=headers)
        me.raise_for_status()
    return headers


def postgres_reachable(server_url: str) -> bool:
    import asyncpg

    async def probe() -> None:
        connection = await asyncpg.connect(server_url, timeout=5)
        await connection.close()

    try:
        asyncio.run(probe())
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True


def me_variants(args: argparse.Namespace, work: Path, oja_env: dict[str, str]) -> list[Variant]:
    """Oja as configured, then the variants asked for: another source tree, another log level."""
    variants = [Variant("Oja", oja_env)]
    if args.compare_src:
        source = os.pathsep.join([str(args.compare_src.resolve()), oja_env["PYTHONPATH"]])
        other = {**oja_env, "OJA_VAR_DIR": str(work / "var-other"), "PYTHONPATH": source}
        variants.append(Variant(f"Oja ({args.compare_src})", other))
    if args.compare_log_level:
        level = args.compare_log_level.upper()
        other = {**oja_env, "OJA_VAR_DIR": str(work / "var-level"), "OJA_LOG_LEVEL": level}
        variants.append(Variant(f"Oja, {level} logs", other))
    return variants


@dataclass
class Variant:
    name: str
    env: dict[str, str]


def bench_me(args: argparse.Namespace, tool: str) -> None:
    levels = sorted({1, args.connections})
    print(
        f"## GET /user/me with a JWT on PostgreSQL: {tool}, {args.rounds} interleaved rounds of "
        f"{args.duration:g} s per server and connection count ({args.warmup:g} s warm-up), "
        f"one uvicorn process each"
    )
    if not postgres_reachable(args.postgres):
        print(f"skipped: no PostgreSQL answers at {args.postgres} (pass --postgres URL)")
        return
    with (
        tempfile.TemporaryDirectory(prefix="oja-bench-me-") as tmp,
        scratch_database(args.postgres, args.db_prefix) as dsn,
        ExitStack() as stack,
    ):
        work = Path(tmp)
        oja_env = bench_env(
            OJA_VAR_DIR=str(work / "var"),
            OJA_DATABASE_URL=dsn.replace("postgresql://", "postgresql+asyncpg://", 1),
            OJA_SECRET_KEY=SECRET,
            OJA_LOG_LEVEL=args.log_level,
        )
        raw_env = bench_env(BENCH_DSN=dsn, BENCH_SECRET=SECRET)
        servers: dict[str, str] = {}
        for index, variant in enumerate(me_variants(args, work, oja_env)):
            log_path = work / f"oja-{index}.log"
            app = "oja.main:create_app"
            servers[variant.name] = stack.enter_context(
                uvicorn_server(app, env=variant.env, log_path=log_path, start_timeout=START_TIMEOUT)
            )
        if args.floor:
            floor_env = {**raw_env, "BENCH_LOG_LEVEL": args.log_level}
            servers["raw + Oja middleware"] = stack.enter_context(
                uvicorn_server(
                    "bench.http:create_floor_me_app",
                    env=floor_env,
                    log_path=work / "floor.log",
                    start_timeout=START_TIMEOUT,
                )
            )
        app = "bench.http:create_raw_me_app"
        servers["raw"] = stack.enter_context(
            uvicorn_server(app, env=raw_env, log_path=work / "raw.log", start_timeout=START_TIMEOUT)
        )
        # Every Oja server shares the database, so one signed-in user serves them all.
        headers = sign_in(servers["Oja"])
        sent = statements_per_me(dsn, headers)
        pids = {name: listener_pid(base) for name, base in servers.items()}
        cpu_ms: dict[tuple[str, int], list[float]] = {}
        rounds: dict[tuple[str, int], list[Result]] = {}
        order = list(servers.items())
        for index in range(args.rounds):
            loads = load_average()
            line = []
            for connections in levels:
                # Rotate who goes first, so none always follows another's load.
                shift = index % len(order)
                for name, base in order[shift:] + order[:shift]:
                    url = f"{base}/user/me"
                    measure(url, tool, connections, args.warmup, 0, headers)
                    cpu_before = cpu_seconds(pids[name])
                    result = measure(url, tool, connections, args.duration, 0, headers)
                    used = cpu_seconds(pids[name]) - cpu_before
                    served = max(result.requests_per_s * args.duration, 1)
                    cpu_ms.setdefault((name, connections), []).append(1000 * used / served)
                    rounds.setdefault((name, connections), []).append(result)
                bare = rounds["raw", connections][-1]
                line.append(
                    f"{connections} conn: raw {bare.requests_per_s:,.0f} "
                    f"(CPU ms/request {cpu_ms['raw', connections][-1]:.2f}); "
                    + "; ".join(
                        f"{name} {ours.requests_per_s:,.0f} = "
                        f"{ours.requests_per_s / bare.requests_per_s:.2f} "
                        f"({cpu_ms[name, connections][-1]:.2f}, {ours.errors} errors)"
                        for name in servers
                        if name != "raw"
                        for ours in [rounds[name, connections][-1]]
                    )
                )
            print(f"round {index + 1} (load average {loads}): " + " | ".join(line))

    rows = []
    for connections in levels:
        bare = rounds["raw", connections]
        for name in servers:
            results = rounds[name, connections]
            ratios = [
                o.requests_per_s / b.requests_per_s for o, b in zip(results, bare, strict=True)
            ]
            rows.append(
                [
                    "raw asyncpg + PyJWT" if name == "raw" else name,
                    connections,
                    statistics.median(r.requests_per_s for r in results),
                    statistics.median(r.p50_ms for r in results),
                    statistics.median(r.p99_ms for r in results),
                    "1" if name == "raw" else f"{min(ratios):.2f}–{max(ratios):.2f}",
                    statistics.median(cpu_ms[name, connections]),
                    sum(r.errors for r in results),
                ]
            )
    print()
    headers_row = ["server", "connections", "req/s", "p50 ms", "p99 ms", "÷ raw", "CPU ms/req"]
    print(markdown_table([*headers_row, "errors"], rows))
    print(
        "\nMedians over the rounds; ÷ raw is the range of the per-round ratios. CPU ms/req is the "
        "server process's own CPU time per answered request, which a loaded machine does not "
        "inflate the way it does wall-clock throughput."
    )
    print(
        f"SQL statements per GET /user/me: Oja {len(sent)} ({', '.join(sent)}), outside any "
        "transaction; raw 1 (the same joined SELECT)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per server")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="seconds of unmeasured load first"
    )
    parser.add_argument("--tool", choices=["auto", "wrk", "httpx"], default="auto")
    parser.add_argument("--only", choices=["healthz", "me"], default=None)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (GET /user/me)")
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="a PostgreSQL server (any database on it) where the bench creates and drops its own",
    )
    parser.add_argument(
        "--db-prefix", default="oja_bench", help="the scratch databases' name prefix"
    )
    parser.add_argument(
        "--log-level", default="INFO", help="Oja's OJA_LOG_LEVEL for GET /user/me (INFO: default)"
    )
    parser.add_argument(
        "--compare-src",
        type=Path,
        default=None,
        help="GET /user/me: a `src` folder of another Oja version (say, `git archive` of an older "
        "commit), run as a further server in the same interleaved rounds",
    )
    parser.add_argument(
        "--compare-log-level",
        default=None,
        help="GET /user/me: a further Oja server at this OJA_LOG_LEVEL in the same rounds",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="GET /user/me: a further server, the raw endpoint behind Oja's request middleware",
    )
    parser.add_argument("--generate", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--headers", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.generate:
        generated = _generate(
            args.generate, args.connections, args.duration, json.loads(args.headers)
        )
        print(json.dumps(asyncio.run(generated)))
        return

    tool = args.tool
    if tool == "auto":
        tool = "wrk" if shutil.which("wrk") else "httpx"
    print(machine_line())
    if tool == "httpx":
        print(
            "note: the httpx generator tops out near 1,300 req/s on one core, below a bare FastAPI "
            "app; install wrk (apt-get install wrk) for figures that measure the servers"
        )
    print()
    if args.only in {None, "healthz"}:
        bench_healthz(args, tool)
        print()
    if args.only in {None, "me"}:
        bench_me(args, tool)


if __name__ == "__main__":
    main()
