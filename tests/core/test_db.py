"""The transaction helpers of oja.core.db: what each keeps, what each drops, which callbacks run."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text

from oja.billing.models import QuotaCounter
from oja.core.config import Settings
from oja.core.db import (
    SQLITE_BUSY_TIMEOUT_MS,
    AfterCommit,
    Database,
    after_commit,
    after_rollback,
    commit_then_raise,
    current_session,
    discard,
    own_transaction,
    read_only,
    unit_of_work,
)
from oja.core.errors import Conflict

WINDOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_url)
    yield database
    await database.dispose()


def counter(subject: str) -> QuotaCounter:
    return QuotaCounter(subject=subject, metric="test", window_start=WINDOW, used=1)


async def subjects(database: Database) -> list[str]:
    async with read_only(database) as session:
        return sorted((await session.scalars(select(QuotaCounter.subject))).all())


class Calls:
    def __init__(self) -> None:
        self.made: list[str] = []

    def recorder(self, name: str) -> AfterCommit:
        async def record() -> None:
            self.made.append(name)

        return record


async def test_commit_then_raise_keeps_the_writes_runs_after_commit_and_raises(
    database: Database,
) -> None:
    calls = Calls()

    async def refuse() -> None:
        async with unit_of_work(database) as session:
            session.add(counter("kept"))
            after_commit(session, calls.recorder("committed"))
            after_rollback(session, calls.recorder("undone"))
            commit_then_raise(Conflict("refused"))

    with pytest.raises(Conflict, match="refused"):
        await refuse()
    assert await subjects(database) == ["kept"]
    assert calls.made == ["committed"]


async def test_any_other_error_still_rolls_back(database: Database) -> None:
    calls = Calls()

    async def refuse() -> None:
        async with unit_of_work(database) as session:
            session.add(counter("dropped"))
            after_commit(session, calls.recorder("committed"))
            after_rollback(session, calls.recorder("undone"))
            await session.flush()
            raise Conflict("refused")

    with pytest.raises(Conflict):
        await refuse()
    assert await subjects(database) == []
    assert calls.made == ["undone"]


async def test_discard_drops_what_came_before_and_keeps_what_follows(database: Database) -> None:
    calls = Calls()
    async with unit_of_work(database) as session:
        session.add(counter("given-up"))
        await session.flush()
        after_commit(session, calls.recorder("committed"))
        after_rollback(session, calls.recorder("undone"))
        await discard(session)
        assert calls.made == ["undone"]
        assert current_session() is session  # the unit of work goes on
        session.add(counter("after"))
    assert await subjects(database) == ["after"]
    assert calls.made == ["undone"]  # the dropped writes' after-commit callback never ran


async def test_own_transaction_commits_apart_from_the_unit_of_work(database: Database) -> None:
    async def fail_around() -> None:
        async with unit_of_work(database) as outer:
            async with own_transaction(database) as session:
                assert current_session() is outer
                session.add(counter("recorded"))
            raise Conflict("the surrounding work fails")

    with pytest.raises(Conflict):
        await fail_around()
    assert await subjects(database) == ["recorded"]


async def busy_timeouts(database: Database, connections: int) -> list[int]:
    """``PRAGMA busy_timeout`` of ``connections`` pooled SQLite connections, all held at once."""
    async with AsyncExitStack() as held:
        opened = [
            await held.enter_async_context(database.engine.connect()) for _ in range(connections)
        ]
        return [(await c.exec_driver_sql("PRAGMA busy_timeout")).scalar_one() for c in opened]


async def test_a_short_sqlite_patience_ends_with_its_block_on_its_own_connection(
    tmp_path: Path, sqlite_template: Path
) -> None:
    """SQLite only: ``busy_timeout`` is its own. Job progress writes with 200 ms of patience."""
    shutil.copy(sqlite_template, tmp_path / "oja.db")
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'oja.db'}")
    try:
        await _patience_restored(database)
    finally:
        await database.dispose()


async def _patience_restored(database: Database) -> None:
    assert await busy_timeouts(database, 3) == [SQLITE_BUSY_TIMEOUT_MS] * 3  # three in the pool
    async with own_transaction(database, sqlite_busy_timeout_ms=200) as session:
        assert (await session.execute(text("PRAGMA busy_timeout"))).scalar_one() == 200
        session.add(counter("progress"))
    assert await subjects(database) == ["progress"]
    # The pool hands connections out oldest first: restoring through a new checkout set the
    # normal patience on another connection and left this one at 200 ms.
    assert await busy_timeouts(database, 3) == [SQLITE_BUSY_TIMEOUT_MS] * 3


async def test_read_only_keeps_nothing(database: Database) -> None:
    async with read_only(database) as session:
        session.add(counter("never"))
        await session.flush()
    assert await subjects(database) == []
