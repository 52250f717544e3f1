"""Oja's own processes (a worker, a server, the demo) started by tests: each in a process group of
its own, its output appended to a log file, and always stopped — SIGTERM to the group, then SIGKILL
if it has not gone within the grace period — whatever the test's outcome."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def spawn(
    argv: list[str], env: Mapping[str, str], log: Path, *, cwd: Path = REPO
) -> subprocess.Popen[bytes]:
    """``python -m <argv>`` in a new session (so its children can be signalled with it)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", *argv],
            env=dict(env),
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes], *, grace: float = 20.0) -> None:
    """SIGTERM the process group, SIGKILL it after ``grace`` seconds (a group already gone is fine)."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def running(
    argv: list[str], env: Mapping[str, str], log: Path, *, cwd: Path = REPO
) -> Iterator[subprocess.Popen[bytes]]:
    process = spawn(argv, env, log, cwd=cwd)
    try:
        yield process
    finally:
        stop(process)


def _process_table() -> tuple[dict[int, int], dict[int, str]]:
    """Every live (not zombie) process's parent and command line, by pid, from /proc."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name is in parentheses and may hold spaces: split after the last ")".
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
            raw = (entry / "cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        if fields[0] == "Z":
            continue
        parents[int(entry.name)] = int(fields[1])
        commands[int(entry.name)] = raw.replace(b"\0", b" ").decode(errors="replace").strip()
    return parents, commands


def children(pid: int) -> dict[int, str]:
    """The live processes whose parent is ``pid``, with their command lines."""
    parents, commands = _process_table()
    return {child: commands[child] for child, parent in parents.items() if parent == pid}


def descendants(pid: int) -> dict[int, str]:
    """Every live (not zombie) process below ``pid``, by pid, with its command line."""
    parents, commands = _process_table()
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found[child] = commands[child]
                frontier.append(child)
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie waiting to be reaped is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


async def wait_until(
    predicate: Callable[[], Awaitable[bool]], timeout: float, what: str, log: Path
) -> None:
    """Poll ``predicate`` until it holds; past ``timeout`` fail with the tail of ``log`` (the
    worker's output says why). A bound on how long to wait, never an assertion on timing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what} did not happen in {timeout:g} s\n{log.read_text()[-3000:]}")


def chaos_worker_env(database_url: str, settings: Any, imports: list[str]) -> dict[str, str]:
    """A worker subprocess's environment for the SIGKILL tests: the test's database and secret, a
    filesystem broker, ``imports`` loaded into the worker (their fault-injection hooks), and a
    sweeper that requeues a dead worker's job after one second instead of minutes."""
    return {
        **os.environ,
        "OJA_ENV": "test",
        "OJA_SECRET_KEY": settings.secret_key,
        "OJA_VAR_DIR": str(settings.app.var_dir),
        "OJA_DATABASE_URL": database_url,
        "OJA_BROKER_URL": "filesystem://",
        "OJA_WORKER_IMPORTS": json.dumps(imports),
        "OJA_SWEEPER_INTERVAL": "0.5",
        "OJA_JOB_REQUEUE_AFTER": "1",
        "OJA_JOB_LEASE_GRACE": "1",
        "OJA_JOB_RETRY_BASE_DELAY": "0",
        "PYTHONPATH": str(REPO),
    }


async def lapse_lease(app: Any, kind: str) -> int:
    """The killed worker's lease on its ``running`` jobs of ``kind`` runs out now, as the job's
    timeout (minutes for some kinds) plus the grace would make it: the sweeper takes them over at
    its next pass instead of the test waiting that long. How many leases lapsed."""
    from sqlalchemy import text

    async with app.state.runtime.database.engine.begin() as conn:
        lapsed = await conn.execute(
            text(
                "UPDATE job SET lease_expires_at = now() - interval '1 second' "
                "WHERE kind = :kind AND status = 'running'"
            ),
            {"kind": kind},
        )
    return int(lapsed.rowcount)


async def kill_at_marker(
    process: subprocess.Popen[bytes], marker: Path, log: Path, what: str, timeout: float = 90
) -> None:
    """SIGKILL ``process``'s group once its fault-injection hook left ``marker`` (it stalls there
    at the point under test), and reap it."""

    async def stalled() -> bool:
        return marker.exists()

    await wait_until(stalled, timeout, what, log)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def reconciled(env: Mapping[str, str]) -> str:
    """``oja reconcile`` as a process with ``env`` (fresh work may be two minutes old); its table,
    asserted all consistent."""
    done = subprocess.run(
        [sys.executable, "-m", "oja.cli", "reconcile", "--stale-after", "120"],
        env=dict(env),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.endswith("all consistent\n"), done.stdout
    return done.stdout
