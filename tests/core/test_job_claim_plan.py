"""Issue 25: the runner's UPDATEs of one job find it by the primary key, whatever the plan."""

from __future__ import annotations

import re
from typing import Any

import pytest

from oja.core.jobs import runner
from tests.plans import generic_plan


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
@pytest.mark.parametrize("build", ["_claim_statement", "_succeeded_statement"])
async def test_the_claim_and_the_mark_read_the_primary_key_alone(app: Any, build: str) -> None:
    """``id = $1 AND kind = $2 AND status = …``: the generic plan costed ``ix_job_kind`` (every
    job of the kind ever made) or the status index like the primary key, and the shopping day's
    claim read 237 buffers a call. Compared as ``column || ''`` they serve no index: only the
    primary key is left."""
    async with app.state.runtime.database.engine.connect() as conn:
        plan = await generic_plan(conn, getattr(runner, build)(), build.strip("_"))
    scans = set(re.findall(r"(?:Index|Bitmap Index) Scan using (\w+)", plan))
    assert "Seq Scan" not in plan, plan
    assert scans == {"pk_job"}, plan
