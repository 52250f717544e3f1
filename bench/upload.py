"""Upload throughput and server memory: Oja's ``POST /upload`` next to a bare streaming endpoint.

Both servers run under uvicorn (one process) in subprocesses on 127.0.0.1, in the same run, with the
same client. The bare baseline is a raw ASGI app that writes the request body straight to a file;
Oja parses the multipart body as a stream, sniffs, hashes, and writes through its storage port
(local folder), then adds the row and the job. RSS growth is the server process's peak resident
memory during the uploads minus its resident memory just before them.

    python bench/upload.py [--sizes 1,50,500] [--database-url postgresql+asyncpg://…]
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/upload.py` puts bench/ first on sys.path, where bench/http.py would shadow the
# standard library's `http` package for everything imported later; put the repository root there.
if __name__ == "__main__":
    _bench_dir = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _bench_dir]
    sys.path.insert(0, str(_bench_dir.parent))

import argparse
import asyncio
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from bench.common import (
    HOST,
    bench_env,
    free_port,
    machine_line,
    markdown_table,
    start_process,
    stop_process,
    wait_http_ok,
)

SECRET = "bench-secret-key-that-is-long-enough-0123456789"
PASSWORD = "correct horse battery"
MB = 1024 * 1024
CHUNK = 1 * MB
BOUNDARY = "oja-bench-boundary-7d1c"


def create_bare_app() -> Callable[..., Awaitable[None]]:
    """The baselines: raw ASGI, ``/upload`` writes the body to a file as it arrives;
    ``/upload-durable`` also hashes it (SHA-256) and fsyncs the file, as Oja must."""
    folder = Path(os.environ.get("BENCH_BARE_DIR", tempfile.gettempdir()))

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["path"] in {"/upload", "/upload-durable"}:
            durable = scope["path"] == "/upload-durable"
            hasher = hashlib.sha256()
            size = 0
            with (folder / "bare-upload.bin").open("wb") as handle:
                more = True
                while more:
                    message = await receive()
                    body = message.get("body", b"")
                    if durable:
                        hasher.update(body)
                    handle.write(body)
                    size += len(body)
                    more = message.get("more_body", False)
                if durable:
                    handle.flush()
                    os.fsync(handle.fileno())
            payload = b'{"size": %d}' % size
            status = 201
        else:
            payload, status = b'{"status": "ok"}', 200
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    return app


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class RssSampler:
    """Samples a process's resident memory every 10 ms in a thread; keeps the peak."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            time.sleep(0.01)

    def __enter__(self) -> RssSampler:
        self.baseline = rss_bytes(self.pid)
        self.peak = self.baseline
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.baseline) / MB


@contextmanager
def server(app: str, env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", app, "--factory", "--host", HOST, "--port", str(port)]
    argv += ["--no-access-log", "--log-level", "warning"]
    process = start_process(argv, env=env, log_path=log)
    base = f"http://{HOST}:{port}"
    try:
        wait_http_ok(f"{base}/healthz", process)
        yield base, process.pid
    except BaseException:
        print(log.read_text(errors="replace")[-4000:], file=sys.stderr)
        raise
    finally:
        stop_process(process)


def multipart(size: int) -> tuple[int, Callable[[], AsyncIterator[bytes]]]:
    """A streamed multipart body with one ``file`` part of ``size`` bytes, and its length."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\nbench\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="blob.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    block = os.urandom(CHUNK)

    async def body() -> AsyncIterator[bytes]:
        yield head
        left = size
        while left > 0:
            piece = block if left >= CHUNK else block[:left]
            left -= len(piece)
            yield piece
        yield tail

    return len(head) + size + len(tail), body


@dataclass
class Measure:
    mb_per_s: float
    rss_growth_mb: float


async def measure(
    base: str,
    pid: int,
    size: int,
    repeats: int,
    headers: dict[str, str],
    *,
    oja: bool,
    path: str = "/upload",
) -> Measure:
    length, body = multipart(size)
    async with httpx.AsyncClient(base_url=base, timeout=600) as client:
        # Warm up: first request pays imports and connection set-up.
        warm_length, warm = multipart(64 * 1024)
        await client.post(
            "/upload",
            content=warm(),
            headers={
                **headers,
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                "Content-Length": str(warm_length),
            },
        )
        elapsed = 0.0
        with RssSampler(pid) as rss:
            for _ in range(repeats):
                started = time.perf_counter()
                response = await client.post(
                    path,
                    content=body(),
                    headers={
                        **headers,
                        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                        "Content-Length": str(length),
                    },
                )
                elapsed += time.perf_counter() - started
                if response.status_code != 201:
                    raise RuntimeError(f"upload answered {response.status_code}: {response.text}")
                if oja:  # keep the disk from filling up; not timed
                    await client.delete(f"/files/{response.json()['id']}", headers=headers)
        return Measure(size * repeats / MB / elapsed, rss.growth_mb)


async def token(base: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        body = {"email": "bench@example.com", "password": PASSWORD}
        (await client.post("/auth/signup", json=body)).raise_for_status()
        login = await client.post("/auth/login", json=body)
        login.raise_for_status()
        return {"Authorization": f"Bearer {login.json()['access_token']}"}


def repeats_for(size_mb: int) -> int:
    return max(1, min(20, 200 // max(size_mb, 1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,50,500", help="upload sizes in MiB")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp folder")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    from oja.core.migrate import upgrade

    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="oja-bench-upload-") as tmp:
        folder = Path(tmp)
        url = args.database_url or f"sqlite+aiosqlite:///{folder / 'oja.db'}"
        upgrade(url)
        oja_env = bench_env(
            OJA_VAR_DIR=str(folder / "var"),
            OJA_DATABASE_URL=url,
            OJA_SECRET_KEY=SECRET,
            OJA_LOG_LEVEL="WARNING",
            OJA_MAX_UPLOAD_BYTES=str((max(sizes) + 1) * MB),
            OJA_UPLOAD_RATE="100000/minute",
        )
        bare_env = bench_env(BENCH_BARE_DIR=str(folder))
        results: dict[tuple[str, int], Measure] = {}
        with server("bench.upload:create_bare_app", bare_env, folder / "bare.log") as (base, pid):
            for size in sizes:
                results["bare", size] = asyncio.run(
                    measure(base, pid, size * MB, repeats_for(size), {}, oja=False)
                )
                results["durable", size] = asyncio.run(
                    measure(
                        base,
                        pid,
                        size * MB,
                        repeats_for(size),
                        {},
                        oja=False,
                        path="/upload-durable",
                    )
                )
        with server("oja.main:create_app", oja_env, folder / "oja.log") as (base, pid):
            headers = asyncio.run(token(base))
            for size in sizes:
                results["oja", size] = asyncio.run(
                    measure(base, pid, size * MB, repeats_for(size), headers, oja=True)
                )
        for size in sizes:
            bare, durable, oja = (results[k, size] for k in ("bare", "durable", "oja"))
            rows.append(
                [
                    f"{size} MB × {repeats_for(size)}",
                    bare.mb_per_s,
                    durable.mb_per_s,
                    oja.mb_per_s,
                    f"{100 * oja.mb_per_s / bare.mb_per_s:.0f} %",
                    f"{100 * oja.mb_per_s / durable.mb_per_s:.0f} %",
                    bare.rss_growth_mb,
                    oja.rss_growth_mb,
                ]
            )
    print(machine_line())
    print(f"database: {'SQLite' if url.startswith('sqlite') else 'PostgreSQL'}; local storage")
    print()
    headers_row = [
        "Upload",
        "bare MB/s",
        "bare+sha256+fsync MB/s",
        "Oja MB/s",
        "Oja / bare",
        "Oja / bare+sha256+fsync",
        "bare RSS growth MB",
        "Oja RSS growth MB",
    ]
    print(markdown_table(headers_row, rows))
    print()
    print("Goal: Oja ≥ 80 % of bare throughput; Oja RSS growth < 30 MB at 500 MB.")


if __name__ == "__main__":
    main()
