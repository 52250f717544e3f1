"""Backing services the outage tests own: a redis-server and a PostgreSQL cluster of their own,
started on free loopback ports and stopped at will. The shared servers of the machine are never
stopped; these are throwaway processes in a temporary directory.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, *, up: bool, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            accepting = sock.connect_ex(("127.0.0.1", port)) == 0
        if accepting == up:
            return
        time.sleep(0.05)
    raise AssertionError(f"port {port} never became {'open' if up else 'closed'}")


def _binary(name: str, pattern: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(pattern), reverse=True)), None)
    if found is None:
        pytest.fail(f"{name} is not installed; the outage tests start their own server with it")
    return found


class OwnRedis:
    """A redis-server on a free port that keeps nothing on disk: killing it loses every key,
    queued broker messages included, as a crashed cache node would."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self._binary = _binary("redis-server", "/usr/bin/redis-server")
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [self._binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_port(self.port, up=True)

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        _wait_port(self.port, up=False)

    def __enter__(self) -> OwnRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


class OwnPostgres:
    """A PostgreSQL cluster made by ``initdb`` in a temporary directory, on a free port, with trust
    authentication on loopback. As root the server runs as the ``postgres`` user (it refuses root).
    ``crash()`` is ``pg_ctl stop -m immediate``: no checkpoint, recovery from the WAL on start."""

    def __init__(self) -> None:
        self.port = free_port()
        self._bin = Path(_binary("initdb", "/usr/lib/postgresql/*/bin/initdb")).parent
        self._dir = Path(tempfile.mkdtemp(prefix="oja-pg-", dir="/tmp"))
        self._data = self._dir / "data"
        self._as: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self._dir, user="postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        self.server_url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _pg(self, *args: str) -> None:
        subprocess.run(
            [*self._as, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def init(self) -> None:
        self._pg(
            str(self._bin / "initdb"),
            *("-D", str(self._data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"),
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self._dir} -c listen_addresses=127.0.0.1"
        self._pg(
            str(self._bin / "pg_ctl"),
            *("-D", str(self._data), "-l", str(self._dir / "log"), "-w", "-o", options, "start"),
        )

    def crash(self) -> None:
        self._pg(str(self._bin / "pg_ctl"), "-D", str(self._data), "-m", "immediate", "stop")
        _wait_port(self.port, up=False)

    def stop(self) -> None:
        if (self._data / "postmaster.pid").exists():
            self._pg(str(self._bin / "pg_ctl"), "-D", str(self._data), "-m", "fast", "stop")

    def log(self) -> str:
        path = self._dir / "log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self) -> OwnPostgres:
        self.init()
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)
