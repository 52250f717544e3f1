"""The test session's own guards: a test that leaves a process running fails the run; each PostgreSQL
test starts from empty tables."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from oja.core.db import Base
from tests.conftest import PostgresTables
from tests.processes import REPO, alive

LEAKY = """
import subprocess


def test_forgets_its_process():
    subprocess.Popen(["sleep", "300"])
"""


def test_a_session_whose_test_leaves_a_process_running_fails_and_names_it(tmp_path: Path) -> None:
    (tmp_path / "test_leaky.py").write_text(LEAKY)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "-q"]
        + ["--rootdir", str(tmp_path), "-c", "/dev/null", str(tmp_path / "test_leaky.py")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 passed" in run.stdout
    assert "processes left running by the tests (now killed):" in run.stdout
    [pid] = [int(p) for p in re.findall(r"^  (\d+) sleep 300$", run.stdout, re.M)]
    assert not alive(pid)


@pytest.mark.postgres
def test_emptying_the_postgres_tables_empties_every_table_and_leaves_the_sequences_alone(
    postgres_tables: PostgresTables,
) -> None:
    """What every PostgreSQL test starts from (``database_url``): no row in any model table, the
    ledger's undeletable postings included, and the ids of ``realtime_event`` going on growing
    (``TRUNCATE`` ran without ``RESTART IDENTITY``)."""
    counts = " UNION ALL ".join(
        f"SELECT '{t.name}', count(*) FROM \"{t.name}\"" for t in Base.metadata.sorted_tables
    )

    async def fill() -> int:
        conn = await asyncpg.connect(
            postgres_tables.url.replace("postgresql+asyncpg://", "postgresql://")
        )
        try:
            event_id: int = await conn.fetchval(
                "INSERT INTO realtime_event (event, data, topics, created_at) "
                "VALUES ('test.event', '{}', '[]', now()) RETURNING id"
            )
            await conn.execute(
                "INSERT INTO realtime_event_topic (topic, event_id) VALUES ('t', $1)", event_id
            )
            async with conn.transaction():  # a posting without its transaction and account
                await conn.execute("SET LOCAL session_replication_role = replica")
                await conn.execute(
                    "INSERT INTO ledger_posting (id, transaction_id, account_id, entry_type, "
                    "amount, currency, created_at) VALUES (gen_random_uuid(), gen_random_uuid(), "
                    "gen_random_uuid(), 'sale', 100, 'NGN', now())"
                )
            return event_id
        finally:
            await conn.close()

    async def non_empty() -> dict[str, int]:
        conn = await asyncpg.connect(
            postgres_tables.url.replace("postgresql+asyncpg://", "postgresql://")
        )
        try:
            return {name: n for name, n in await conn.fetch(counts) if n}
        finally:
            await conn.close()

    postgres_tables.empty()
    first = asyncio.run(fill())
    assert asyncio.run(non_empty()) == {
        "realtime_event": 1,
        "realtime_event_topic": 1,
        "ledger_posting": 1,
    }
    postgres_tables.empty()
    assert asyncio.run(non_empty()) == {}
    assert asyncio.run(fill()) == first + 1
    postgres_tables.empty()
    assert asyncio.run(non_empty()) == {}
