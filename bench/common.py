"""Helpers shared by the benchmarks: ports, server subprocesses, percentiles, markdown tables.

Everything here talks to 127.0.0.1 only and bounds every wait with a deadline.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":  # `make bench` runs every file in bench/; this one is a library.
    print("bench/common.py holds helpers for the benchmarks; nothing to run")
    sys.exit(0)

import json
import math
import os
import platform
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def bench_env(**overrides: str) -> dict[str, str]:
    """This process's environment without any OJA_* setting, with the repository root importable."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OJA_")}
    paths = [str(ROOT), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


def run_child_json(module: str, args: Sequence[str], src: Path | None = None) -> dict[str, float]:
    """``python -m <module> --child <args> --log <file>`` with ``src`` first on its path (an older
    tree to compare), its last stdout line read as JSON; its stderr tail raised on failure."""
    env = bench_env()
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src.resolve()), env["PYTHONPATH"]])
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        argv = [sys.executable, "-m", module, "--child", *args, "--log", log.name]
        done = subprocess.run(argv, check=False, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def start_process(
    argv: Sequence[str], *, env: Mapping[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own process group (so it can be stopped with its children)."""
    log = log_path.open("wb")
    try:
        return subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log.close()  # the child holds its own descriptor


def stop_process(process: subprocess.Popen[bytes], *, grace: float = 15.0) -> None:
    """SIGTERM the process group, then SIGKILL it if it is still there after ``grace`` seconds."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    except ProcessLookupError:
        pass


def wait_http_ok(url: str, process: subprocess.Popen[bytes], *, timeout: float = 30.0) -> None:
    """Poll ``url`` until it answers 200; fail early if the server process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer 200 within {timeout:g} s")


@contextmanager
def uvicorn_server(
    app: str,
    *,
    env: Mapping[str, str],
    log_path: Path,
    factory: bool = True,
    start_timeout: float = 30.0,
) -> Iterator[str]:
    """Run ``app`` under uvicorn (one process, no access log) on a free port; yield its base URL."""
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", app, "--host", HOST, "--port", str(port)]
    argv += ["--no-access-log", "--log-level", "warning"]
    if factory:
        argv.append("--factory")
    process = start_process(argv, env=env, log_path=log_path)
    base_url = f"http://{HOST}:{port}"
    try:
        wait_http_ok(f"{base_url}/healthz", process, timeout=start_timeout)
        yield base_url
    except BaseException:
        print(log_path.read_text(errors="replace")[-4000:], file=sys.stderr)
        raise
    finally:
        stop_process(process)


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0–100) with linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table; numbers are right-aligned."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            if math.isnan(value):
                return "–"
            return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
        return str(value)

    text = [[cell(v) for v in row] for row in rows]
    numeric = [
        all(isinstance(row[i], int | float) for row in rows) if rows else False
        for i in range(len(headers))
    ]
    widths = [max(len(h), *(len(r[i]) for r in text)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            c.rjust(w) if numeric[i] else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = ["-" * (w - 1) + ":" if numeric[i] else "-" * w for i, w in enumerate(widths)]
    return "\n".join([line(headers), line(rule), *(line(r) for r in text)])


def machine_line() -> str:
    """One line saying what ran the benchmark, printed above every table."""
    return (
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs"
    )
