"""One behavioural suite over both cache backends, plus what is specific to each."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis
import redis.exceptions

from oja.core.cache import Cache, CacheStats, MemoryCache, RedisCache, create_cache
from tests.conftest import service_url


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Backend:
    cache: Cache
    advance: Callable[[float], Awaitable[None]]
    """Let ``seconds`` pass for the cache's TTLs (a fake clock in process, real time on Redis)."""


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "memory":
        clock = FakeClock()

        async def tick(seconds: float) -> None:
            clock.now += seconds

        yield Backend(MemoryCache(max_entries=5_000, clock=clock), tick)
        return
    client = aioredis.from_url(service_url("redis"))
    namespace = f"oja:test:{uuid.uuid4().hex}:"

    async def wait(seconds: float) -> None:
        await asyncio.sleep(seconds)  # Redis keeps its own time; TTLs in tests are milliseconds

    try:
        yield Backend(RedisCache(client, namespace), wait)
    finally:
        leftovers = [key async for key in client.scan_iter(match=namespace + "*")]
        if leftovers:
            await client.delete(*leftovers)
        await client.aclose()


async def test_miss_then_hit_is_counted(backend: Backend) -> None:
    cache = backend.cache
    assert isinstance(cache, Cache)
    assert await cache.get("k") is None
    await cache.set("k", b"\x00value", ttl=60)
    assert await cache.get("k") == b"\x00value"
    assert cache.stats == CacheStats(hits=1, misses=1)


async def test_set_overwrites(backend: Backend) -> None:
    await backend.cache.set("k", b"one", ttl=60)
    await backend.cache.set("k", b"two", ttl=60)
    assert await backend.cache.get("k") == b"two"


async def test_entries_expire_after_their_ttl(backend: Backend) -> None:
    cache = backend.cache
    await cache.set("short", b"x", ttl=0.05)
    await cache.set("long", b"y", ttl=60)
    assert await cache.get("short") == b"x"
    await backend.advance(0.2)
    assert await cache.get("short") is None
    assert await cache.get("long") == b"y"
    assert cache.stats == CacheStats(hits=2, misses=1)


async def test_non_positive_ttl_removes_the_key(backend: Backend) -> None:
    await backend.cache.set("k", b"x", ttl=60)
    await backend.cache.set("k", b"y", ttl=0)
    assert await backend.cache.get("k") is None
    await backend.cache.set("k", b"z", ttl=-1)
    assert await backend.cache.get("k") is None


async def test_delete_removes_only_the_named_keys(backend: Backend) -> None:
    cache = backend.cache
    for key in ("a", "b", "c"):
        await cache.set(key, key.encode(), ttl=60)
    await cache.delete("a", "b", "missing")
    await cache.delete()
    assert [await cache.get(k) for k in ("a", "b", "c")] == [None, None, b"c"]


async def test_delete_prefix_removes_exactly_the_prefixed_keys(backend: Backend) -> None:
    cache = backend.cache
    for key in ("user:1:a", "user:1:b", "user:10:a", "user:2:a", "other"):
        await cache.set(key, b"v", ttl=60)
    assert await cache.delete_prefix("user:1:") == 2
    remaining = {k: await cache.get(k) for k in ("user:1:a", "user:1:b", "user:10:a", "user:2:a")}
    assert remaining == {"user:1:a": None, "user:1:b": None, "user:10:a": b"v", "user:2:a": b"v"}
    assert await cache.get("other") == b"v"


async def test_delete_prefix_treats_glob_characters_literally(backend: Backend) -> None:
    cache = backend.cache
    for key in ("a*[x]?\\1", "ab", "a*[y"):
        await cache.set(key, b"v", ttl=60)
    assert await cache.delete_prefix("a*[x]?\\") == 1
    assert await cache.get("ab") == b"v"
    assert await cache.get("a*[y") == b"v"


async def test_delete_prefix_crosses_many_scan_pages(backend: Backend) -> None:
    cache = backend.cache
    for i in range(1_200):
        await cache.set(f"page:{i}", b"v", ttl=60)
    await cache.set("keep", b"v", ttl=60)
    assert await cache.delete_prefix("page:") == 1_200
    assert await cache.get("page:7") is None
    assert await cache.get("keep") == b"v"
    assert await cache.delete_prefix("page:") == 0


async def test_json_round_trip(backend: Backend) -> None:
    cache = backend.cache
    value = {"name": "Ọjà", "items": [1, 2.5, None, True], "nested": {"ok": False}}
    assert await cache.get_json("j") is None
    await cache.set_json("j", value, ttl=60)
    assert await cache.get_json("j") == value
    assert await cache.get("j") == (
        b'{"name":"\\u1eccj\\u00e0","items":[1,2.5,null,true],"nested":{"ok":false}}'
    )
    assert cache.stats == CacheStats(hits=2, misses=1)


async def test_set_json_refuses_values_that_are_not_json(backend: Backend) -> None:
    with pytest.raises(TypeError):
        await backend.cache.set_json("j", {"when": object()}, ttl=60)
    assert await backend.cache.get("j") is None


# --- in-process backend -----------------------------------------------------------------------


async def test_memory_cache_evicts_the_least_recently_used_entry() -> None:
    cache = MemoryCache(max_entries=3)
    for key in ("a", "b", "c"):
        await cache.set(key, key.encode(), ttl=60)
    assert await cache.get("a") == b"a"  # "b" is now the least recently used
    await cache.set("d", b"d", ttl=60)
    assert len(cache) == 3
    assert [await cache.get(k) for k in ("a", "b", "c", "d")] == [b"a", None, b"c", b"d"]


async def test_memory_cache_drops_expired_entries_when_read() -> None:
    clock = FakeClock()
    cache = MemoryCache(clock=clock)
    await cache.set("k", b"v", ttl=10)
    clock.now += 10
    assert await cache.get("k") is None
    assert len(cache) == 0


def test_memory_cache_needs_room_for_one_entry() -> None:
    with pytest.raises(ValueError):
        MemoryCache(max_entries=0)


# --- Redis backend ----------------------------------------------------------------------------


@pytest.mark.redis
async def test_redis_cache_keeps_keys_under_its_namespace() -> None:
    client = aioredis.from_url(service_url("redis"))
    namespace = f"oja:test:{uuid.uuid4().hex}:"
    try:
        cache = RedisCache(client, namespace)
        await cache.set("k", b"v", ttl=60)
        assert await client.get(namespace + "k") == b"v"
        assert 0 < await client.pttl(namespace + "k") <= 60_000
        other = RedisCache(client, f"oja:test:{uuid.uuid4().hex}:")
        assert await other.get("k") is None
        assert await other.delete_prefix("") == 0
        assert await cache.get("k") == b"v"
    finally:
        await client.delete(namespace + "k")
        await client.aclose()


def test_redis_cache_refuses_a_decoding_client() -> None:
    client = aioredis.Redis(decode_responses=True)
    with pytest.raises(ValueError):
        RedisCache(client)


async def test_redis_cache_outage_raises_instead_of_missing() -> None:
    client = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    cache = RedisCache(client)
    try:
        with pytest.raises(redis.exceptions.ConnectionError):
            await cache.get("k")
        assert cache.stats == CacheStats(hits=0, misses=0)
    finally:
        await client.aclose()


async def test_create_cache_picks_the_backend() -> None:
    assert isinstance(create_cache(None), MemoryCache)
    client = aioredis.Redis(host="127.0.0.1", port=1)
    try:
        assert isinstance(create_cache(client), RedisCache)
    finally:
        await client.aclose()
