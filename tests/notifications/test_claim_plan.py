"""Issue 25: the send job's UPDATEs of one delivery find it by the primary key, whatever the plan."""

from __future__ import annotations

import re
from typing import Any

import pytest

from oja.notifications import repository
from tests.plans import generic_plan

VALUES = {
    "delivery_id": "'00000000-0000-0000-0000-000000000000'",
    "now": "now()",
    "provider": "'fake'",
    "message_id": "'m'",
}


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
@pytest.mark.parametrize("name", ["_CLAIM", "_MARK_SENT"])
async def test_the_claim_and_the_mark_read_the_primary_key_alone(app: Any, name: str) -> None:
    """``id = $1 AND status = $2`` costed the (status, created_at) index exactly as the primary
    key, and PostgreSQL took it: every ``pending`` entry the day ever made, dead ones included
    (99 of a claim's 118 buffers on 3,000 deliveries). The status is compared as ``status || ''``,
    which no index serves: the generic plan can only walk the primary key."""
    async with app.state.runtime.database.engine.connect() as conn:
        plan = await generic_plan(conn, getattr(repository, name), name.strip("_").lower(), VALUES)
    scans = re.findall(r"(Seq Scan on|Index Scan using) (\w+) on (\w+)|Seq Scan on (\w+)", plan)
    assert "Seq Scan" not in plan, plan
    assert {(index, table) for _, index, table, _ in scans} <= {
        ("pk_notification_delivery", "notification_delivery"),
        ("pk_notification", "notification"),
    }, plan
    assert ("pk_notification_delivery", "notification_delivery") in {
        (index, table) for _, index, table, _ in scans
    }, plan
