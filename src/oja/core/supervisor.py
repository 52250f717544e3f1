"""The child processes ``oja serve`` runs beside its API (worker, beat): kept alive, and stopped.

Invariants:

- a child that exits while the supervisor runs is started again, after an exponential backoff
  (``BACKOFF_BASE`` doubling to ``BACKOFF_CAP``; reset once a child has stayed up ``STABLE_AFTER``
  seconds), and each restart is logged (``worker.exited``, ``worker.restarted``) and counted in
  ``oja_worker_restarts_total``;
- each child runs in a session of its own, so stopping or reaping it signals its whole tree (Celery's
  pool processes included); :meth:`Supervisor.stop` sends SIGTERM to every tree, waits at most
  ``grace`` seconds in all, then SIGKILLs what is left;
- each child is told its parent's pid and calls :func:`exit_with_parent`: on Linux the kernel sends it
  SIGTERM when the parent dies (``PR_SET_PDEATHSIG``), and a thread watching the parent's pid does the
  same anywhere else; either way the child's whole tree is SIGKILLed ``grace`` seconds later. A
  SIGKILLed ``oja serve`` therefore leaves nothing running for long.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import structlog

from oja.core.metrics import WORKER_RESTARTS

log = structlog.get_logger("oja.serve")

BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
STABLE_AFTER = 60.0
PR_SET_PDEATHSIG = 1


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    restarts: int = 0


class Supervisor:
    """Starts the children, restarts those that exit, and stops them all on :meth:`stop`."""

    def __init__(self, children: dict[str, list[str]], *, grace: float, poll: float = 0.2) -> None:
        self.children = [Child(name, argv) for name, argv in children.items()]
        self.grace = grace
        self.poll = poll
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> Supervisor:
        for child in self.children:
            WORKER_RESTARTS.labels(child.name)  # the series exists (at 0) before any restart
            self._spawn(child)
        self._thread = threading.Thread(target=self._watch, name="oja-supervisor", daemon=True)
        self._thread.start()
        return self

    def pids(self) -> dict[str, int]:
        with self._lock:
            return {c.name: c.process.pid for c in self.children if c.process is not None}

    def _spawn(self, child: Child) -> None:
        argv = [sys.executable, "-m", "oja.cli", *child.argv, "--parent-pid", str(os.getpid())]
        child.process = subprocess.Popen(argv, start_new_session=True)  # noqa: S603 - our own command
        child.started_at = time.monotonic()
        child.restart_at = None
        log.info("worker.started", process=child.name, pid=child.process.pid)

    def _watch(self) -> None:
        while not self._stopping.wait(self.poll):
            with self._lock:
                if self._stopping.is_set():
                    return
                for child in self.children:
                    try:
                        self._tend(child)
                    except Exception as exc:  # keep tending the others; try again next round
                        log.error("worker.restart_failed", process=child.name, error=repr(exc))

    def _tend(self, child: Child) -> None:
        now = time.monotonic()
        process = child.process
        if process is not None and child.restart_at is None:
            code = process.poll()
            if code is None:
                return
            _kill_tree(process.pid, signal.SIGKILL)  # what the dead leader left (pool processes)
            uptime = now - child.started_at
            child.failures = 0 if uptime >= STABLE_AFTER else child.failures + 1
            delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, child.failures - 1))
            child.restart_at = now + delay
            log.error(
                "worker.exited",
                process=child.name,
                pid=process.pid,
                exit_code=code,
                uptime_s=round(uptime, 1),
                restart_in_s=delay,
            )
        if child.restart_at is not None and now >= child.restart_at:
            child.restarts += 1
            self._spawn(child)
            WORKER_RESTARTS.labels(child.name).inc()
            log.warning(
                "worker.restarted",
                process=child.name,
                pid=child.process.pid if child.process else None,
                restarts=child.restarts,
            )

    def stop(self) -> None:
        """SIGTERM every child's tree, wait up to ``grace`` seconds in all, SIGKILL the rest."""
        self._stopping.set()
        with self._lock:
            running = [c.process for c in self.children if c.process is not None]
        for process in running:
            _kill_tree(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for process in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
        for process in running:
            # Also when the leader has exited: a pool process may still be finishing a job.
            _kill_tree(process.pid, signal.SIGKILL)
            process.wait()
        if self._thread is not None:
            self._thread.join(timeout=5)
        log.info("worker.stopped", processes=[c.name for c in self.children])


def _kill_tree(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def exit_with_parent(parent_pid: int, grace: float) -> None:
    """Make this process (the leader of its own session) stop when ``parent_pid`` is gone: SIGTERM
    first (Celery's warm shutdown), SIGKILL to the whole session ``grace`` seconds later."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    # The parent may have died before the line above; then no signal will ever come.
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGTERM)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        log.warning("worker.parent_lost", parent_pid=parent_pid, grace_s=grace)
        if sys.platform != "linux":
            os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace)
        os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=watch, name="oja-parent-watch", daemon=True).start()
