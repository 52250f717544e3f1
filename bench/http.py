"""HTTP overhead: Oja's ``GET /healthz`` next to a bare FastAPI app answering the same JSON.

Each server runs under uvicorn (one process) in its own subprocess on 127.0.0.1; the load comes from
a third process: ``wrk`` when it is installed, else an httpx + asyncio generator. Both servers are
measured in the same run with the same load, so the ratio is what Oja's middleware, error handling
and app wiring cost on the cheapest possible route.

    python bench/http.py [--connections 64] [--duration 10] [--warmup 2] [--tool auto|wrk|httpx]
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
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass

from fastapi import FastAPI

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


def run_wrk(url: str, connections: int, duration: float) -> Result:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency", url]
    output = subprocess.run(
        argv, capture_output=True, text=True, check=True, timeout=duration + 30
    ).stdout
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


# --- httpx generator (a separate process: python -m bench.http --generate URL) --------------------


async def _generate(url: str, connections: int, duration: float) -> dict[str, object]:
    import httpx

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration

    # One client (so one keep-alive connection) per simulated connection: a single client with a
    # pool of 64 collapses to ~140 req/s here on httpcore's pool bookkeeping.
    async def connection() -> None:
        nonlocal errors
        async with httpx.AsyncClient(timeout=10) as client:
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


def run_httpx(url: str, connections: int, duration: float) -> Result:
    argv = [sys.executable, "-m", "bench.http", "--generate", url]
    argv += ["--connections", str(connections), "--duration", str(duration)]
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


def measure(url: str, tool: str, connections: int, duration: float, warmup: float) -> Result:
    load = run_wrk if tool == "wrk" else run_httpx
    if warmup > 0:
        load(url, connections, warmup)
    return load(url, connections, duration)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per server")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="seconds of unmeasured load first"
    )
    parser.add_argument("--tool", choices=["auto", "wrk", "httpx"], default="auto")
    parser.add_argument("--generate", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.generate:
        print(json.dumps(asyncio.run(_generate(args.generate, args.connections, args.duration))))
        return

    tool = args.tool
    if tool == "auto":
        tool = "wrk" if shutil.which("wrk") else "httpx"
    print(machine_line())
    print(
        f"load: {tool}, {args.connections} connections, {args.warmup:g} s warm-up then "
        f"{args.duration:g} s per server, GET /healthz on 127.0.0.1, one uvicorn process each"
    )
    if tool == "httpx":
        print(
            "note: the httpx generator tops out near 1,300 req/s on one core, below a bare FastAPI "
            "app; install wrk (apt-get install wrk) for figures that measure the servers"
        )
    print()

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


if __name__ == "__main__":
    main()
