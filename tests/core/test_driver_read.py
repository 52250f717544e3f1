"""The session check's read on the driver connection (:class:`oja.core.db.DriverRead`).

On PostgreSQL the check runs on the pooled asyncpg connection itself, past SQLAlchemy's execution
context; these tests hold it to Core's answers — the same rows with the same types, one statement
on one checkout, a dropped connection answered 503 once — and to what the ORM would have loaded.
(tests/core/test_statement_budget.py counts statements with a cursor listener, under which the
read goes through Core, so it covers that path.)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event, inspect

from oja.core.db import Database, read_only, unit_of_work
from oja.identity.models import User, UserRole
from oja.identity.sessions.repository import _ACCESS_STATE, access_state
from tests.chat.conftest import auth, new_user
from tests.core.test_statement_budget import _terminate_others


def _on_driver(database: Database) -> bool:
    return database.engine.dialect.driver == "asyncpg"


@contextmanager
def driver_queries(database: Database) -> Iterator[tuple[list[str], list[int]]]:
    """The queries asyncpg runs through ``Connection.fetch`` and friends, and the pool checkouts,
    while the block runs (pool events leave the driver path on, a cursor listener would not)."""
    queries: list[str] = []
    checkouts: list[int] = []
    pool = database.engine.sync_engine.pool

    def log(record: Any) -> None:
        queries.append(record.query)

    def checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        checkouts.append(1)
        driver = dbapi_connection.driver_connection
        if hasattr(driver, "add_query_logger"):  # asyncpg; SQLite's driver has none
            driver.add_query_logger(log)

    event.listen(pool, "checkout", checkout)
    try:
        yield queries, checkouts
    finally:
        event.remove(pool, "checkout", checkout)


async def _session_of(database: Database, user_id: uuid.UUID) -> uuid.UUID:
    from oja.identity.sessions.models import AuthSession

    async with read_only(database) as session:
        found = await session.execute(
            AuthSession.__table__.select().where(AuthSession.user_id == user_id)  # type: ignore[attr-defined]
        )
        return uuid.UUID(str(found.first().id))  # type: ignore[union-attr]


async def test_user_me_on_the_driver_is_one_select_on_one_checkout(
    client: httpx.AsyncClient, app: Any
) -> None:
    database: Database = app.state.runtime.database
    user = await new_user(client)
    assert (await client.get("/user/me", headers=auth(user))).status_code == 200  # warm
    with driver_queries(database) as (queries, checkouts):
        response = await client.get("/user/me", headers=auth(user))
        await _settle()
    assert response.status_code == 200
    assert response.json()["id"] == user["id"]
    assert response.json()["roles"] == ["buyer"]
    assert checkouts == [1]
    if _on_driver(database):
        assert len(queries) == 1
        assert queries[0].split()[0] == "SELECT"
        assert 'FROM "user" JOIN session' in " ".join(queries[0].split())
    else:
        assert queries == []  # no driver path off PostgreSQL: Core ran it


async def _settle() -> None:
    import asyncio

    await asyncio.sleep(0)  # asyncpg hands a query to its loggers on the next loop turn
    await asyncio.sleep(0)


async def test_driver_rows_are_core_rows(client: httpx.AsyncClient, app: Any) -> None:
    database: Database = app.state.runtime.database
    user = await new_user(client)
    user_id = uuid.UUID(user["id"])
    async with unit_of_work(database) as session:
        session.add(UserRole(user_id=user_id, role="vendor"))
    session_id = await _session_of(database, user_id)

    driver = await _ACCESS_STATE.rows(database, {"session_id": session_id})
    async with database.autocommit_engine.connect() as conn:
        core = [
            tuple(row)
            for row in await conn.execute(_ACCESS_STATE.statement, {"session_id": session_id})
        ]

    assert len(driver) == 2
    assert sorted(driver, key=repr) == sorted(core, key=repr)
    for got, expected in zip(sorted(driver, key=repr), sorted(core, key=repr), strict=True):
        assert [type(v) for v in got] == [type(v) for v in expected]
    assert await _ACCESS_STATE.rows(database, {"session_id": uuid.uuid4()}) == []


async def test_the_checked_user_is_what_the_orm_loads_detached_and_clean(
    client: httpx.AsyncClient, app: Any
) -> None:
    database: Database = app.state.runtime.database
    user = await new_user(client)
    user_id = uuid.UUID(user["id"])
    state = await access_state(database, await _session_of(database, user_id))
    assert state is not None
    async with read_only(database) as session:
        loaded = await session.get(User, user_id)
    assert loaded is not None
    for column in User.__table__.columns:
        assert getattr(state.user, column.key) == getattr(loaded, column.key), column.key
    checked = inspect(state.user)
    assert checked.detached
    assert not checked.modified
    assert checked.identity == (user_id,)
    assert not checked.unloaded
    assert state.roles == frozenset({"buyer"})
    assert state.revoked_at is None


async def test_a_dropped_connection_on_the_driver_is_one_503_then_the_pool_recovers(
    client: httpx.AsyncClient, app: Any, database_url: str
) -> None:
    """As tests/core/test_statement_budget.py's test of the same name, with no cursor listener:
    the driver path translates the failure as Core would and invalidates the pool."""
    if not database_url.startswith("postgresql"):
        return  # SQLite has no server to drop a connection
    database: Database = app.state.runtime.database
    user = await new_user(client)
    assert (await client.get("/user/me", headers=auth(user))).status_code == 200
    assert await _terminate_others(database_url)
    with driver_queries(database) as (queries, checkouts):
        dropped = await client.get("/user/me", headers=auth(user))
        await _settle()
    assert dropped.status_code == 503
    assert dropped.json()["error"]["code"] == "service_unavailable"
    # Tried once, not again: one checkout (the driver refuses the closed connection, or sends the
    # query and learns it was dropped, depending on when the loop noticed the close).
    assert checkouts == [1]
    assert len(queries) <= 1
    recovered = await client.get("/user/me", headers=auth(user))
    assert recovered.status_code == 200
    assert recovered.json()["id"] == user["id"]
