"""Retrieval wired into the documents lifecycle: upload → extraction → ``documents.text_extracted``
→ ``rag.index_document``; chunk counts and chunks on the documents routes; the ``index`` stage in the
status; deletion removing every chunk."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from oja.core import events
from oja.core.db import unit_of_work
from oja.core.jobs import Job
from oja.core.runtime import running
from oja.rag.models import RagChunk
from tests.conftest import Jobs
from tests.rag.conftest import user

pytestmark = pytest.mark.usefixtures("database_url")
TEXT = (
    "Lagos Waterways passenger ferry rules. Every passenger must wear a life jacket from boarding "
    "until the vessel is moored.\n\nFerries leave the Falomo terminal every forty minutes between "
    "6:00 and 21:00 on weekdays. Tickets are bought with the transit card; cash is not accepted."
)


async def counts(app: Any) -> tuple[int, int]:
    async with unit_of_work(app.state.runtime.database) as session:
        rows = int(await session.scalar(select(func.count()).select_from(RagChunk)) or 0)
        fts = rows
        if session.get_bind().dialect.name == "sqlite":
            fts = int(await session.scalar(text("SELECT count(*) FROM rag_chunk_fts")) or 0)
        return rows, fts


async def index_jobs(app: Any) -> int:
    async with unit_of_work(app.state.runtime.database) as session:
        query = select(func.count()).select_from(Job).where(Job.kind == "rag.index_document")
        return int(await session.scalar(query) or 0)


async def test_upload_index_query_delete(app: Any, client: httpx.AsyncClient, jobs: Jobs) -> None:
    _, headers = await user(client)
    response = await client.post(
        "/documents/upload",
        files={"file": ("ferry.txt", TEXT.encode(), "text/plain")},
        headers=headers,
    )
    assert response.status_code == 201
    document_id = response.json()["document_id"]
    assert await jobs.run_kinds(app) == [
        ("documents.extract", "succeeded"),
        ("rag.index_document", "succeeded"),
    ]
    listing = (await client.get("/documents", headers=headers)).json()
    assert listing["items"][0]["chunk_count"] == 1
    detail = (await client.get(f"/documents/{document_id}", headers=headers)).json()
    [chunk] = detail["chunks"]
    assert chunk["text"] == TEXT
    assert (chunk["chunk_index"], chunk["start_char"], chunk["end_char"]) == (0, 0, len(TEXT))
    assert chunk["embedding_model"] == "local/sentence-transformers/all-MiniLM-L6-v2"
    assert detail["indexed_at"] is not None

    # The same text announced again is not indexed twice (announced as a job of this app would).
    with running(app.state.runtime):
        async with unit_of_work(app.state.runtime.database):
            await events.emit(
                "documents.text_extracted", document_id=uuid.UUID(document_id), owner_id=None
            )
    assert await index_jobs(app) == 1
    assert jobs.published == []

    body = (
        await client.post(
            "/query", json={"question": "Can I pay cash on the ferry?"}, headers=headers
        )
    ).json()
    assert body["chunks"][0]["document_id"] == document_id
    assert body["chunks"][0]["filename"] == "ferry.txt"
    assert "cash is not accepted" in body["answer"]

    assert (await client.delete(f"/documents/{document_id}", headers=headers)).status_code == 204
    assert await counts(app) == (0, 0)
    assert (await client.get(f"/documents/{document_id}", headers=headers)).status_code == 404
    body = (
        await client.post(
            "/query", json={"question": "Can I pay cash on the ferry?"}, headers=headers
        )
    ).json()
    assert (body["chunks"], body["citations"]) == ([], [])


async def test_status_shows_indexing_until_it_is_done(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    _, headers = await user(client)
    response = await client.post(
        "/documents/upload",
        files={"file": ("ferry.txt", TEXT.encode(), "text/plain")},
        headers=headers,
    )
    document_id = response.json()["document_id"]
    runtime = app.state.runtime
    from oja.core.jobs.runner import execute

    extract = jobs.published.pop(0)
    assert await execute(str(extract), runtime) == "succeeded"
    [index] = jobs.published
    jobs.published.clear()
    assert (
        await client.post(f"/documents/{document_id}/process", headers=headers)
    ).status_code == 202
    assert [jobs.task_names[job_id] for job_id in jobs.published] == ["oja.job.documents.process"]
    await jobs.run_kinds(app)
    status = (await client.get(f"/documents/{document_id}/status", headers=headers)).json()
    assert (status["status"], status["progress"], status["stage"]) == ("COMPLETED", 100, "index")
    assert status["indexed"] is False
    assert status["message"] == "Processing completed; the text is being indexed for search."
    assert await execute(str(index), runtime) == "succeeded"
    status = (await client.get(f"/documents/{document_id}/status", headers=headers)).json()
    assert (status["status"], status["progress"], status["stage"]) == ("COMPLETED", 100, "done")
    assert status["indexed"] is True


async def test_another_users_delete_is_404_and_keeps_the_chunks(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    _, owner = await user(client)
    _, other = await user(client)
    response = await client.post(
        "/documents/upload",
        files={"file": ("ferry.txt", TEXT.encode(), "text/plain")},
        headers=owner,
    )
    document_id = response.json()["document_id"]
    await jobs.run_kinds(app)
    assert (await client.delete(f"/documents/{document_id}", headers=other)).status_code == 404
    assert await counts(app) == (1, 1)
