"""``oja.reconcile`` finds each kind of mismatch it claims to, and passes a consistent system."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select, update

from oja.billing.models import QuotaReservation, WebhookEvent
from oja.chat.models import ChatMessage
from oja.core.clock import utcnow
from oja.core.db import unit_of_work
from oja.core.jobs.models import Job, JobStatus
from oja.core.jobs.sweeper import sweep
from oja.documents.models import Document
from oja.files.models import File
from oja.rag.jobs import index_document
from oja.reconcile import run
from tests.reliability import harness


async def test_a_consistent_system_reconciles(
    harness_app: Any, client: httpx.AsyncClient, dropped_jobs: Any
) -> None:
    owner = await harness.signup_and_login(client)
    await harness.upload_file(client, owner)
    runtime = harness_app.state.runtime
    async with runtime.database.engine.begin() as conn:  # as a worker would
        await conn.execute(update(Job).values(status="succeeded"))
        await conn.execute(update(File).values(status="processed"))
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


async def test_rows_left_in_progress_by_a_finished_job_are_reported(
    harness_app: Any, client: httpx.AsyncClient, dropped_jobs: Any
) -> None:
    """What the sweeper used to leave behind when it failed a job without its hook, and more."""
    owner = await harness.signup_and_login(client)
    file_id = uuid.UUID(await harness.upload_file(client, owner))
    unextracted = uuid.UUID(await harness.upload_document(client, owner))
    processing = uuid.UUID(await harness.upload_document(client, owner))
    assert (
        await client.post(f"/documents/{processing}/process", headers=owner.headers)
    ).status_code == 202
    unindexed = uuid.UUID(await harness.upload_document(client, owner))
    room = await harness.create_chatroom(client, owner)
    prompt_id = uuid.UUID(await harness.send_message(client, owner, room))
    runtime = harness_app.state.runtime
    async with unit_of_work(runtime.database) as session:  # text extracted, indexing requested
        index_job = index_document.enqueue(session, document_id=unindexed)
    async with runtime.database.engine.begin() as conn:
        await conn.execute(
            update(Document)
            .where(Document.id == unindexed)
            .values(text="Invoice INV-1.", indexed_at=None)
        )
        await conn.execute(update(File).where(File.id == file_id).values(status="processing"))
        await conn.execute(update(Job).values(status=JobStatus.failed))
        await conn.execute(
            update(Job).where(Job.kind == "documents.process").values(status=JobStatus.succeeded)
        )
        jobs = (await conn.execute(select(Job.kind, Job.subject_id, Job.id))).all()
    job_of = {(kind, subject): job_id for kind, subject, job_id in jobs}
    report = await run(runtime, stale_after=600)
    failed = {f.check: f for f in report.findings if not f.ok}
    assert set(failed) == {"stuck_rows"}, report.table()
    assert sorted(failed["stuck_rows"].samples) == sorted(
        [
            f"file {file_id} processing: files.process job "
            f"{job_of['files.process', str(file_id)]} failed",
            f"document {unextracted} UPLOADED without text: documents.extract job "
            f"{job_of['documents.extract', str(unextracted)]} failed",
            f"document {processing} PROCESSING: documents.process job "
            f"{job_of['documents.process', str(processing)]} succeeded",
            f"document {unindexed} text not indexed: rag.index_document job {index_job.id} failed",
            f"chat_message {prompt_id} pending: chat.generate job "
            f"{job_of['chat.generate', str(prompt_id)]} failed",
        ]
    )
    assert failed["stuck_rows"].summary.startswith("5 rows in progress whose job has ended")


async def test_jobs_the_sweeper_fails_leave_no_row_stuck(
    harness_app: Any, client: httpx.AsyncClient, dropped_jobs: Any
) -> None:
    """Every job killed on its last attempt: one sweep fails them and, through their hooks, the
    file, the document and the prompt they were working on (the prompt's unit refunded)."""
    owner = await harness.signup_and_login(client)
    file_id = uuid.UUID(await harness.upload_file(client, owner))
    document_id = uuid.UUID(await harness.upload_document(client, owner))
    assert (
        await client.post(f"/documents/{document_id}/process", headers=owner.headers)
    ).status_code == 202
    room = await harness.create_chatroom(client, owner)
    prompt_id = uuid.UUID(await harness.send_message(client, owner, room))
    runtime = harness_app.state.runtime
    async with runtime.database.engine.begin() as conn:
        await conn.execute(update(File).values(status="processing"))
        await conn.execute(
            update(Job).values(
                status=JobStatus.running,
                attempts=Job.max_attempts,
                lease_expires_at=utcnow() - timedelta(minutes=1),
            )
        )
    assert await sweep(runtime) == {"republished": 0, "failed": 4}  # file, extract, process, chat
    async with runtime.database.engine.connect() as conn:
        assert (
            await conn.execute(select(File.status).where(File.id == file_id))
        ).scalar_one() == "failed"
        assert (
            await conn.execute(select(Document.status).where(Document.id == document_id))
        ).scalar_one() == "FAILED"
        assert (
            await conn.execute(select(ChatMessage.status).where(ChatMessage.id == prompt_id))
        ).scalar_one() == "failed"
    report = await run(runtime, stale_after=0)
    assert report.ok, report.table()
    [stuck] = [f for f in report.findings if f.check == "stuck_rows"]
    assert stuck.summary == "0 rows in progress, none whose job has ended"


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
