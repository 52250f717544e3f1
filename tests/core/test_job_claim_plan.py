"""Issue 25: the runner's UPDATEs of one job find it by the primary key, whatever the plan."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import Update
from sqlalchemy.dialects import postgresql

from oja.core.jobs import runner


def _prepared(statement: Update, name: str) -> tuple[str, str]:
    """``PREPARE name AS …`` of the statement with its parameters as ``$n``, and an EXECUTE with
    NULL for each (a generic plan does not look at them)."""
    compiled = statement.compile(dialect=postgresql.dialect())
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match[1] not in names:
            names.append(match[1])
        return f"${names.index(match[1]) + 1}"

    sql = re.sub(r"%\((\w+)\)s", number, compiled.string)
    return f"PREPARE {name} AS {sql}", f"EXECUTE {name}({', '.join(['NULL'] * len(names))})"


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
@pytest.mark.parametrize("build", ["_claim_statement", "_succeeded_statement"])
async def test_the_claim_and_the_mark_read_the_primary_key_alone(app: Any, build: str) -> None:
    """``id = $1 AND kind = $2 AND status = …``: the generic plan costed ``ix_job_kind`` (every
    job of the kind ever made) or the status index like the primary key, and the shopping day's
    claim read 237 buffers a call. Compared as ``column || ''`` they serve no index: only the
    primary key is left."""
    prepare, execute = _prepared(getattr(runner, build)(), build.strip("_"))
    async with app.state.runtime.database.engine.connect() as conn:
        await conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        await conn.exec_driver_sql(prepare)
        plan = "\n".join(
            str(line) for (line,) in (await conn.exec_driver_sql(f"EXPLAIN {execute}")).all()
        )
        await conn.rollback()
    scans = set(re.findall(r"(?:Index|Bitmap Index) Scan using (\w+)", plan))
    assert "Seq Scan" not in plan, plan
    assert scans == {"pk_job"}, plan
