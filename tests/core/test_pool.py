"""The database pool serves waiting checkouts first come, first served (oja.core.pool), on PostgreSQL.

SQLAlchemy's default async pool let a newcomer take a just-returned connection ahead of the waiter
it was returned for, which sent that waiter to the back of the line; under steady load a few waited
out the pool timeout and answered 503.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection

from oja.core.db import Database
from oja.core.pool import FairAsyncPool, FairQueue
from tests.chat.conftest import auth, new_user
from tests.conftest import Jobs, PostgresTables, make_settings

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(postgres_tables: PostgresTables) -> str:
    """PostgreSQL only: SQLite runs without this pool."""
    postgres_tables.empty()
    return postgres_tables.url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=2, pool_timeout=30)
    yield database
    await database.dispose()


def line(database: Database) -> FairQueue[Any]:
    pool = database.engine.sync_engine.pool
    assert isinstance(pool, FairAsyncPool)
    queue = pool._pool
    assert isinstance(queue, FairQueue)
    return queue


async def until_waiting(queue: FairQueue[Any], count: int) -> None:
    for _ in range(10_000):  # bounded: each waiter registers within a few loop turns
        if queue.waiting() == count:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{queue.waiting()} waiting, expected {count}")


async def test_waiters_are_served_in_arrival_order_and_a_newcomer_queues_behind_them(
    database: Database,
) -> None:
    queue = line(database)
    held = [await database.engine.connect() for _ in range(2)]
    served: list[str] = []

    async def checkout(name: str) -> None:
        connection = await database.engine.connect()
        served.append(name)
        assert (await connection.scalar(text("SELECT 1"))) == 1
        await connection.close()  # hands it to the next in line

    waiters = []
    for n in range(5):
        waiters.append(asyncio.create_task(checkout(f"waiter {n}")))
        await until_waiting(queue, n + 1)
    # The newcomer's first step is scheduled before the release below wakes waiter 0: with
    # asyncio.Queue it took the returned connection and waiter 0 went to the back of the line.
    newcomer = asyncio.create_task(checkout("newcomer"))
    await held[0].close()
    await asyncio.gather(*waiters, newcomer)
    assert served == [f"waiter {n}" for n in range(5)] + ["newcomer"]
    await held[1].close()
    pool = database.engine.sync_engine.pool
    assert isinstance(pool, FairAsyncPool)
    assert (pool.checkedout(), queue.qsize(), queue.waiting()) == (0, 2, 0)


async def test_a_cancelled_waiter_gives_back_the_connection_handed_to_it(
    database: Database,
) -> None:
    queue = line(database)
    held = [await database.engine.connect() for _ in range(2)]

    async def checkout() -> AsyncConnection:
        return await database.engine.connect()

    gone = asyncio.create_task(checkout())
    await until_waiting(queue, 1)
    await held[0].close()  # handed to the waiter, which has not run yet
    gone.cancel()  # its client went away first
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert (queue.qsize(), queue.waiting()) == (1, 0)  # back in the pool, not lost
    again = await database.engine.connect()
    assert (await again.scalar(text("SELECT 1"))) == 1
    await again.close()
    await held[1].close()
    assert (database.engine.sync_engine.pool.checkedout(), queue.qsize()) == (0, 2)


async def test_a_waiter_out_of_patience_leaves_the_line(database_url: str) -> None:
    database = Database(database_url, pool_size=1, pool_timeout=0.01)
    try:
        queue = line(database)
        held = await database.engine.connect()
        with pytest.raises(PoolTimeout) as refused:
            await database.engine.connect()
        assert "QueuePool limit of size 1 overflow 0 reached" in str(refused.value)
        assert queue.waiting() == 0
        await held.close()  # goes back to the pool, not to the waiter that gave up
        assert queue.qsize() == 1
        again = await database.engine.connect()
        await again.close()
    finally:
        await database.dispose()


async def test_64_concurrent_requests_through_a_pool_of_2_all_answer(
    tmp_path: Path, database_url: str
) -> None:
    from oja.main import create_app

    settings = make_settings(tmp_path, database_url, database_pool_size=2)
    app = create_app(settings, publisher=Jobs())
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            user = await new_user(client)
            answers = await asyncio.gather(
                *(client.get("/user/me", headers=auth(user)) for _ in range(64))
            )
        assert [answer.status_code for answer in answers] == [200] * 64
        assert {answer.json()["id"] for answer in answers} == {user["id"]}
        pool = app.state.runtime.database.engine.sync_engine.pool
        assert (pool.size(), pool.checkedout(), pool.checkedin()) == (2, 0, 2)
    finally:
        await app.state.runtime.close()
