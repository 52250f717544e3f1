"""Failed-login counters per account and per client IP, with growing lockouts.

After ``login_max_failures`` consecutive failures a key is locked for ``login_lockout_base``
seconds; every further failure once the threshold is reached doubles the lockout (capped). While
locked, every attempt — even with the right password — is refused before any hashing. A success
resets the account counter (not the IP one: a guesser must not clear its IP by logging into its
own account).

Counters live in Redis when the runtime has one (shared by every API replica), otherwise
in-process. Accounts are keyed by a digest of the normalised identifier, so unknown and known
accounts lock alike and no identifier is written to Redis in clear.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Protocol

import redis.asyncio as aioredis

from oja.identity.config import IdentitySettings
from oja.identity.errors import LoginLocked

PREFIX = "oja:identity:login"


class ThrottleStore(Protocol):
    async def incr(self, key: str, ttl: int) -> int: ...
    async def lock(self, key: str, seconds: float) -> None: ...
    async def locked_for(self, keys: list[str]) -> float: ...
    async def reset(self, key: str) -> None: ...


class MemoryThrottleStore:
    """Process-local counters; enough for one API process on embedded defaults."""

    _PRUNE_AT = 10_000

    def __init__(self) -> None:
        self._counters: dict[str, tuple[int, float]] = {}
        self._locks: dict[str, float] = {}

    def _prune(self, now: float) -> None:
        if len(self._counters) > self._PRUNE_AT:
            self._counters = {k: v for k, v in self._counters.items() if v[1] > now}
        if len(self._locks) > self._PRUNE_AT:
            self._locks = {k: v for k, v in self._locks.items() if v > now}

    async def incr(self, key: str, ttl: int) -> int:
        now = time.monotonic()
        self._prune(now)
        count, expires = self._counters.get(key, (0, 0.0))
        count = count + 1 if expires > now else 1
        self._counters[key] = (count, now + ttl)
        return count

    async def lock(self, key: str, seconds: float) -> None:
        self._locks[key] = time.monotonic() + seconds

    async def locked_for(self, keys: list[str]) -> float:
        now = time.monotonic()
        return max((self._locks.get(k, 0.0) - now for k in keys), default=0.0)

    async def reset(self, key: str) -> None:
        self._counters.pop(key, None)


class RedisThrottleStore:
    """Counters shared by every API process (INCR + EXPIRE, lock keys with a TTL)."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis

    async def incr(self, key: str, ttl: int) -> int:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, ttl)
            count, _ = await pipe.execute()
        return int(count)

    async def lock(self, key: str, seconds: float) -> None:
        await self._redis.set(key, b"1", px=max(1, math.ceil(seconds * 1000)))

    async def locked_for(self, keys: list[str]) -> float:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.pttl(key)
            ttls = await pipe.execute()
        return max((int(t) / 1000 for t in ttls if int(t) > 0), default=0.0)

    async def reset(self, key: str) -> None:
        await self._redis.delete(key)


def account_key(identifier: str) -> str:
    return "acct:" + hashlib.sha256(identifier.encode()).hexdigest()[:32]


def ip_key(ip: str) -> str:
    return "ip:" + ip


class LoginThrottle:
    def __init__(self, store: ThrottleStore, settings: IdentitySettings) -> None:
        self._store = store
        self._settings = settings

    async def check(self, *keys: str) -> None:
        """Raise :class:`LoginLocked` with the wait in seconds if any key is locked."""
        remaining = await self._store.locked_for([f"{PREFIX}:lock:{k}" for k in keys])
        if remaining > 0:
            raise LoginLocked(retry_after=max(1, math.ceil(remaining)))

    async def failed(self, *keys: str) -> None:
        settings = self._settings
        for key in keys:
            count = await self._store.incr(f"{PREFIX}:fail:{key}", settings.login_failure_window)
            over = count - settings.login_max_failures
            if over >= 0:
                seconds = min(
                    settings.login_lockout_base * 2 ** min(over, 32), settings.login_lockout_max
                )
                await self._store.lock(f"{PREFIX}:lock:{key}", seconds)

    async def succeeded(self, key: str) -> None:
        await self._store.reset(f"{PREFIX}:fail:{key}")
