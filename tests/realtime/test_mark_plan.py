"""Issue 25: marking events pushed finds them by the primary key, whatever the plan."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from oja.realtime import repository
from tests.plans import generic_plan


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
@pytest.mark.parametrize("returning", [False, True], ids=["mark_pushed", "claim_unpushed"])
async def test_the_mark_reads_the_primary_key_alone(app: Any, returning: bool) -> None:
    """``id IN (…) AND pushed_at IS NULL``: the generic plan costed ``ix_realtime_event_pushed_at``
    like the primary key, and took it: every event ever made is NULL there once (dead versions
    stay without autovacuum), 541–595 buffers a call in the shopping day. ``pushed_at`` is tested
    as ``pushed_at || ''``, which no index serves: only the primary key is left."""
    statement = repository._mark_statement([1, 2, 3], datetime(2026, 1, 1, tzinfo=UTC))
    if returning:
        statement = statement.returning(repository.RealtimeEvent)
    async with app.state.runtime.database.engine.connect() as conn:
        plan = await generic_plan(conn, statement, "mark_pushed", {"pushed_at": "now()"})
    scans = set(re.findall(r"(?:Index Scan using|Index Only Scan using|Index Scan on) (\w+)", plan))
    assert "Seq Scan" not in plan, plan
    assert scans == {"pk_realtime_event"}, plan
