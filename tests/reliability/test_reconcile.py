"""``oja.reconcile`` finds each kind of mismatch it claims to, and passes a consistent system."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, update

from oja.billing.models import QuotaReservation, WebhookEvent
from oja.core.clock import utcnow
from oja.core.jobs.models import Job
from oja.files.models import File
from oja.reconcile import run
from tests.reliability import harness


async def test_a_consistent_system_reconciles(
    harness_app: Any, client: httpx.AsyncClient, dropped_jobs: Any
) -> None:
    owner = await harness.signup_and_login(client)
    await harness.upload_file(client, owner)
    runtime = harness_app.state.runtime
    async with runtime.database.engine.begin() as conn:
        await conn.execute(update(Job).values(status="succeeded"))  # as a worker would
    report = await run(runtime, stale_after=0)
    assert report.ok, report.table()
    assert "all consistent" in report.table()


async def test_every_kind_of_mismatch_is_reported(
    harness_app: Any, client: httpx.AsyncClient, dropped_jobs: Any, tmp_path: Path
) -> None:
    owner = await harness.signup_and_login(client)
    file_id = await harness.upload_file(client, owner)
    runtime = harness_app.state.runtime
    old = utcnow() - timedelta(hours=2)
    async with runtime.database.engine.begin() as conn:
        # A job accepted two hours ago and never finished (the upload's own job, aged).
        await conn.execute(update(Job).values(created_at=old))
        # A row whose object is gone, and an object no row names.
        await conn.execute(
            update(File).where(File.id == uuid.UUID(file_id)).values(storage_key="files/gone.txt")
        )
        await conn.execute(
            insert(WebhookEvent).values(
                id=uuid.uuid4(),
                provider="paystack",
                event_id="evt-1",
                event_type="charge.success",
                payload={},
                status="received",
                received_at=old,
            )
        )
        await conn.execute(
            insert(QuotaReservation).values(
                id=uuid.uuid4(),
                subject="user:x",
                metric="chat.messages",
                window_start=old,
                status="reserved",
                created_at=old,
            )
        )
    report = await run(runtime, stale_after=600)
    table = report.table()
    failed = {f.check for f in report.findings if not f.ok}
    assert failed == {"jobs", "webhooks", "storage", "quotas"}, table
    assert "row without object: files/gone.txt" in table
    assert "object without row:" in table
    assert "MISMATCHES FOUND" in table


def test_the_cli_exits_non_zero_on_a_mismatch(tmp_path: Path, sqlite_template: Path) -> None:
    import shutil

    from typer.testing import CliRunner

    from oja.cli import app

    database = tmp_path / "oja.db"
    shutil.copy(sqlite_template, database)
    env = {
        "OJA_ENV": "test",
        "OJA_SECRET_KEY": "reconcile-test-secret-key-0123456789abcdef",
        "OJA_VAR_DIR": str(tmp_path / "var"),
        "OJA_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
    }
    clean = CliRunner().invoke(app, ["reconcile"], env=env)
    assert clean.exit_code == 0, clean.output
    assert "all consistent" in clean.output
    orphan = tmp_path / "var" / "storage" / "files" / "orphan.bin"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"no row names me")
    dirty = CliRunner().invoke(app, ["reconcile"], env=env)
    assert dirty.exit_code == 1, dirty.output
    assert "object without row: files/orphan.bin" in dirty.output
