"""The processing job, run in-process, on local storage and on S3 (a moto server): variants with
real dimensions, EXIF orientation applied and GPS stripped, text excerpts, failures with reasons,
retry, result, delete. Every test here runs on both storages and both databases."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import select, update

from oja.core.clock import utcnow
from oja.core.config import Settings
from oja.core.db import unit_of_work
from oja.core.jobs import Job, JobFailure, JobStatus
from oja.core.jobs.sweeper import LEASE_EXPIRED, sweep
from oja.files.jobs import PROCESS_MAX_ATTEMPTS, process_file_failed
from oja.files.models import File
from tests.conftest import Jobs
from tests.files import media
from tests.files.conftest import (
    download,
    local_or_s3,
    set_files_env,
    stored_keys,
    upload,
)

VARIANTS = {"resized", "compressed", "compressed_jpeg", "thumbnail"}


@pytest.fixture(params=["local", "s3"])
def settings(request: pytest.FixtureRequest, tmp_path: Path, database_url: str) -> Settings:
    return local_or_s3(request, tmp_path, database_url)


async def fetch(client: httpx.AsyncClient, app: Any, url: str) -> bytes:
    response = await download(client, app, url)
    assert response.status_code == 200, response.text
    return response.content


async def process(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, user: dict[str, str], data: bytes, name: str
) -> dict[str, Any]:
    response = await upload(client, user, data, name)
    assert response.status_code == 201, response.text
    file_id = response.json()["id"]
    before = await client.get(f"/upload/{file_id}/result", headers=user)
    assert before.status_code == 409
    assert before.json()["error"]["code"] == "not_processed"
    assert before.json()["error"]["details"]["status"] == "uploaded"
    await jobs.run(app)
    detail = await client.get(f"/files/{file_id}", headers=user)
    return dict(detail.json())


async def test_a_photo_gets_variants_of_the_right_real_size(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, user: dict[str, str]
) -> None:
    data = media.jpeg(4000, 3000)
    detail = await process(client, app, jobs, user, data, "photo.jpg")
    assert detail["status"] == "processed", detail
    assert detail["progress"] == 100
    extracted = detail["extracted_data"]
    assert extracted["checksum_verified"] is True
    assert extracted["sha256"] == detail["sha256"]
    assert extracted["image"]["width"] == 4000
    assert extracted["image"]["height"] == 3000
    assert [job["status"] for job in detail["jobs"]] == ["succeeded"]
    status = (await client.get(f"/upload/{detail['id']}/status", headers=user)).json()
    assert status == {
        "id": detail["id"],
        "status": "processed",
        "progress": 100,
        "message": "processed",
        "error": None,
    }

    result = (await client.get(f"/upload/{detail['id']}/result", headers=user)).json()
    assert set(result["variants"]) == VARIANTS
    expected = {
        "resized": ((1600, 1200), "JPEG"),
        "compressed": ((1600, 1200), "WEBP"),
        "compressed_jpeg": ((1600, 1200), "JPEG"),
        "thumbnail": ((256, 192), "JPEG"),
    }
    for name, ((width, height), fmt) in expected.items():
        variant = result["variants"][name]
        content = await fetch(client, app, variant["url"])
        decoded = Image.open(io.BytesIO(content))
        assert decoded.size == (width, height), name
        assert decoded.format == fmt, name
        assert (variant["width"], variant["height"], variant["bytes"]) == (
            width,
            height,
            len(content),
        )
    assert await fetch(client, app, result["original_url"]) == data


async def test_exif_orientation_is_applied_and_gps_is_stripped(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, user: dict[str, str]
) -> None:
    data = media.oriented_jpeg_with_gps()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)  # the input does carry GPS
    detail = await process(client, app, jobs, user, data, "phone.jpg")
    assert detail["status"] == "processed", detail
    assert (
        detail["extracted_data"]["image"]["width"],
        detail["extracted_data"]["image"]["height"],
    ) == (200, 400)
    result = (await client.get(f"/upload/{detail['id']}/result", headers=user)).json()
    for name in VARIANTS:
        image = Image.open(io.BytesIO(await fetch(client, app, result["variants"][name]["url"])))
        width, height = image.size
        assert height > width, name  # portrait once rotated
        exif = image.getexif()
        assert exif.get(0x0112, 1) == 1, name
        assert not exif.get_ifd(0x8825), name
        rgb = image.convert("RGB")
        top = rgb.getpixel((width // 2, height // 8))
        bottom = rgb.getpixel((width // 2, height * 7 // 8))
        assert isinstance(top, tuple)
        assert isinstance(bottom, tuple)
        assert (top[0] > 200, top[2] < 60) == (True, True), (name, top)  # red on top
        assert (bottom[2] > 200, bottom[0] < 60) == (True, True), (name, bottom)  # blue below


@pytest.mark.parametrize(
    ("name", "make", "fmt"),
    [
        ("a.png", lambda: media.png(2000, 1000, alpha=True), "PNG"),
        ("a.webp", lambda: media.encoded(2000, 1000, "WEBP"), "JPEG"),
        ("a.gif", lambda: media.animated_gif(2000, 1000), "JPEG"),
        ("a.tif", lambda: media.encoded(2000, 1000, "TIFF"), "JPEG"),
    ],
)
async def test_other_image_formats(
    client: httpx.AsyncClient,
    app: Any,
    jobs: Jobs,
    user: dict[str, str],
    name: str,
    make: Any,
    fmt: str,
) -> None:
    detail = await process(client, app, jobs, user, make(), name)
    assert detail["status"] == "processed", detail
    result = (await client.get(f"/upload/{detail['id']}/result", headers=user)).json()
    resized = Image.open(io.BytesIO(await fetch(client, app, result["variants"]["resized"]["url"])))
    assert resized.size == (1600, 800)
    assert resized.format == fmt
    thumb = Image.open(io.BytesIO(await fetch(client, app, result["variants"]["thumbnail"]["url"])))
    assert thumb.size == (256, 128)


async def test_small_images_are_not_upscaled(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, user: dict[str, str]
) -> None:
    detail = await process(client, app, jobs, user, media.jpeg(120, 90), "small.jpg")
    result = (await client.get(f"/upload/{detail['id']}/result", headers=user)).json()
    assert {v["width"] for v in result["variants"].values()} == {120}


@pytest.mark.parametrize(
    ("name", "make", "excerpt"),
    [
        ("notes.txt", lambda: "Bonjour, café crème.\n".encode("latin-1"), "Bonjour, café crème."),
        ("data.csv", lambda: b"name,qty\nrice,2\n", "name,qty\nrice,2"),
        ("doc.md", lambda: b"# Title\n\nSome *text*.\n", "# Title\n\nSome *text*."),
        ("data.json", lambda: b'{"a": [1, 2]}', '{"a": [1, 2]}'),
        ("paper.pdf", lambda: media.pdf("Hello from a PDF"), "Hello from a PDF"),
        ("letter.docx", lambda: media.docx("Dear Ada,\nThanks."), "Dear Ada,\nThanks."),
    ],
)
async def test_text_like_files_get_an_excerpt(
    client: httpx.AsyncClient,
    app: Any,
    jobs: Jobs,
    user: dict[str, str],
    name: str,
    make: Any,
    excerpt: str,
) -> None:
    detail = await process(client, app, jobs, user, make(), name)
    assert detail["status"] == "processed", detail
    assert detail["extracted_data"]["text"]["excerpt"] == excerpt
    result = (await client.get(f"/upload/{detail['id']}/result", headers=user)).json()
    assert result["variants"] == {}


async def test_a_long_text_excerpt_is_capped(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, user: dict[str, str]
) -> None:
    detail = await process(client, app, jobs, user, b"word " * 100_000, "long.txt")
    text = detail["extracted_data"]["text"]
    assert text["chars"] == 2000
    assert text["truncated"] is True


async def test_a_failed_file_can_be_retried(
    client: httpx.AsyncClient,
    app: Any,
    jobs: Jobs,
    user: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_files_env(app, monkeypatch, OJA_MAX_IMAGE_PIXELS="1000000")
    detail = await process(client, app, jobs, user, media.jpeg(2000, 1000), "big.jpg")
    assert detail["status"] == "failed"
    assert "over the limit of 1000000" in detail["error"]
    assert [job["status"] for job in detail["jobs"]] == ["failed"]
    assert "over the limit" in detail["jobs"][0]["last_error"]
    assert (await client.get(f"/upload/{detail['id']}/result", headers=user)).status_code == 409

    set_files_env(app, monkeypatch, OJA_MAX_IMAGE_PIXELS="50000000")
    retried = await client.post(f"/files/{detail['id']}/retry", headers=user)
    assert retried.status_code == 202
    assert retried.json()["status"] == "uploaded"
    assert retried.json()["error"] is None
    await jobs.run(app)
    after = (await client.get(f"/files/{detail['id']}", headers=user)).json()
    assert after["status"] == "processed"
    assert [job["status"] for job in after["jobs"]] == ["succeeded", "failed"]
    again = await client.post(f"/files/{detail['id']}/retry", headers=user)
    assert again.status_code == 409
    assert again.json()["error"]["details"]["status"] == "processed"


async def test_a_rerun_overwrites_the_same_variant_objects(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, user: dict[str, str]
) -> None:
    from sqlalchemy import update

    from oja.core.db import unit_of_work
    from oja.files.jobs import process_file
    from oja.files.models import File

    detail = await process(client, app, jobs, user, media.jpeg(800, 600), "a.jpg")
    keys = stored_keys(app)
    assert len(keys) == 5
    async with unit_of_work(app.state.runtime.database) as session:  # as a redelivery would
        await session.execute(update(File).values(status="uploaded"))
        process_file.enqueue(session, file_id=detail["id"])
    await jobs.run(app)
    assert stored_keys(app) == keys
    after = (await client.get(f"/files/{detail['id']}", headers=user)).json()
    assert after["status"] == "processed"


async def test_a_tampered_original_fails_the_checksum(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, user: dict[str, str]
) -> None:
    response = await upload(client, user, b"original bytes", "a.txt")
    key = [k for k in stored_keys(app) if k.endswith("/original")][0]

    async def other() -> Any:
        yield b"tampered bytes"

    await app.state.runtime.storage.put(key, other(), content_type="text/plain")
    await jobs.run(app)
    detail = (await client.get(f"/files/{response.json()['id']}", headers=user)).json()
    assert detail["status"] == "failed"
    assert detail["error"].startswith("checksum mismatch")


async def test_delete_removes_the_row_the_original_and_every_variant(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, user: dict[str, str]
) -> None:
    keep = await process(client, app, jobs, user, media.jpeg(300, 200), "keep.jpg")
    gone = await process(client, app, jobs, user, media.jpeg(300, 200), "gone.jpg")
    assert len(stored_keys(app)) == 10
    response = await client.delete(f"/files/{gone['id']}", headers=user)
    assert response.status_code == 204
    assert response.content == b""
    assert all(gone["id"] not in key for key in stored_keys(app))
    assert len(stored_keys(app)) == 5
    assert (await client.get(f"/files/{gone['id']}", headers=user)).status_code == 404
    assert (await client.delete(f"/files/{gone['id']}", headers=user)).status_code == 404
    listing = (await client.get("/files", headers=user)).json()
    assert [item["id"] for item in listing["items"]] == [keep["id"]]


async def killed_on_the_last_attempt(app: Any, file_id: str) -> None:
    """What a worker SIGKILLed mid-processing on the last attempt leaves: the file ``processing``
    (the pipeline's own short transaction), the job ``running``, every attempt used, lease gone."""
    async with app.state.runtime.database.sessionmaker() as session:
        await session.execute(
            update(File)
            .where(File.id == uuid.UUID(file_id))
            .values(status="processing", progress=50, message="rendering the image variants")
        )
        await session.execute(
            update(Job)
            .where(Job.subject_id == file_id)
            .values(
                status=JobStatus.running,
                attempts=PROCESS_MAX_ATTEMPTS,
                lease_expires_at=utcnow() - timedelta(minutes=1),
            )
        )
        await session.commit()


async def test_a_file_whose_worker_died_on_the_last_attempt_ends_failed_with_the_reason(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, user: dict[str, str]
) -> None:
    response = await upload(client, user, media.jpeg(300, 200), "lost.jpg")
    file_id = response.json()["id"]
    jobs.published.clear()  # delivered to a worker that then died
    await killed_on_the_last_attempt(app, file_id)

    assert await sweep(app.state.runtime) == {"republished": 0, "failed": 1}
    status = await client.get(f"/upload/{file_id}/status", headers=user)
    assert status.json() == {
        "id": file_id,
        "status": "failed",
        "progress": 0,
        "message": "processing failed",
        "error": LEASE_EXPIRED,
    }
    detail = (await client.get(f"/files/{file_id}", headers=user)).json()
    assert [(j["status"], j["attempts"], j["last_error"]) for j in detail["jobs"]] == [
        ("failed", PROCESS_MAX_ATTEMPTS, LEASE_EXPIRED)
    ]
    assert await sweep(app.state.runtime) == {"republished": 0, "failed": 0}
    assert jobs.published == []

    # The usual way out of ``failed`` works: retried, processed by the new job.
    retried = await client.post(f"/files/{file_id}/retry", headers=user)
    assert retried.status_code == 202
    assert await jobs.run(app) == ["succeeded"]
    after = (await client.get(f"/files/{file_id}", headers=user)).json()
    assert (after["status"], after["error"]) == ("processed", None)
    assert [j["status"] for j in after["jobs"]] == ["succeeded", "failed"]


async def test_a_late_failure_of_a_replaced_job_leaves_the_retried_file_alone(
    client: httpx.AsyncClient,
    app: Any,
    jobs: Jobs,
    user: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pipeline fails the file before the runner records the job's failure; a retry in between
    queues a new job, and the old job's hook must then change nothing."""
    set_files_env(app, monkeypatch, OJA_MAX_IMAGE_PIXELS="1000")
    detail = await process(client, app, jobs, user, media.jpeg(300, 200), "big.jpg")
    assert detail["status"] == "failed"
    [old_job] = detail["jobs"]
    assert (await client.post(f"/files/{detail['id']}/retry", headers=user)).status_code == 202
    runtime = app.state.runtime
    async with unit_of_work(runtime.database) as session:
        failure = JobFailure(
            job_id=uuid.UUID(old_job["id"]),
            kind="files.process",
            attempts=1,
            error="late",
            exception=None,
            session=session,
            runtime=runtime,
        )
        await process_file_failed(failure, uuid.UUID(detail["id"]))
    async with runtime.database.sessionmaker() as session:
        row = (
            await session.execute(select(File).where(File.id == uuid.UUID(detail["id"])))
        ).scalar_one()
    assert (row.status, row.error) == ("uploaded", None)
    assert failure.callbacks == []
