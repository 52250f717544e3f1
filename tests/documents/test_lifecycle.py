"""Upload → extract → process → COMPLETED → result, on SQLite and PostgreSQL, jobs in-process."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from oja.core.ai.heuristics import DOCUMENT_TYPES
from oja.core.clock import utcnow
from oja.core.jobs import Job, JobStatus
from oja.core.jobs.sweeper import LEASE_EXPIRED, sweep
from tests.conftest import Jobs

from .conftest import bearer, token_for, upload, uploaded_id
from .fixtures import INVOICE_TEXT, LETTER_TEXT, build_docx, build_pdf, text_pdf
from .support import DONE, status_body, status_of

PDF_MIME = "application/pdf"
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


async def job_rows(app: Any, kind: str) -> list[Job]:
    async with app.state.runtime.database.sessionmaker() as session:
        return list((await session.scalars(select(Job).where(Job.kind == kind))).all())


async def test_pdf_upload_process_result(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, tmp_path: Path
) -> None:
    headers = bearer(await token_for(client))
    data = build_pdf([INVOICE_TEXT.splitlines(), ["Notes: delivered to the Lagos office."]])

    response = await upload(client, headers, data, "march invoice.pdf", "text/plain")
    assert response.status_code == 201
    body = response.json()
    document_id = body["document_id"]
    assert set(body) == {
        "id",
        "document_id",
        "filename",
        "status",
        "size",
        "content_type",
        "created_at",
    }
    assert body["filename"] == "march invoice.pdf"
    assert body["status"] == "UPLOADED"
    assert body["size"] == len(data)
    assert body["content_type"] == PDF_MIME  # sniffed: the declared text/plain is ignored
    stored = list((tmp_path / "var" / "storage").rglob("original"))
    assert [p.read_bytes() for p in stored] == [data]
    assert "march" not in str(stored[0])  # the key comes from ids, never the filename

    assert await jobs.run(app) == ["succeeded", "succeeded"]  # extraction, then rag indexing
    detail = (await client.get(f"/documents/{document_id}", headers=headers)).json()
    assert detail["status"] == "UPLOADED"
    assert detail["pages"] == 2
    assert detail["text"] == INVOICE_TEXT + "\n\nNotes: delivered to the Lagos office."
    assert detail["summary"] is None
    assert [(c["chunk_index"], c["text"]) for c in detail["chunks"]] == [(0, detail["text"])]
    assert detail["chunk_count"] == 1
    assert await status_of(client, headers, document_id) == status_body(
        document_id,
        "UPLOADED",
        progress=0,
        stage="extracted",
        message=f"Text extracted; POST /documents/{document_id}/process to analyse it.",
        indexed=True,
    )
    early = await client.get(f"/documents/{document_id}/result", headers=headers)
    assert early.status_code == 409
    assert early.json()["error"]["details"] == {"document_id": document_id, "status": "UPLOADED"}

    accepted = await client.post(f"/documents/{document_id}/process", headers=headers)
    assert accepted.status_code == 202
    [job] = await job_rows(app, "documents.process")
    assert accepted.json() == {
        "document_id": document_id,
        "status": "PROCESSING",
        "job_id": str(job.id),
        "status_url": f"/documents/{document_id}/status",
    }
    running = await status_of(client, headers, document_id)
    assert (running["status"], running["progress"], running["stage"]) == ("PROCESSING", 0, "queued")

    assert await jobs.run(app) == ["succeeded"]
    assert await status_of(client, headers, document_id) == status_body(
        document_id, "COMPLETED", progress=100, stage="done", message=DONE, indexed=True
    )
    result = (await client.get(f"/documents/{document_id}/result", headers=headers)).json()
    assert result["status"] == "COMPLETED"
    assert result["document_type"] == "invoice"
    assert result["pages"] == 2
    assert result["metadata"] == {
        "title": "ACME Supplies Ltd",
        "date": "2024-03-15",
        "sender": "ACME Supplies Ltd",
        "recipient": "Globex Corporation",
        "total_amount": "16662.50",
        "currency": "NGN",
        "invoice_number": "INV-2024-0042",
        "emails": ["billing@acme.example"],
        "phones": ["+234 803 123 4567"],
    }
    assert result["analysis"]["provider"] == "local"
    assert result["analysis"]["model"] == "oja-local-extractive-1"
    assert result["analysis"]["prompt_version"] == "documents.analysis.v1"
    assert result["analysis"]["chunks"] == 1
    usage = result["analysis"]["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert result["summary"].startswith("ACME Supplies Ltd.")

    again = await client.post(f"/documents/{document_id}/process", headers=headers)
    assert again.status_code == 202
    assert again.json()["status"] == "COMPLETED"
    assert again.json()["job_id"] == str(job.id)
    assert len(await job_rows(app, "documents.process")) == 1  # no second job
    assert jobs.published == []

    listing = (await client.get("/documents", headers=headers)).json()
    assert listing["total"] == 1
    assert listing["items"][0]["document_id"] == document_id
    assert listing["items"][0]["status"] == "COMPLETED"
    assert listing["items"][0]["pages"] == 2
    assert listing["items"][0]["chunk_count"] == 1  # indexed by rag
    assert listing["items"][0]["size"] == len(data)


async def test_docx_with_a_table_and_text_files(
    client: httpx.AsyncClient, app: Any, jobs: Jobs
) -> None:
    headers = bearer(await token_for(client))
    docx = build_docx(
        ["Quarterly report", "Revenue grew in every region."],
        [["Region", "Revenue"], ["Lagos", "₦1,200,000"], ["Abuja", "₦800,000"]],
    )
    docx_id = await uploaded_id(client, headers, docx, "report.docx")
    utf8_id = await uploaded_id(client, headers, "Ọjà means market — naïve café".encode(), "a.txt")
    latin = "Le garçon était très content de voir sa sœur à la gare."
    latin_id = await uploaded_id(client, headers, latin.encode("cp1252"), "b.txt")
    assert await jobs.run(app) == ["succeeded"] * 6  # 3 extractions, then 3 rag indexings

    detail = (await client.get(f"/documents/{docx_id}", headers=headers)).json()
    assert detail["content_type"] == DOCX_MIME
    assert detail["kind"] == "docx"
    assert detail["text"] == (
        "Quarterly report\nRevenue grew in every region.\n\n"
        "Region | Revenue\nLagos | ₦1,200,000\nAbuja | ₦800,000\n\nEnd of document."
    )
    utf8 = (await client.get(f"/documents/{utf8_id}", headers=headers)).json()
    assert (utf8["kind"], utf8["text"], utf8["pages"]) == (
        "txt",
        "Ọjà means market — naïve café",
        None,
    )
    latin_doc = (await client.get(f"/documents/{latin_id}", headers=headers)).json()
    assert latin_doc["text"] == latin


@pytest.mark.parametrize(
    ("data", "code", "message"),
    [
        (
            build_pdf(scanned_pages=2),
            "no_extractable_text",
            "No extractable text: the PDF's 2 page(s) have no text layer (a scanned document?); "
            "Oja does not run OCR.",
        ),
        (
            build_pdf([["secret"]], encrypted=True),
            "encrypted_document",
            "The PDF is encrypted with a password; Oja cannot read it.",
        ),
        (
            b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nbroken \x00\xff garbage",
            "corrupt_document",
            "The PDF could not be read: the file is damaged or not a PDF.",
        ),
    ],
    ids=["scanned", "encrypted", "corrupt"],
)
async def test_unreadable_documents_fail_with_the_reason(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, data: bytes, code: str, message: str
) -> None:
    headers = bearer(await token_for(client))
    document_id = await uploaded_id(client, headers, data)
    assert await jobs.run(app) == ["failed"]
    assert await status_of(client, headers, document_id) == status_body(
        document_id, "FAILED", progress=0, stage="extract", message=message, indexed=False
    )
    result = await client.get(f"/documents/{document_id}/result", headers=headers)
    assert result.status_code == 422
    assert result.json()["error"] == {
        "code": "processing_failed",
        "message": message,
        "details": {
            "document_id": document_id,
            "status": "FAILED",
            "stage": "extract",
            "reason": code,
        },
    }
    detail = (await client.get(f"/documents/{document_id}", headers=headers)).json()
    assert detail["error"] == {"code": code, "message": message, "stage": "extract"}

    # Processing a FAILED document tries again, and fails again for the same reason.
    again = await client.post(f"/documents/{document_id}/process", headers=headers)
    assert again.status_code == 202
    assert again.json()["status"] == "PROCESSING"
    assert await jobs.run(app) == ["failed"]
    final = await status_of(client, headers, document_id)
    assert (final["status"], final["message"]) == ("FAILED", message)


async def test_unsupported_type_is_415_and_nothing_is_stored(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, tmp_path: Path
) -> None:
    headers = bearer(await token_for(client))
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="PNG")
    png = buffer.getvalue()
    response = await upload(client, headers, png, "looks.pdf", PDF_MIME)
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert response.json()["error"]["details"]["detected"] == "image/png"
    html = await upload(client, headers, b"<html><script>alert(1)</script></html>", "a.txt")
    assert html.status_code == 415
    assert not list((tmp_path / "var" / "storage").rglob("*"))
    assert (await client.get("/documents", headers=headers)).json()["total"] == 0
    assert jobs.published == []


async def test_oversized_upload_is_413_while_reading_and_nothing_is_stored(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .conftest import set_env

    set_env(monkeypatch, app, OJA_MAX_DOCUMENT_BYTES="20000")
    headers = bearer(await token_for(client))
    response = await upload(client, headers, text_pdf(page_count=30))
    assert response.status_code == 413
    assert response.json()["error"]["details"] == {"max_bytes": 20000}
    assert not [p for p in (tmp_path / "var" / "storage").rglob("*") if p.is_file()]
    assert (await client.get("/documents", headers=headers)).json()["total"] == 0
    assert jobs.published == []


async def test_process_twenty_times_in_parallel_makes_one_job(
    client: httpx.AsyncClient, app: Any, jobs: Jobs
) -> None:
    import asyncio

    headers = bearer(await token_for(client))
    document_id = await uploaded_id(client, headers, b"A short letter. Dear Sir,")
    jobs.published.clear()
    responses = await asyncio.gather(
        *(client.post(f"/documents/{document_id}/process", headers=headers) for _ in range(20))
    )
    assert [r.status_code for r in responses] == [202] * 20
    rows = await job_rows(app, "documents.process")
    assert len(rows) == 1
    assert {r.json()["job_id"] for r in responses} == {str(rows[0].id)}
    assert {r.json()["status"] for r in responses} == {"PROCESSING"}
    assert jobs.published == [rows[0].id]
    assert await jobs.run(app) == ["succeeded", "succeeded"]  # processing, then rag indexing


async def test_idempotency_key_replays_the_run_it_started(
    client: httpx.AsyncClient, app: Any, jobs: Jobs
) -> None:
    headers = bearer(await token_for(client))
    document_id = await uploaded_id(client, headers, build_pdf(scanned_pages=1))
    await jobs.run(app)  # extraction fails: FAILED, so a new run may start
    first = await client.post(
        f"/documents/{document_id}/process", headers={**headers, "Idempotency-Key": "k-1"}
    )
    await jobs.run(app)  # fails again
    replay = await client.post(
        f"/documents/{document_id}/process", headers={**headers, "Idempotency-Key": "k-1"}
    )
    assert replay.status_code == 202
    assert replay.json()["job_id"] == first.json()["job_id"]
    assert replay.json()["status"] == "FAILED"
    assert len(await job_rows(app, "documents.process")) == 1
    fresh = await client.post(
        f"/documents/{document_id}/process", headers={**headers, "Idempotency-Key": "k-2"}
    )
    assert fresh.json()["status"] == "PROCESSING"
    assert fresh.json()["job_id"] != first.json()["job_id"]
    assert len(await job_rows(app, "documents.process")) == 2


async def test_analyze_with_the_local_provider_answers_within_the_wait(
    client: httpx.AsyncClient, app: Any, jobs: Jobs
) -> None:
    headers = bearer(await token_for(client))
    document_id = await uploaded_id(client, headers, LETTER_TEXT.encode(), "letter.txt")
    jobs.inline_runtime = app.state.runtime
    response = await client.post(f"/documents/{document_id}/analyze", headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert body["document_type"] == "letter"
    assert body["status"] == "COMPLETED"
    assert body["metadata"]["recipient"] == "Mrs. Okafor"
    assert body["metadata"]["sender"] == "John Adeyemi"
    assert body["metadata"]["date"] == "2025-01-05"
    assert body["analysis"]["provider"] == "local"
    assert body["document_type"] in DOCUMENT_TYPES


async def test_analyze_answers_202_when_the_job_outlasts_the_wait(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .conftest import set_env

    set_env(monkeypatch, app, OJA_ANALYZE_WAIT_SECONDS="0.1")
    headers = bearer(await token_for(client))
    document_id = await uploaded_id(client, headers, LETTER_TEXT.encode(), "letter.txt")
    jobs.published.clear()
    response = await client.post(f"/documents/{document_id}/analyze", headers=headers)
    assert response.status_code == 202
    [row] = await job_rows(app, "documents.process")
    assert response.json() == {
        "document_id": document_id,
        "status": "PROCESSING",
        "job_id": str(row.id),
        "status_url": f"/documents/{document_id}/status",
    }
    assert response.headers["location"] == f"/documents/{document_id}/status"
    # A second analyze while it runs waits on the same job instead of starting another.
    second = await client.post(f"/documents/{document_id}/analyze", headers=headers)
    assert second.status_code == 202
    assert second.json()["job_id"] == str(row.id)
    assert len(await job_rows(app, "documents.process")) == 1


async def test_long_text_is_map_reduced(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .conftest import set_env

    set_env(monkeypatch, app, OJA_ANALYSIS_CHUNK_CHARS="600")
    headers = bearer(await token_for(client))
    paragraphs = "\n\n".join(
        f"Section {i}. The annual report shows revenue of region {i} grew steadily this year."
        for i in range(40)
    )
    document_id = await uploaded_id(client, headers, paragraphs.encode(), "report.txt")
    await client.post(f"/documents/{document_id}/process", headers=headers)
    await jobs.run(app)
    result = (await client.get(f"/documents/{document_id}/result", headers=headers)).json()
    assert result["analysis"]["chunks"] == 6
    assert result["document_type"] == "report"


async def test_lifecycle_logs(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, log_output: Any
) -> None:
    headers = bearer(await token_for(client))
    good = await uploaded_id(client, headers, LETTER_TEXT.encode(), "letter.txt")
    bad = await uploaded_id(client, headers, build_pdf(scanned_pages=1))
    await jobs.run(app)
    await client.post(f"/documents/{good}/process", headers=headers)
    await jobs.run(app)
    events = [
        (e["event"], e.get("document_event"), e.get("document_id"))
        for e in log_output.events()
        if e.get("document_event")
    ]
    assert events == [
        ("documents.uploaded", "uploaded", good),
        ("documents.uploaded", "uploaded", bad),
        ("documents.process_failed", "process_failed", bad),
        ("documents.process_started", "process_started", good),
        ("documents.process_completed", "process_completed", good),
    ]


async def test_a_body_that_is_not_multipart_is_415_and_adds_no_row(
    client: httpx.AsyncClient, app: Any
) -> None:
    headers = bearer(await token_for(client))
    response = await client.post(
        "/documents/upload",
        content=b"not multipart",
        headers={**headers, "Content-Type": "text/plain"},
    )
    assert response.status_code == 415
    async with app.state.runtime.database.sessionmaker() as session:
        from oja.documents.models import Document

        assert await session.scalar(select(func.count()).select_from(Document)) == 0


async def killed_on_its_last_attempt(app: Any, job_id: uuid.UUID) -> None:
    """What a worker SIGKILLed mid-job on the last attempt leaves: the job ``running``, every
    attempt used, its lease expired, and whatever the job body would have done undone."""
    async with app.state.runtime.database.sessionmaker() as session:
        await session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(
                status=JobStatus.running,
                attempts=Job.max_attempts,
                lease_expires_at=utcnow() - timedelta(minutes=1),
            )
        )
        await session.commit()


LOST = "Processing failed unexpectedly (the worker was lost)."


async def test_a_run_whose_worker_died_on_the_last_attempt_ends_failed(
    client: httpx.AsyncClient, app: Any, jobs: Jobs
) -> None:
    headers = bearer(await token_for(client))
    document_id = await uploaded_id(client, headers, LETTER_TEXT.encode(), "letter.txt")
    assert await jobs.run(app) == ["succeeded", "succeeded"]  # extraction, then rag indexing
    accepted = await client.post(f"/documents/{document_id}/process", headers=headers)
    job_id = uuid.UUID(accepted.json()["job_id"])
    jobs.published.clear()  # delivered to a worker that then died
    await killed_on_its_last_attempt(app, job_id)

    assert await sweep(app.state.runtime) == {"republished": 0, "failed": 1}
    assert await status_of(client, headers, document_id) == status_body(
        document_id, "FAILED", progress=0, stage="analyze", message=LOST, indexed=True
    )
    result = await client.get(f"/documents/{document_id}/result", headers=headers)
    assert result.status_code == 422
    assert result.json()["error"]["details"]["reason"] == "internal_error"
    [job] = await job_rows(app, "documents.process")
    assert (job.status, job.last_error) == (JobStatus.failed, LEASE_EXPIRED)
    assert await sweep(app.state.runtime) == {"republished": 0, "failed": 0}

    again = await client.post(f"/documents/{document_id}/process", headers=headers)
    assert again.json()["status"] == "PROCESSING"
    assert await jobs.run(app) == ["succeeded"]
    final = await status_of(client, headers, document_id)
    assert final["status"] == "COMPLETED"


async def test_an_extraction_whose_worker_died_on_the_last_attempt_fails_the_document(
    client: httpx.AsyncClient, app: Any, jobs: Jobs
) -> None:
    headers = bearer(await token_for(client))
    document_id = await uploaded_id(client, headers, LETTER_TEXT.encode(), "letter.txt")
    [extraction] = await job_rows(app, "documents.extract")
    jobs.published.clear()
    await killed_on_its_last_attempt(app, extraction.id)

    assert await sweep(app.state.runtime) == {"republished": 0, "failed": 1}
    assert await status_of(client, headers, document_id) == status_body(
        document_id, "FAILED", progress=0, stage="extract", message=LOST, indexed=False
    )
    # Processing a FAILED document extracts the text again.
    again = await client.post(f"/documents/{document_id}/process", headers=headers)
    assert again.json()["status"] == "PROCESSING"
    assert await jobs.run(app) == ["succeeded", "succeeded"]  # processing, then rag indexing
    final = (await client.get(f"/documents/{document_id}", headers=headers)).json()
    assert (final["status"], final["text"]) == ("COMPLETED", LETTER_TEXT)


async def test_a_run_the_runner_gives_up_on_by_timeout_ends_failed(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runner's time limit cancels the job body, whose ``except Exception`` never sees it: only
    the failure hook moves the document out of PROCESSING."""
    from oja.documents import jobs as document_jobs

    headers = bearer(await token_for(client))
    document_id = await uploaded_id(client, headers, LETTER_TEXT.encode(), "letter.txt")
    assert await jobs.run(app) == ["succeeded", "succeeded"]
    await client.post(f"/documents/{document_id}/process", headers=headers)
    [job] = await job_rows(app, "documents.process")
    async with app.state.runtime.database.sessionmaker() as session:  # earlier attempts used
        await session.execute(
            update(Job).where(Job.id == job.id).values(attempts=Job.max_attempts - 1)
        )
        await session.commit()
    monkeypatch.setattr(document_jobs.process_document, "timeout", 0.01)

    async def stuck(*_: Any, **__: Any) -> Any:
        await asyncio.Event().wait()

    monkeypatch.setattr(document_jobs, "analyse", stuck)
    assert await jobs.run(app) == ["failed"]
    status = await status_of(client, headers, document_id)
    assert (status["status"], status["stage"], status["message"]) == (
        "FAILED",
        "analyze",
        "Processing failed unexpectedly (TimeoutError).",
    )
