"""The quota engine: atomic reservations under contention, idempotent commit and refund."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis

from oja.billing.errors import QuotaExceeded
from oja.billing.quota import Quotas, RedisQuotas, SqlQuotas, window
from oja.core.config import Settings
from oja.core.db import Database
from tests.conftest import service_url


@pytest.fixture
async def sql_quotas(settings: Settings) -> AsyncIterator[SqlQuotas]:
    database = Database(settings.database_url, pool_size=20)
    yield SqlQuotas(database)
    await database.dispose()


@pytest.fixture
async def redis_quotas() -> AsyncIterator[RedisQuotas]:
    client = aioredis.from_url(service_url("redis"))
    yield RedisQuotas(client, namespace=f"oja-test-{uuid.uuid4().hex}:")
    await client.aclose()


async def contend(quotas: Quotas, subject: str, limit: int, used_before: int, attempts: int) -> int:
    for _ in range(used_before):
        await quotas.reserve(subject, "chat.prompts", limit)

    async def one() -> bool:
        try:
            await quotas.reserve(subject, "chat.prompts", limit)
        except QuotaExceeded:
            return False
        return True

    results = await asyncio.gather(*(one() for _ in range(attempts)))
    return sum(results)


async def test_hundred_parallel_reservations_with_five_left_on_the_database(
    sql_quotas: SqlQuotas,
) -> None:
    granted = await contend(sql_quotas, "user:a", limit=8, used_before=3, attempts=100)
    assert granted == 5
    usage = await sql_quotas.usage("user:a", "chat.prompts", 8)
    assert (usage.used, usage.remaining) == (8, 0)


@pytest.mark.redis
async def test_hundred_parallel_reservations_with_five_left_on_redis(
    redis_quotas: RedisQuotas,
) -> None:
    granted = await contend(redis_quotas, "user:a", limit=8, used_before=3, attempts=100)
    assert granted == 5
    usage = await redis_quotas.usage("user:a", "chat.prompts", 8)
    assert (usage.used, usage.remaining) == (8, 0)


async def check_lifecycle(quotas: Quotas) -> None:
    first = await quotas.reserve("user:b", "chat.prompts", 2)
    assert first.remaining == 1
    second = await quotas.reserve("user:b", "chat.prompts", 2)
    assert second.remaining == 0
    with pytest.raises(QuotaExceeded) as refused:
        await quotas.reserve("user:b", "chat.prompts", 2)
    assert refused.value.status_code == 429
    assert refused.value.details["remaining"] == 0
    assert refused.value.details["resets_at"] == first.resets_at.isoformat()
    assert int(refused.value.headers["Retry-After"]) >= 1  # type: ignore[index]

    assert await quotas.commit(first) is True
    assert await quotas.commit(first) is False
    assert await quotas.refund(first) is False  # spent: not given back
    assert await quotas.refund(second) is True
    assert await quotas.refund(second) is False
    assert await quotas.commit(second) is False
    assert (await quotas.usage("user:b", "chat.prompts", 2)).used == 1
    third = await quotas.reserve("user:b", "chat.prompts", 2)
    assert third.remaining == 0
    unlimited = await quotas.reserve("user:c", "chat.prompts", None)
    assert unlimited.remaining is None


async def test_commit_and_refund_are_idempotent_on_the_database(sql_quotas: SqlQuotas) -> None:
    await check_lifecycle(sql_quotas)


@pytest.mark.redis
async def test_commit_and_refund_are_idempotent_on_redis(redis_quotas: RedisQuotas) -> None:
    await check_lifecycle(redis_quotas)


def test_day_window_resets_at_utc_midnight() -> None:
    start, end = window("day", datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC))
    assert (start, end) == (
        datetime(2026, 3, 31, tzinfo=UTC),
        datetime(2026, 4, 1, tzinfo=UTC),
    )
    assert window("month", datetime(2026, 12, 5, tzinfo=UTC)) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert window("year", datetime(2026, 6, 1, tzinfo=UTC))[1] == datetime(2027, 1, 1, tzinfo=UTC)
