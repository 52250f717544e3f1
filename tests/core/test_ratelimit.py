"""One behavioural suite over both rate-limit backends, plus parsing, headers and enforcement."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
import redis.exceptions

from oja.core.errors import TooManyRequests
from oja.core.ratelimit import (
    Decision,
    Rate,
    RateLimiter,
    create_rate_limiter,
    enforce,
    rate_limit_headers,
    redis_pool,
)
from tests.conftest import service_url


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    if request.param == "memory":
        yield RateLimiter.in_memory()
        return
    url = service_url("redis")
    prefix = f"oja:test:{uuid.uuid4().hex}"
    limiter = RateLimiter.redis(url, key_prefix=prefix)
    try:
        yield limiter
    finally:
        await limiter.aclose()
        client = aioredis.from_url(url)
        leftovers = [key async for key in client.scan_iter(match=prefix + ":*")]
        if leftovers:
            await client.delete(*leftovers)
        await client.aclose()


async def test_five_per_minute_allows_exactly_five(limiter: RateLimiter) -> None:
    rate = Rate.parse("5/minute")
    decisions = [await limiter.hit("auth.login", "203.0.113.9", rate) for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0]
    assert {d.limit for d in decisions} == {5}
    assert [d.retry_after_seconds for d in decisions[:5]] == [0.0] * 5
    refused = decisions[5]
    assert 0 < refused.retry_after_seconds <= 60
    assert 0 < refused.reset_after_seconds <= 60


async def test_concurrent_hits_allow_exactly_the_limit(limiter: RateLimiter) -> None:
    rate = Rate(10, 60)
    decisions = await asyncio.gather(*(limiter.hit("chat.send", "u1", rate) for _ in range(100)))
    assert sum(d.allowed for d in decisions) == 10
    assert sum(not d.allowed for d in decisions) == 90
    assert all(d.retry_after_seconds > 0 for d in decisions if not d.allowed)


async def test_keys_scopes_and_rates_are_counted_apart(limiter: RateLimiter) -> None:
    one = Rate(1, 60)
    assert (await limiter.hit("auth.login", "a", one)).allowed
    assert not (await limiter.hit("auth.login", "a", one)).allowed
    assert (await limiter.hit("auth.login", "b", one)).allowed
    assert (await limiter.hit("auth.otp", "a", one)).allowed
    assert (await limiter.hit("auth.login", "a", Rate(1, 3600))).allowed


async def test_reset_forgets_the_hits(limiter: RateLimiter) -> None:
    rate = Rate(1, 60)
    assert (await limiter.hit("auth.login", "a", rate)).allowed
    assert not (await limiter.hit("auth.login", "a", rate)).allowed
    await limiter.reset("auth.login", "a", rate)
    assert (await limiter.hit("auth.login", "a", rate)).allowed


async def test_enforce_raises_429_with_headers_and_details(limiter: RateLimiter) -> None:
    rate = Rate.parse("2/hour")
    enforce(await limiter.hit("files.upload", "u1", rate))
    enforce(await limiter.hit("files.upload", "u1", rate))
    refused = await limiter.hit("files.upload", "u1", rate)
    with pytest.raises(TooManyRequests) as caught:
        enforce(refused)
    error = caught.value
    assert error.status_code == 429
    assert error.code == "rate_limited"
    retry_after = error.details["retry_after"]
    assert 3500 < retry_after <= 3600
    assert error.details == {"limit": 2, "remaining": 0, "retry_after": retry_after}
    assert error.headers == {
        "RateLimit-Limit": "2",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": str(retry_after),
        "Retry-After": str(retry_after),
    }


async def test_scope_with_a_slash_is_refused(limiter: RateLimiter) -> None:
    with pytest.raises(ValueError):
        await limiter.hit("auth/login", "a", Rate(1, 60))


async def test_redis_down_raises_connection_error() -> None:
    limiter = create_rate_limiter("redis://127.0.0.1:1/0")
    try:
        with pytest.raises(redis.exceptions.ConnectionError):
            await limiter.hit("auth.login", "a", Rate(5, 60))
    finally:
        await limiter.aclose()


@pytest.mark.redis
async def test_a_burst_beyond_the_pool_waits_for_connections_instead_of_failing() -> None:
    """200 concurrent hits through a pool of 4: all counted, none refused for want of a socket
    (redis-py's default pool raised MaxConnectionsError past its size, a 503 per excess request)."""
    prefix = f"oja:test:{uuid.uuid4().hex}"
    limiter = RateLimiter.redis(
        service_url("redis"), key_prefix=prefix, max_connections=4, pool_timeout=10
    )
    try:
        decisions = await asyncio.gather(
            *(limiter.hit("burst", "k", Rate(150, 60)) for _ in range(200))
        )
    finally:
        await limiter.aclose()
    assert sum(d.allowed for d in decisions) == 150
    client = aioredis.from_url(service_url("redis"))
    await client.delete(*[key async for key in client.scan_iter(match=prefix + ":*")])
    await client.aclose()


def stalled_connects(monkeypatch: pytest.MonkeyPatch, stalls: int) -> list[float]:
    """The first ``stalls`` TCP connects outlast their timeout (a lost SYN, a stalled loop); the
    rest go through. Returns the list every attempt is recorded in."""
    attempts: list[float] = []
    real = asyncio.open_connection

    async def open_connection(*args: Any, **kwargs: Any) -> Any:
        attempts.append(time.monotonic())
        if len(attempts) <= stalls:
            await asyncio.sleep(5)
        return await real(*args, **kwargs)

    monkeypatch.setattr(asyncio, "open_connection", open_connection)
    return attempts


@pytest.mark.redis
@pytest.mark.parametrize(("stalls", "outcome"), [(1, "PONG"), (2, "timeout")])
async def test_a_connect_that_times_out_is_tried_once_more(
    monkeypatch: pytest.MonkeyPatch, stalls: int, outcome: str
) -> None:
    """One timed-out connect is retried and the command goes through; a second timeout is the
    caller's error (Redis unreachable), after exactly two attempts."""
    pool = redis_pool(service_url("redis"), max_connections=2, timeout=1)
    pool.connection_kwargs["socket_connect_timeout"] = 0.05
    client = aioredis.Redis.from_pool(pool)
    attempts = stalled_connects(monkeypatch, stalls)
    try:
        if outcome == "PONG":
            assert await client.ping() is True
        else:
            with pytest.raises(redis.exceptions.TimeoutError):
                await client.ping()
    finally:
        await client.aclose()
    assert len(attempts) == 2


async def test_a_refused_connect_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts = stalled_connects(monkeypatch, 0)
    client = aioredis.Redis.from_pool(
        redis_pool("redis://127.0.0.1:1/0", max_connections=2, timeout=1)
    )
    try:
        with pytest.raises(redis.exceptions.ConnectionError):
            await client.ping()
    finally:
        await client.aclose()
    assert len(attempts) == 1


@pytest.mark.redis
async def test_a_hit_on_redis_is_one_round_trip_on_limits_own_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One script per hit (limits' hit and window stats were two round trips), counting on the
    key limits' own strategy reads: its window stats agree with the decisions."""
    prefix = f"oja:test:{uuid.uuid4().hex}"
    limiter = RateLimiter.redis(service_url("redis"), key_prefix=prefix)
    rate = Rate(3, 60)
    try:
        await limiter.hit("warm", "k", rate)  # the first hit loads the script
        assert limiter._bridge is not None
        client = limiter._bridge.get_connection()
        sent: list[str] = []
        real = client.execute_command

        async def counting(*args: Any, **kwargs: Any) -> Any:
            sent.append(args[0])
            return await real(*args, **kwargs)

        monkeypatch.setattr(client, "execute_command", counting)
        decisions = [await limiter.hit("s", "k", rate) for _ in range(4)]
        assert sent == ["EVALSHA"] * 4
        monkeypatch.undo()
        assert [d.allowed for d in decisions] == [True, True, True, False]
        assert [d.remaining for d in decisions] == [2, 1, 0, 0]
        stats = await limiter._strategy.get_window_stats(rate._item(), "s", "k")
        assert stats.remaining == 0
        assert 0 < decisions[-1].retry_after_seconds <= 60
        assert abs(stats.reset_time - time.time() - decisions[-1].reset_after_seconds) < 1
        await limiter.reset("s", "k", rate)
        assert (await limiter.hit("s", "k", rate)).remaining == 2
    finally:
        await limiter.aclose()
        client = aioredis.from_url(service_url("redis"))
        leftovers = [key async for key in client.scan_iter(match=prefix + ":*")]
        if leftovers:
            await client.delete(*leftovers)
        await client.aclose()


async def test_no_redis_url_means_in_process() -> None:
    limiter = create_rate_limiter(None)
    assert (await limiter.hit("auth.login", "a", Rate(1, 60))).allowed
    assert not (await limiter.hit("auth.login", "a", Rate(1, 60))).allowed


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("5/hour", Rate(5, 3600)),
        ("10 per minute", Rate(10, 60)),
        ("100/2 hours", Rate(100, 7200)),
        ("1/second", Rate(1, 1)),
        ("3/day", Rate(3, 86400)),
    ],
)
def test_rate_parse(text: str, rate: Rate) -> None:
    assert Rate.parse(text) == rate


@pytest.mark.parametrize("text", ["", "five/hour", "5/fortnight", "0/hour"])
def test_rate_parse_refuses_nonsense(text: str) -> None:
    with pytest.raises(ValueError):
        Rate.parse(text)


def test_headers_for_an_allowed_hit() -> None:
    decision = Decision(
        allowed=True, limit=5, remaining=3, reset_after_seconds=41.2, retry_after_seconds=0.0
    )
    assert rate_limit_headers(decision) == {
        "RateLimit-Limit": "5",
        "RateLimit-Remaining": "3",
        "RateLimit-Reset": "42",
    }
    enforce(decision)  # an allowed hit passes silently


def test_headers_for_a_refused_hit_round_up_and_never_say_zero() -> None:
    decision = Decision(
        allowed=False, limit=5, remaining=0, reset_after_seconds=0.2, retry_after_seconds=0.2
    )
    assert rate_limit_headers(decision) == {
        "RateLimit-Limit": "5",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "1",
        "Retry-After": "1",
    }


async def test_in_memory_windows_slide_and_empty_ones_are_swept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The in-process windows on a controlled monotonic clock: a hit leaves the window exactly
    one period after it was counted; a window with no hit left in it is forgotten by the next
    sweep, one still counting is kept."""
    now = [1000.0]
    monkeypatch.setattr("oja.core.ratelimit.time.monotonic", lambda: now[0])
    limiter = RateLimiter.in_memory()
    rate = Rate(2, 60)
    first = await limiter.hit("s", "a", rate)
    assert (first.allowed, first.remaining, first.reset_after_seconds) == (True, 1, 60.0)
    now[0] += 10
    assert (await limiter.hit("s", "a", rate)).remaining == 0
    refused = await limiter.hit("s", "a", rate)
    assert not refused.allowed
    assert refused.retry_after_seconds == 50.0  # the first hit leaves at 1060
    now[0] = 1060.0  # exactly one period on: the first hit still counts, as in limits
    assert not (await limiter.hit("s", "a", rate)).allowed
    now[0] = 1060.5
    again = await limiter.hit("s", "a", rate)
    assert (again.allowed, again.remaining) == (True, 0)
    assert (await limiter.hit("s", "b", Rate(1, 1))).allowed
    windows = limiter._memory
    assert windows is not None
    assert set(windows._windows) == {("s", "a", rate), ("s", "b", Rate(1, 1))}
    # The hit at 1060.5 swept (due at 1060); the next sweep is due one interval on, when "b" has
    # emptied and "a"'s last hit is exactly one period old (still counting).
    now[0] = 1060.5 + windows.SWEEP_EVERY_SECONDS
    assert (await limiter.hit("s", "c", rate)).allowed
    assert set(windows._windows) == {("s", "a", rate), ("s", "c", rate)}


async def test_in_memory_hits_start_no_background_work() -> None:
    """A hit in process is done when it returns: no task is left behind (limits' MemoryStorage
    started a sweep per hit, hopping to a worker thread once per key)."""
    limiter = RateLimiter.in_memory()
    before = asyncio.all_tasks()
    for i in range(50):
        await limiter.hit("s", f"k{i}", Rate(5, 60))
    assert asyncio.all_tasks() == before
