"""Oja's own processes (a worker, a server, the demo) started by tests: each in a process group of
its own, its output appended to a log file, and always stopped — SIGTERM to the group, then SIGKILL
if it has not gone within the grace period — whatever the test's outcome."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

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
