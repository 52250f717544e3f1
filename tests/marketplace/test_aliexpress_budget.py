"""The app key's call budget: shared by every worker through Redis (two limiters on one Redis
behave as two processes), and "too many calls" from the source retried after the wait it asks."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from oja.billing.providers.port import ProviderCallRateLimited
from oja.core.db import Database
from oja.core.ratelimit import RateLimiter
from oja.marketplace.sources.budget import (
    RATE_LIMITED_ATTEMPTS,
    SPACING_SLACK,
    CallBudget,
    DatabaseCallBudget,
)
from tests.conftest import service_url


class Sleeps:
    """Records every wait; ``real`` waits too (the window must actually move)."""

    def __init__(self, *, real: bool) -> None:
        self.waits: list[float] = []
        self.real = real

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.real:
            await asyncio.sleep(seconds)


@pytest.fixture
async def workers() -> AsyncIterator[tuple[RateLimiter, RateLimiter]]:
    url = service_url("redis")
    prefix = f"oja:test:{uuid.uuid4().hex}"
    first, second = (RateLimiter.redis(url, key_prefix=prefix) for _ in range(2))
    try:
        yield first, second
    finally:
        await first.aclose()
        await second.aclose()
        client = aioredis.from_url(url)
        leftovers = [key async for key in client.scan_iter(match=prefix + ":*")]
        if leftovers:
            await client.delete(*leftovers)
        await client.aclose()


@pytest.mark.redis
async def test_two_workers_share_one_budget_through_redis(
    workers: tuple[RateLimiter, RateLimiter],
) -> None:
    two_sleeps = Sleeps(real=True)
    # Three callers of the first worker (each its own pacing) spend the second at once.
    ones = [
        CallBudget(workers[0], key="aliexpress:500100", per_second=3, sleep=Sleeps(real=True))
        for _ in range(3)
    ]
    two = CallBudget(workers[1], key="aliexpress:500100", per_second=3, sleep=two_sleeps)
    other_key = CallBudget(workers[1], key="aliexpress:999", per_second=3, sleep=Sleeps(real=True))
    for one in ones:
        await one.take()
    assert [one.waits for one in ones] == [0, 0, 0]
    await other_key.take()
    assert other_key.waits == 0  # another app key counts apart
    await two.take()  # the second worker finds the second spent by the first
    assert two.waits >= 1
    assert all(wait > 0 for wait in two_sleeps.waits)


async def test_a_throttled_call_is_retried_after_the_wait_asked_then_given_up() -> None:
    sleeps = Sleeps(real=False)
    budget = CallBudget(RateLimiter.in_memory(), key="k", per_second=1000, sleep=sleeps)
    answers: list[str] = []

    async def flaky() -> str:
        answers.append("call")
        if len(answers) <= 2:
            raise ProviderCallRateLimited("slow down", provider="aliexpress", retry_after=1.0)
        return "ok"

    assert await budget.call(flaky) == "ok"
    assert budget.throttled == 2
    assert [w for w in sleeps.waits if w >= 1.0] == [1.0, 2.0]

    async def never() -> str:
        raise ProviderCallRateLimited("slow down", provider="aliexpress", retry_after=1.0)

    with pytest.raises(ProviderCallRateLimited):
        await budget.call(never)
    assert budget.throttled == 2 + RATE_LIMITED_ATTEMPTS - 1


async def test_without_redis_processes_share_the_budget_through_the_database(
    database_url: str,
) -> None:
    """Two budgets on one database (two worker processes): slots never shared, 1/n s apart."""
    database = Database(database_url)
    now = [1000.0]
    try:
        one_sleeps, two_sleeps = Sleeps(real=False), Sleeps(real=False)
        one, two = (
            DatabaseCallBudget(
                database, key="aliexpress:500100", per_second=5, sleep=s, clock=lambda: now[0]
            )
            for s in (one_sleeps, two_sleeps)
        )
        other = DatabaseCallBudget(
            database,
            key="aliexpress:999",
            per_second=5,
            sleep=Sleeps(real=False),
            clock=lambda: now[0],
        )
        slots = [await budget.slot() for budget in (one, two, one, two, one)]
        gap = SPACING_SLACK / 5
        assert slots == pytest.approx([1000.0 + n * gap for n in range(5)])
        await two.take()  # the sixth call waits for the next second (and its slack)
        assert two_sleeps.waits == pytest.approx([5 * gap])
        assert one_sleeps.waits == []
        assert await other.slot() == pytest.approx(1000.0)  # its own schedule
        now[0] = 2000.0  # idle for a while: no debt carried, the next call goes at once
        await one.take()
        assert one_sleeps.waits == []
    finally:
        await database.dispose()
