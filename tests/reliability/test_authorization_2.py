"""The authorization matrix, part 2 of ``authorization.PARTS`` (see ``test_authorization.py``)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.reliability.authorization import check_row, part
from tests.reliability.conftest import DroppedJobs
from tests.reliability.matrix import Row

# Jobs are accepted and dropped (a row that needs one run, such as a chat reply, runs it): the
# matrix is about who may call what, not about pipelines; passwords are hashed at a test's cost.
pytestmark = pytest.mark.usefixtures("dropped_jobs", "cheap_hashing")


@pytest.mark.parametrize("row", part(1), ids=[row.id for row in part(1)])
async def test_matrix_row(
    row: Row, harness_app: Any, client: httpx.AsyncClient, dropped_jobs: DroppedJobs
) -> None:
    await check_row(row, harness_app, client, dropped_jobs)
