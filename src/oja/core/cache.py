"""A byte cache with TTLs: in-process by default, Redis when ``OJA_REDIS_URL`` is set.

A cache only ever holds copies: losing an entry early must be harmless, so callers never store the
only record of anything. Values are bytes; :meth:`Cache.get_json` / :meth:`Cache.set_json` cover the
common case. A stored JSON ``null`` reads back as ``None``, the same as a miss.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast, runtime_checkable

import redis.asyncio as aioredis


@dataclass
class CacheStats:
    """Hit and miss counts of one cache object in this process (not shared across replicas)."""

    hits: int = 0
    misses: int = 0

    def record(self, hit: bool) -> None:
        if hit:
            self.hits += 1
        else:
            self.misses += 1


@runtime_checkable
class Cache(Protocol):
    stats: CacheStats

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        """Store ``value`` for ``ttl`` seconds; a ``ttl`` of zero or less removes the key."""

    async def delete(self, *keys: str) -> None: ...

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every key starting with ``prefix``; return how many were removed."""

    async def get_json(self, key: str) -> Any: ...

    async def set_json(self, key: str, value: Any, ttl: float) -> None: ...


class _JsonCache(ABC):
    """JSON helpers over the byte interface, shared by both backends."""

    @abstractmethod
    async def get(self, key: str) -> bytes | None: ...

    @abstractmethod
    async def set(self, key: str, value: bytes, ttl: float) -> None: ...

    async def get_json(self, key: str) -> Any:
        raw = await self.get(key)
        return None if raw is None else json.loads(raw)

    async def set_json(self, key: str, value: Any, ttl: float) -> None:
        # No default= hook: a value that is not plain JSON is a bug at the call site, not here.
        await self.set(key, json.dumps(value, separators=(",", ":")).encode(), ttl)


class MemoryCache(_JsonCache):
    """In-process cache bounded to ``max_entries``, evicting the least recently used entry.

    No method awaits between reading and writing its state, so concurrent tasks on one event loop
    cannot interleave inside an operation. Expired entries are dropped when touched or evicted.
    """

    def __init__(
        self, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self.stats = CacheStats()
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is not None and entry[0] <= self._clock():
            del self._entries[key]
            entry = None
        self.stats.record(entry is not None)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        if ttl <= 0:
            self._entries.pop(key, None)
            return
        self._entries[key] = (self._clock() + ttl, bytes(value))
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._entries.pop(key, None)

    async def delete_prefix(self, prefix: str) -> int:
        doomed = [key for key in self._entries if key.startswith(prefix)]
        for key in doomed:
            del self._entries[key]
        return len(doomed)


class RedisCache(_JsonCache):
    """Cache in Redis under ``namespace``; entries expire through Redis TTLs.

    The client must return bytes (``decode_responses=False``, redis-py's default). Errors from
    Redis propagate: a cache outage is visible (the app answers 503), never mistaken for a miss.
    """

    def __init__(self, redis: aioredis.Redis, namespace: str = "oja:cache:") -> None:
        if redis.connection_pool.connection_kwargs.get("decode_responses"):
            raise ValueError("RedisCache needs a client with decode_responses=False")
        self.stats = CacheStats()
        self._redis = redis
        self._namespace = namespace

    async def get(self, key: str) -> bytes | None:
        # bytes, never str: the constructor refuses clients with decode_responses.
        value = cast("bytes | None", await self._redis.get(self._namespace + key))
        self.stats.record(value is not None)
        return value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        if ttl <= 0:
            await self.delete(key)
            return
        # Millisecond TTLs so sub-second values do not round to "no expiry" or to zero.
        await self._redis.set(self._namespace + key, value, px=max(1, round(ttl * 1000)))

    async def delete(self, *keys: str) -> None:
        if keys:
            await self._redis.unlink(*(self._namespace + key for key in keys))

    async def delete_prefix(self, prefix: str) -> int:
        # SCAN walks the keyspace in pages without blocking Redis the way KEYS would; each page is
        # removed with UNLINK so large values are freed off the main thread.
        pattern = _glob_escape(self._namespace + prefix) + "*"
        removed = 0
        cursor = 0
        while True:
            cursor, batch = await self._redis.scan(cursor=cursor, match=pattern, count=500)
            if batch:
                removed += int(await self._redis.unlink(*batch))
            if cursor == 0:
                return removed


def _glob_escape(text: str) -> str:
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)


def create_cache(
    redis: aioredis.Redis | None, *, namespace: str = "oja:cache:", max_entries: int = 10_000
) -> Cache:
    """Redis-backed when a client is given (shared by every replica), else in-process."""
    if redis is not None:
        return RedisCache(redis, namespace)
    return MemoryCache(max_entries=max_entries)
