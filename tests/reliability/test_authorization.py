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

from tests.reliability import harness
from tests.reliability.authorization import check_row, part
from tests.reliability.conftest import DroppedJobs
from tests.reliability.matrix import ROUTES, Row

# Jobs are accepted and dropped (a row that needs one run, such as a chat reply, runs it): the
# matrix is about who may call what, not about pipelines.
pytestmark = pytest.mark.usefixtures("dropped_jobs")


def test_every_route_of_the_app_has_a_row(harness_app: Any) -> None:
    served = harness.app_operations(harness_app)
    missing = sorted(served - ROUTES.keys())
    stale = sorted(ROUTES.keys() - served)
    assert not missing, f"routes without a row in tests/reliability/matrix.py: {missing}"
    assert not stale, f"rows for routes the app no longer serves: {stale}"
    assert harness.openapi_operations(harness_app) <= served


@pytest.mark.parametrize("row", part(0), ids=[row.id for row in part(0)])
async def test_matrix_row(
    row: Row, harness_app: Any, client: httpx.AsyncClient, dropped_jobs: DroppedJobs
) -> None:
    await check_row(row, harness_app, client, dropped_jobs)
