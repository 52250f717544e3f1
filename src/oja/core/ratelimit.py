"""Rate limits: one :class:`RateLimiter`, in-process, or on Redis when ``OJA_REDIS_URL`` is set.

Moving windows: exact (never more than ``amount`` hits in any ``period``), atomic per key (a Lua
script on Redis; in process a hit has no ``await``, so no other task runs inside it). On Redis
they are ``limits``' async moving-window strategy's keys and scripts. In process they are
:class:`_MemoryWindows`, not ``limits``' ``MemoryStorage``: that one starts an expiry sweep after
every hit whose previous sweep has finished, and the sweep hops to a worker thread once per key,
so a process under load kept a thread busy sweeping (~0.5 CPU ms a hit: bench/ratelimit.py).
Redis goes through
``limits``' redis-py bridge (``implementation="redispy"``), so coredis is not needed; there a hit
and the window it leaves are one script (``limits``' two, back to back): one round trip per hit.
Hit timestamps come from each process's own clock, so replicas sharing a Redis need synced clocks.

A limiter whose Redis is down raises redis' ``ConnectionError`` (the app answers 503): an outage
never turns into "allow everything".
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass

import limits
import redis.asyncio as aioredis
from limits.aio.storage import RedisStorage
from limits.aio.storage.redis.redispy import RedispyBridge
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import TimeoutError as RedisTimeoutError

from oja.core.errors import TooManyRequests


@dataclass(frozen=True)
class Rate:
    """``amount`` hits per ``period`` seconds."""

    amount: int
    period: int

    def __post_init__(self) -> None:
        if self.amount < 1 or self.period < 1:
            raise ValueError("a rate needs amount >= 1 and period >= 1 second")

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``"5/hour"``, ``"10 per minute"``, ``"100/2 hours"`` (``limits`` notation)."""
        item = limits.parse(text)
        return cls(item.amount, item.get_expiry())

    def __str__(self) -> str:
        return f"{self.amount}/{self.period}s"

    def _item(self) -> limits.RateLimitItem:
        # Per-second granularity keys the same rate identically however it was written.
        return limits.RateLimitItemPerSecond(self.amount, self.period)


@dataclass(frozen=True)
class Decision:
    """The outcome of one hit.

    ``remaining`` counts hits still allowed now; ``reset_after_seconds`` is when the oldest counted
    hit leaves the window (and ``remaining`` grows). A refused decision always has
    ``retry_after_seconds > 0``; an allowed one has ``0``.
    """

    allowed: bool
    limit: int
    remaining: int
    reset_after_seconds: float
    retry_after_seconds: float


_HIT_AND_WINDOW = """
-- limits' acquire_moving_window.lua (one entry), then its moving_window.lua at the same
-- timestamp, in one script: {acquired, oldest entry in the window, entries in the window}.
local timestamp = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local expiry = tonumber(ARGV[3])

local acquired = 0
local entry = redis.call('lindex', KEYS[1], limit - 1)
if not (entry and tonumber(entry) >= timestamp - expiry) then
    redis.call('lpush', KEYS[1], timestamp)
    redis.call('ltrim', KEYS[1], 0, limit - 1)
    redis.call('expire', KEYS[1], expiry)
    acquired = 1
end

local target = timestamp - expiry
local low, high, index = 0, limit - 1, nil
while low <= high do
    local mid = math.floor((low + high) / 2)
    local val = tonumber(redis.call('lindex', KEYS[1], mid))
    if val and val >= target then
        index = mid
        low = mid + 1
    else
        high = mid - 1
    end
end
if index then
    return {acquired, tostring(tonumber(redis.call('lindex', KEYS[1], index))), index + 1}
end
return {acquired}
"""


class RateLimiter:
    """Counts hits per ``(scope, key, rate)``; scopes are code constants like ``"auth.login"``."""

    def __init__(
        self, storage: RedisStorage | None, *, owned_pool: aioredis.ConnectionPool | None = None
    ) -> None:
        """``storage``: ``limits``' Redis storage on its redis-py bridge; None counts in this
        process."""
        self._memory = _MemoryWindows() if storage is None else None
        self._strategy = MovingWindowRateLimiter(storage) if storage is not None else None
        self._owned_pool = owned_pool
        # On Redis (limits' redis-py bridge) a hit is one script.
        self._bridge: RedispyBridge | None = None
        if storage is not None:
            if not isinstance(storage.bridge, RedispyBridge):
                raise TypeError("a Redis rate limiter needs limits' redis-py bridge")
            self._bridge = storage.bridge
            self._hit_script = storage.bridge.get_connection().register_script(
                _HIT_AND_WINDOW.encode()
            )

    @classmethod
    def in_memory(cls) -> RateLimiter:
        """Counts in this process only: right for one API process, wrong behind N replicas."""
        return cls(None)

    @classmethod
    def redis(
        cls,
        url: str,
        *,
        key_prefix: str = "oja:ratelimit",
        max_connections: int = 100,
        pool_timeout: float = 2.0,
    ) -> RateLimiter:
        """Counts in Redis at ``url`` (``redis://``, ``rediss://``, ``unix://``), shared."""
        pool = redis_pool(url, max_connections=max_connections, timeout=pool_timeout)
        # Our own pool, so aclose() can release it; limits builds its client on top of it.
        storage = RedisStorage(
            "async+redis+unix://" + url.removeprefix("unix://")
            if url.startswith("unix://")
            else "async+" + url,
            implementation="redispy",
            key_prefix=key_prefix,
            connection_pool=pool,  # type: ignore[arg-type]  # limits types options as scalars
        )
        return cls(storage, owned_pool=pool)

    async def hit(self, scope: str, key: str, limit: Rate) -> Decision:
        """Count one hit unless it would exceed ``limit``; say whether it was allowed."""
        if "/" in scope:
            # limits joins identifiers with "/": a slash in a scope could alias another scope.
            raise ValueError("a rate-limit scope must not contain '/'")
        if self._memory is not None:
            allowed, reset_after, remaining = self._memory.hit(scope, key, limit)
        else:
            allowed, reset_time, remaining = await self._hit_on_redis(limit._item(), scope, key)
            reset_after = max(0.0, reset_time - time.time())
        return Decision(
            allowed=allowed,
            limit=limit.amount,
            remaining=max(0, min(limit.amount, remaining)),
            reset_after_seconds=reset_after,
            retry_after_seconds=0.0 if allowed else max(reset_after, 0.001),
        )

    async def _hit_on_redis(
        self, item: limits.RateLimitItem, scope: str, key: str
    ) -> tuple[bool, float, int]:
        """limits' ``hit`` and ``get_window_stats`` on the same key, as one script: whether the
        hit counted, when the window's oldest entry leaves it, how many more hits it allows."""
        assert self._bridge is not None
        expiry = item.get_expiry()
        timestamp = time.time()
        result = await self._hit_script(
            [self._bridge.prefixed_key(item.key_for(scope, key))],
            [timestamp, item.amount, expiry],
        )
        # As limits' get_moving_window: an empty window starts now.
        oldest, count = (float(result[1]), int(result[2])) if len(result) > 1 else (timestamp, 0)
        return bool(result[0]), oldest + expiry, item.amount - count

    async def reset(self, scope: str, key: str, limit: Rate) -> None:
        """Forget the hits counted for ``(scope, key, limit)`` (after a successful login, say)."""
        if self._memory is not None:
            self._memory.reset(scope, key, limit)
        else:
            assert self._strategy is not None
            await self._strategy.clear(limit._item(), scope, key)

    async def aclose(self) -> None:
        if self._owned_pool is not None:
            await self._owned_pool.aclose()


class _MemoryWindows:
    """The in-process moving windows: for each ``(scope, key, rate)`` the monotonic times of the
    hits still inside its period, oldest first (at most ``amount`` of them). A hit first drops its
    own key's expired times; windows left empty are forgotten by a sweep that runs inline at most
    once every :data:`SWEEP_EVERY_SECONDS`, so memory follows the keys that were hit recently."""

    SWEEP_EVERY_SECONDS = 60.0

    def __init__(self) -> None:
        self._windows: dict[tuple[str, str, Rate], deque[float]] = {}
        self._next_sweep = time.monotonic() + self.SWEEP_EVERY_SECONDS

    def hit(self, scope: str, key: str, limit: Rate) -> tuple[bool, float, int]:
        """Count one hit unless ``amount`` are already in the window: (allowed, seconds until the
        oldest counted hit leaves it, hits still allowed)."""
        now = time.monotonic()
        if now >= self._next_sweep:
            self._sweep(now)
        times = self._windows.setdefault((scope, key, limit), deque())
        # As limits' moving window: a hit exactly `period` seconds old still counts.
        cutoff = now - limit.period
        while times and times[0] < cutoff:
            times.popleft()
        allowed = len(times) < limit.amount
        if allowed:
            times.append(now)
        oldest = times[0] if times else now
        return allowed, max(0.0, oldest + limit.period - now), limit.amount - len(times)

    def reset(self, scope: str, key: str, limit: Rate) -> None:
        self._windows.pop((scope, key, limit), None)

    def _sweep(self, now: float) -> None:
        self._windows = {
            window: times
            for window, times in self._windows.items()
            if times and times[-1] >= now - window[2].period
        }
        self._next_sweep = now + self.SWEEP_EVERY_SECONDS


def create_rate_limiter(
    redis_url: str | None, *, max_connections: int = 100, pool_timeout: float = 2.0
) -> RateLimiter:
    if not redis_url:
        return RateLimiter.in_memory()
    return RateLimiter.redis(redis_url, max_connections=max_connections, pool_timeout=pool_timeout)


def redis_pool(url: str, *, max_connections: int, timeout: float) -> aioredis.ConnectionPool:
    """A bounded pool whose callers wait up to ``timeout`` seconds for a free connection.

    redis-py's default pool raises ``MaxConnectionsError`` the moment its 101st concurrent command
    arrives, which turned a burst of 200 logins into 100 instant 503s; waiting briefly is what a
    burst needs, and a pool still empty after ``timeout`` is an overload (503) all the same.

    A connect that times out is tried once more (:func:`_patient`); commands are never retried."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout,
        socket_connect_timeout=2,
        socket_timeout=2,
        health_check_interval=10,
    )
    pool.connection_class = _patient(pool.connection_class)
    return pool


_PATIENT: dict[type[AbstractConnection], type[AbstractConnection]] = {}


def _patient(cls: type[AbstractConnection]) -> type[AbstractConnection]:
    """``cls`` (plain, TLS or Unix socket: the URL chose) whose ``connect`` tries twice when the
    first attempt times out.

    The connect timeout is wall time, so a process whose loop stalled for it (a long GC pause, a
    2-core box under load) saw a localhost connect "time out" although it had finished: CI lost a
    test to it in a burst of 100 new connections. A retried connect has sent nothing, so it is
    always safe; a command is another matter (a retried ``INCR`` counts twice), so redis-py's own
    retry, which wraps commands too, stays off. A refused connect is not retried: Redis is down.
    A black-holed one fails after two timeouts (4 s) instead of one."""
    if cls not in _PATIENT:

        class Patient(cls):  # type: ignore[valid-type,misc]
            async def connect(self) -> None:
                try:
                    await super().connect()
                except RedisTimeoutError:
                    await self.disconnect()
                    await super().connect()

        Patient.__name__ = Patient.__qualname__ = f"Patient{cls.__name__}"
        _PATIENT[cls] = Patient
    return _PATIENT[cls]


def rate_limit_headers(decision: Decision) -> dict[str, str]:
    """``RateLimit-Limit``, ``-Remaining``, ``-Reset`` (IETF draft, delta seconds), and
    ``Retry-After`` when refused. Seconds round up so a client that waits as told is never early."""
    headers = {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(math.ceil(decision.reset_after_seconds)),
    }
    if not decision.allowed:
        headers["Retry-After"] = str(max(1, math.ceil(decision.retry_after_seconds)))
    return headers


def enforce(decision: Decision) -> None:
    """Raise :class:`TooManyRequests` (429, with the headers above) if ``decision`` is a refusal."""
    if decision.allowed:
        return
    retry_after = max(1, math.ceil(decision.retry_after_seconds))
    raise TooManyRequests(
        f"Too many requests. Try again in {retry_after} seconds.",
        details={
            "limit": decision.limit,
            "remaining": decision.remaining,
            "retry_after": retry_after,
        },
        headers=rate_limit_headers(decision),
    )
