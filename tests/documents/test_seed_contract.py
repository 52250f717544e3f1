"""Seeds 000 (tasks 4–5) and 004 as a client written from them reads `/documents`: the upload's `id`,
the seed's four status names with a terminal progress of 100, whether search has the text yet,
`limit` for the page size, and a broken file explained without the parser's words."""

from __future__ import annotations

from typing import Any

import httpx

from oja.core.jobs.runner import execute
from tests.conftest import Jobs, LogCapture
from tests.documents.conftest import bearer, token_for, upload, uploaded_id
from tests.documents.support import DONE, status_body, status_of

LETTER = (
    b"Dear Ms Okafor,\n\nThank you for your letter of 3 March. The ferry timetable for Lagos "
    b"lagoon changes on 1 April; the first boat leaves Ikorodu at 06:30.\n\nYours sincerely,\n"
    b"Tunde Bakare\n"
)


async def test_upload_answers_id_and_document_id(client: httpx.AsyncClient) -> None:
    headers = bearer(await token_for(client))
    response = await upload(client, headers, LETTER, "letter.txt")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"] == body["document_id"]
    read = await client.get(f"/documents/{body['id']}", headers=headers)
    assert (read.status_code, read.json()["document_id"]) == (200, body["id"])


async def test_completed_is_progress_100_and_indexed_says_when_search_has_it(
    client: httpx.AsyncClient, app: Any, jobs: Jobs
) -> None:
    headers = bearer(await token_for(client))
    document_id = await uploaded_id(client, headers, LETTER, "letter.txt")
    runtime = app.state.runtime
    assert await execute(str(jobs.published.pop(0)), runtime) == "succeeded"  # extraction
    [indexing] = jobs.published  # held back: a slow indexer
    jobs.published.clear()
    accepted = await client.post(f"/documents/{document_id}/process", headers=headers)
    assert accepted.status_code == 202
    assert await jobs.run(app) == ["succeeded"]

    assert await status_of(client, headers, document_id) == status_body(
        document_id,
        "COMPLETED",
        progress=100,
        stage="index",
        message="Processing completed; the text is being indexed for search.",
        indexed=False,
    )
    result = await client.get(f"/documents/{document_id}/result", headers=headers)
    assert (result.status_code, result.json()["status"]) == (200, "COMPLETED")

    assert await execute(str(indexing), runtime) == "succeeded"
    assert await status_of(client, headers, document_id) == status_body(
        document_id, "COMPLETED", progress=100, stage="done", message=DONE, indexed=True
    )


async def test_limit_pages_the_document_list_like_per_page(client: httpx.AsyncClient) -> None:
    headers = bearer(await token_for(client))
    for index in range(3):
        await uploaded_id(client, headers, LETTER + str(index).encode(), f"letter{index}.txt")
    by_limit = (await client.get("/documents?limit=2&page=2", headers=headers)).json()
    by_per_page = (await client.get("/documents?per_page=2&page=2", headers=headers)).json()
    assert by_limit == by_per_page
    assert (by_limit["per_page"], by_limit["total"], len(by_limit["items"])) == (2, 3, 1)


async def test_a_corrupt_pdf_is_explained_without_the_parsers_words(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, log_output: LogCapture
) -> None:
    headers = bearer(await token_for(client))
    broken = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nbroken \x00\xff garbage"
    document_id = await uploaded_id(client, headers, broken, "report.pdf")
    assert await jobs.run(app) == ["failed"]

    message = "The PDF could not be read: the file is damaged or not a PDF."
    status = await client.get(f"/documents/{document_id}/status", headers=headers)
    detail = await client.get(f"/documents/{document_id}", headers=headers)
    result = await client.get(f"/documents/{document_id}/result", headers=headers)
    assert (status.json()["status"], status.json()["message"]) == ("FAILED", message)
    assert detail.json()["error"] == {
        "code": "corrupt_document",
        "message": message,
        "stage": "extract",
    }
    assert (result.status_code, result.json()["error"]["message"]) == (422, message)
    for seen in (status.text, detail.text, result.text):
        assert "PDFium" not in seen
        assert "Failed to load document" not in seen
    [logged] = [e for e in log_output.events() if e["event"] == "documents.process_failed"]
    assert (logged["document_id"], logged["error"]) == (document_id, message)
    assert logged["detail"] == "Failed to load document (PDFium: Data format error)."
