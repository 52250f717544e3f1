"""What blocks an event loop, measured from inside the process: for the shopping day's diagnosis.

:class:`LoopProbe` puts a heartbeat on a running loop (a callback every ``tick`` seconds) and a
watchdog thread beside it. The heartbeat's lateness is the loop's *lag*: how long a ready
callback (a request resuming after its answer arrived) waited for the loop at that moment. While
the heartbeat is more than ``stall`` seconds late the watchdog samples the loop thread's Python
stack every ``tick``: what held the loop, by code path. Garbage collections are timed by
generation (``gc.callbacks``).

Two users: the load generator (``python -m bench.load shopping-day --probe``) probes its own loop,
and :func:`create_app` (a uvicorn ``--factory``) wraps Oja's app to probe the API process's loop
and time each request from the ASGI call to its last body byte, by route (``POST /_probe/reset``
and ``GET /_probe/summary``, answered by the wrapper). Measurement only: nothing here changes what
a request does.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":  # `make bench` runs every file in bench/; this one is a library.
    print("bench/loop_probe.py is the shopping day's loop probe; nothing to run")
    sys.exit(0)

import asyncio
import contextvars
import functools
import gc
import json
import re
import threading
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_OWN_FILES = ("/oja/", "/bench/", "/tests/")
_marks: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar("marks", default=None)
RESET_PATH = "/_probe/reset"
"""Answered by :class:`ProbedApp` itself (204): forget what was measured so far (the ramp)."""
SUMMARY_PATH = "/_probe/summary"
"""Answered by :class:`ProbedApp` itself: what was measured since the reset, as JSON."""


def percentiles(values: list[float]) -> dict[str, float]:
    """count, p50, p95, p99 and max of ``values`` (milliseconds, rounded)."""
    if not values:
        return {"count": 0}
    ordered = sorted(values)

    def at(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))], 1)

    return {
        "count": len(ordered),
        "p50": at(50),
        "p95": at(95),
        "p99": at(99),
        "max": round(ordered[-1], 1),
    }


def _where(frames: traceback.StackSummary, own: int = 3) -> str:
    """A stall sample's code path: the innermost ``own`` frames of our own code (oja, bench,
    tests), outer first, then the innermost frame when it is not one of them."""
    if not frames:
        return "?"
    ours = [f for f in frames if any(part in f.filename for part in _OWN_FILES)][-own:]
    parts = [
        f"{f.filename.split('/src/')[-1].split('/pp36/')[-1]}:{f.name}:{f.lineno}" for f in ours
    ]
    inner = frames[-1]
    if not ours or ours[-1] is not inner:
        parts.append(f"{Path(inner.filename).name}:{inner.name}:{inner.lineno}")
    return " > ".join(parts)


@dataclass
class LoopProbe:
    tick: float = 0.005
    stall: float = 0.025
    lags_ms: list[float] = field(default_factory=list)
    stalls_ms: list[float] = field(default_factory=list)
    samples: Counter[str] = field(default_factory=Counter)
    """Watchdog samples taken during stalls, by code path (one sample: ``tick`` of stall)."""
    gc_ms: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    gc_collected: Counter[int] = field(default_factory=Counter)
    """Objects each generation's collections freed (cyclic garbage found)."""
    _beat: float = 0.0
    _thread_id: int = 0
    _stopped: bool = False
    _gc_started: float = 0.0

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._thread_id = threading.get_ident()
        self._beat = time.perf_counter()
        loop.call_later(self.tick, self._heartbeat, loop)
        gc.callbacks.append(self._gc)
        threading.Thread(target=self._watch, name="loop-probe", daemon=True).start()

    def stop(self) -> None:
        self._stopped = True
        if self._gc in gc.callbacks:
            gc.callbacks.remove(self._gc)

    def _heartbeat(self, loop: asyncio.AbstractEventLoop) -> None:
        now = time.perf_counter()
        late = now - self._beat - self.tick
        self.lags_ms.append(max(0.0, late) * 1000)
        if late > self.stall:
            self.stalls_ms.append(late * 1000)
        self._beat = now
        if not self._stopped:
            loop.call_later(self.tick, self._heartbeat, loop)

    def _watch(self) -> None:
        while not self._stopped:
            time.sleep(self.tick)
            if time.perf_counter() - self._beat - self.tick <= self.stall:
                continue
            frame = sys._current_frames().get(self._thread_id)
            if frame is not None:
                self.samples[_where(traceback.extract_stack(frame))] += 1

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_ms[info["generation"]].append((time.perf_counter() - self._gc_started) * 1000)
            self.gc_collected[info["generation"]] += info["collected"]

    def summary(self, top: int = 25) -> dict[str, Any]:
        return {
            "lag_ms": percentiles(list(self.lags_ms)),
            "stalls": {
                **percentiles(list(self.stalls_ms)),
                "total_ms": round(sum(self.stalls_ms), 1),
                "threshold_ms": self.stall * 1000,
            },
            "stall_samples": self.samples.most_common(top),
            "gc_ms": {
                f"gen{generation}": {
                    **percentiles(list(times)),
                    "total_ms": round(sum(times), 1),
                    "collected": self.gc_collected[generation],
                }
                for generation, times in sorted(self.gc_ms.items())
            },
            "heap": heap_census(),
        }


def heap_census(top: int = 15) -> dict[str, Any]:
    """What the collector tracks now: objects per generation, the frozen ones, and the most
    numerous types of the oldest generation (what a full collection walks)."""
    oldest = gc.get_objects(generation=2)
    kinds = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in oldest)
    return {
        "generations": [len(gc.get_objects(generation=g)) for g in range(3)],
        "frozen": gc.get_freeze_count(),
        "oldest_types": kinds.most_common(top),
    }


def route_of(scope: Scope) -> str:
    """The shopping day's endpoint name for a request (its ids as ``{id}``)."""
    path = _UUID.sub("{id}", scope.get("path", ""))
    if path == "/search":
        query = scope.get("query_string", b"").decode(errors="replace")
        path += "?q" if re.search(r"(^|&)q=", query) else "?category"
    return f"{scope.get('method', '')} {path}"


class ProbedApp:
    """An ASGI app around Oja's: the loop probe, and each request's time in the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.probe = LoopProbe()
        self.started = False
        self.requests: dict[str, list[float]] = defaultdict(list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.started:
            self.started = True
            self.probe.start(asyncio.get_running_loop())
        if scope["type"] == "http" and scope.get("path") in (RESET_PATH, SUMMARY_PATH):
            body = b""
            if scope["path"] == RESET_PATH:
                self.reset()
            else:
                body = json.dumps(self.summary()).encode()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        answered: list[float] = []
        marks: set[str] = set()
        token = _marks.set(marks)

        async def timed_send(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                answered.append(time.perf_counter())

        try:
            await self.app(scope, receive, timed_send)
        finally:
            _marks.reset(token)
            done = time.perf_counter()
            name = route_of(scope)
            if marks - {"view flush"}:
                name += " [" + ", ".join(sorted(marks - {"view flush"})) + "]"
            self.requests[name].append(((answered[0] if answered else done) - began) * 1000)
            # After the answer: what the request still ran (background tasks) before returning.
            after = " (after the answer" + (", view flush)" if "view flush" in marks else ")")
            self.requests[f"{name}{after}"].append(
                (done - (answered[0] if answered else done)) * 1000
            )

    def summary(self) -> dict[str, Any]:
        return {
            "loop": self.probe.summary(),
            "requests_ms": {
                name: percentiles(list(times)) for name, times in sorted(self.requests.items())
            },
        }

    def reset(self) -> None:
        """Forget what was measured so far (the day's ramp); the probe keeps running."""
        self.probe.lags_ms.clear()
        self.probe.stalls_ms.clear()
        self.probe.samples.clear()
        self.probe.gc_ms.clear()
        self.requests.clear()


def marking(function: Callable[..., Awaitable[Any]], label: str) -> Callable[..., Any]:
    """``function``, marking the request that calls it with ``label`` (its figures are apart)."""

    @functools.wraps(function)
    async def marked(*args: Any, **kwargs: Any) -> Any:
        found = _marks.get()
        if found is not None:
            found.add(label)
        return await function(*args, **kwargs)

    return marked


def create_app() -> ProbedApp:
    """uvicorn ``--factory`` target: Oja's app, probed. A request that read a store's allowance
    from the database (the plan cache missed), admitted a store's new visitor, or wrote the
    buffered views is timed apart (``[allowance read]``, ``[first visit]``, ``view flush``)."""
    from oja.main import create_app as oja_app
    from oja.marketplace.plans import repository
    from oja.marketplace.plans.traffic import RedisVisitors
    from oja.marketplace.recommendations import recorder

    repository.active_plans = marking(repository.active_plans, "allowance read")
    RedisVisitors.admit = marking(RedisVisitors.admit, "first visit")  # type: ignore[method-assign]
    recorder.flush_views = marking(recorder.flush_views, "view flush")
    return ProbedApp(oja_app())
