"""Seed 000 task 2 and seed 002, as a client written from the seeds sees them: processed URLs that
download with the right content type, `limit` paging `GET /files`, and failures explained in the
uploader's terms (the library's own words only in the log). On local storage and on S3 (moto)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from oja.core.config import Settings
from tests.conftest import Jobs, LogCapture
from tests.files import media
from tests.files.conftest import download, local_or_s3, upload, upload_and_process


@pytest.fixture(params=["local", "s3"])
def settings(request: pytest.FixtureRequest, tmp_path: Path, database_url: str) -> Settings:
    return local_or_s3(request, tmp_path, database_url)


@pytest.mark.parametrize(
    ("name", "make", "expected"),
    [
        (
            "photo.jpg",
            lambda: media.jpeg(640, 480),
            {
                "resized": "image/jpeg",
                "compressed": "image/webp",
                "compressed_jpeg": "image/jpeg",
                "thumbnail": "image/jpeg",
            },
        ),
        (
            "logo.png",
            lambda: media.png(640, 480, alpha=True),
            {
                "resized": "image/png",
                "compressed": "image/webp",
                "compressed_jpeg": "image/jpeg",
                "thumbnail": "image/png",
            },
        ),
    ],
    ids=["jpeg", "png-with-alpha"],
)
async def test_every_variant_downloads_with_its_own_content_type(
    client: httpx.AsyncClient,
    app: Any,
    jobs: Jobs,
    user: dict[str, str],
    name: str,
    make: Any,
    expected: dict[str, str],
) -> None:
    file_id = (await upload_and_process(client, app, jobs, user, make(), name))["id"]
    result = (await client.get(f"/upload/{file_id}/result", headers=user)).json()
    served = {}
    for variant, info in result["variants"].items():
        response = await download(client, app, info["url"])
        assert response.status_code == 200, (variant, response.text)
        served[variant] = response.headers["content-type"]
    assert served == expected


async def test_limit_pages_the_file_list_like_per_page(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, user: dict[str, str]
) -> None:
    for index in range(3):
        response = await upload(client, user, f"note {index}".encode(), f"note{index}.txt")
        assert response.status_code == 201
    limited = (await client.get("/files?limit=2", headers=user)).json()
    assert (limited["per_page"], len(limited["items"]), limited["total"]) == (2, 2, 3)
    second = (await client.get("/files?page=2&limit=2", headers=user)).json()
    assert (second["page"], len(second["items"])) == (2, 1)
    both = (await client.get("/files?per_page=3&limit=1", headers=user)).json()
    assert (both["per_page"], len(both["items"])) == (3, 3)  # Oja's own name wins
    refused = await client.get("/files?limit=101", headers=user)
    assert refused.status_code == 422
    assert refused.json()["error"]["details"][0]["loc"] == ["query", "limit"]


def _truncated_jpeg() -> bytes:
    data = media.jpeg(800, 600)
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("name", "make", "message", "library_text"),
    [
        (
            "photo.jpg",
            _truncated_jpeg,
            "The image could not be decoded: the file is damaged, truncated or not a supported "
            "image.",
            "VipsJpeg: premature end of JPEG image",
        ),
        (
            "report.pdf",
            lambda: b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nbroken \x00\xff garbage",
            "The PDF could not be read: the file is damaged or not a PDF.",
            "PDFium: Data format error",
        ),
    ],
    ids=["truncated-jpeg", "corrupt-pdf"],
)
async def test_a_broken_file_is_explained_in_the_uploaders_terms(  # noqa: PLR0913 - fixtures
    client: httpx.AsyncClient,
    app: Any,
    jobs: Jobs,
    user: dict[str, str],
    log_output: LogCapture,
    name: str,
    make: Any,
    message: str,
    library_text: str,
) -> None:
    file_id = (await upload_and_process(client, app, jobs, user, make(), name))["id"]
    status = await client.get(f"/upload/{file_id}/status", headers=user)
    detail = await client.get(f"/files/{file_id}", headers=user)
    assert status.json() == {
        "id": file_id,
        "status": "failed",
        "progress": 0,
        "message": "processing failed",
        "error": message,
    }
    assert detail.json()["error"] == message
    for seen in (status.text, detail.text):
        for internal in (library_text, "Vips", "PDFium", "PdfiumError", "pyvips"):
            assert internal not in seen
    [logged] = [e for e in log_output.events() if e["event"] == "files.file.attempt_failed"]
    assert (logged["file_id"], logged["reason"]) == (file_id, message)
    assert library_text in logged["detail"]
