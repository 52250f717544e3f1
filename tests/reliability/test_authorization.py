"""The authorization matrix (``matrix.ROWS``), proven against the running app: part 1 of
``authorization.PARTS``, and the check that every route the app serves has a row.

Each route is one test; in it every caller makes the request once, against objects created fresh
for that caller (user A owns them). Where B must be told 404 (A's object), every table is compared
before and after B's call: the refusal wrote nothing (``authorization.call``).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import delete

from oja.core.db import Base
from tests.reliability import harness
from tests.reliability.authorization import check_row, part
from tests.reliability.conftest import DroppedJobs
from tests.reliability.matrix import ROUTES, Row

# Jobs are accepted and dropped (a row that needs one run, such as a chat reply, runs it): the
# matrix is about who may call what, not about pipelines; passwords are hashed at a test's cost.
pytestmark = pytest.mark.usefixtures("dropped_jobs", "cheap_hashing")


def test_every_route_of_the_app_has_a_row(harness_app: Any) -> None:
    served = harness.app_operations(harness_app)
    missing = sorted(served - ROUTES.keys())
    stale = sorted(ROUTES.keys() - served)
    assert not missing, f"routes without a row in tests/reliability/matrix.py: {missing}"
    assert not stale, f"rows for routes the app no longer serves: {stale}"
    assert harness.openapi_operations(harness_app) <= served


async def test_restored_principals_are_the_made_ones(
    harness_app: Any, client: httpx.AsyncClient
) -> None:
    """What ``authorization.principals`` restores for a row is what making the principals through
    the API wrote, every column of every table alike, and their tokens and key still let them in."""
    before = await harness.table_rows(harness_app)
    dumped = await harness.dump_rows(harness_app)
    people = await harness.principals(harness_app, client)
    made = await harness.table_rows(harness_app)
    added = harness.added_rows(dumped, await harness.dump_rows(harness_app))
    assert {"user", "api_key", "session"} <= added.keys()
    # No job: what a row's ``run_jobs`` finds published is the same whether they were made or restored.
    assert "job" not in added

    async with harness_app.state.runtime.database.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            for row in added.get(table.name, []):
                keys = [column == row[column.name] for column in table.primary_key.columns]
                await conn.execute(delete(table).where(*keys))
    assert await harness.table_rows(harness_app) == before
    await harness.restore_rows(harness_app, added)
    assert await harness.table_rows(harness_app) == made

    for headers in (people.a.headers, people.b.headers, people.admin.headers):
        assert (await client.get("/user/me", headers=headers)).status_code == 200
    assert (await client.get("/examples/service-only", headers=people.key_all)).status_code == 200


@pytest.mark.parametrize("row", part(0), ids=[row.id for row in part(0)])
async def test_matrix_row(
    row: Row, harness_app: Any, client: httpx.AsyncClient, dropped_jobs: DroppedJobs
) -> None:
    await check_row(row, harness_app, client, dropped_jobs)
