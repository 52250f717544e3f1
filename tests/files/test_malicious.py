"""A corpus of hostile uploads: traversal and control-character names, lying types, empty and
oversized files, decompression bombs, pixel floods, scripts, truncations, archive bombs.

Whatever arrives: no answer is a 5xx, nothing lands outside the storage root, every bad image or
document ends ``failed`` with a reason, and the job runner keeps working afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from oja.core.config import Settings
from oja.core.storage import LocalStorage
from tests.conftest import Jobs
from tests.files import media
from tests.files.conftest import (
    TEST_MAX_UPLOAD,
    files_on_disk,
    local_or_s3,
    multipart_body,
    stored_keys,
)

JPEG = media.jpeg(600, 400)
FAILS = "failed"
OK = "processed"

# (label, raw file name, declared type, bytes, expected HTTP status, expected final file status)
Case = tuple[str, bytes, bytes | None, Callable[[], bytes], int, str | None]
CORPUS: list[Case] = [
    ("unix traversal", b"../../x", None, lambda: b"owned", 201, OK),
    ("windows traversal", b"..\\..\\x", None, lambda: b"owned", 201, OK),
    ("absolute path", b"/etc/passwd", None, lambda: b"root:x:0:0::/root:/bin/sh\n", 201, OK),
    ("drive path", b"C:\\Windows\\x.dll", None, lambda: b"MZ\x90\x00" + b"\x00" * 60, 201, OK),
    ("NUL in name", b"evil\x00.jpg", b"image/jpeg", lambda: b"not an image", 201, OK),
    ("300-char name", b"a" * 300 + b".txt", None, lambda: b"long", 201, OK),
    ("unicode name", "résumé-简历-🙂.txt".encode(), None, lambda: b"hi", 201, OK),
    ("unicode 300", ("é" * 300 + ".txt").encode(), None, lambda: b"hi", 201, OK),
    ("bidi override", "\u202egnp.exe".encode(), None, lambda: b"hi", 201, OK),
    (
        "double extension",
        b"x.jpg.php",
        b"image/jpeg",
        lambda: b"<?php system($_GET['c']); ?>",
        201,
        OK,
    ),
    ("png that is text", b"photo.png", b"image/png", lambda: b"plain text, not a PNG\n", 201, OK),
    ("url-encoded traversal", b"%2e%2e%2f%2e%2e%2fx", None, lambda: b"x", 201, OK),
    ("dots only", b"....", None, lambda: b"x", 201, OK),
    ("htaccess", b".htaccess", None, lambda: b"Options +ExecCGI\n", 201, OK),
    ("reserved device name", b"CON", None, lambda: b"x", 201, OK),
    ("quote in name", b'a\\"b.txt', None, lambda: b"x", 201, OK),
    ("empty file", b"empty.txt", None, lambda: b"", 422, None),
    ("oversize by one byte", b"big.bin", None, lambda: b"\x00" * (TEST_MAX_UPLOAD + 1), 413, None),
    (
        "PNG declaring 20000x20000",
        b"bomb.png",
        None,
        lambda: media.png_header_only(20000, 20000),
        201,
        FAILS,
    ),
    (
        "real PNG bomb 10000x10000",
        b"bomb2.png",
        None,
        lambda: media.png_bomb(10000, 10000),
        201,
        FAILS,
    ),
    ("pixel-flood GIF", b"flood.gif", None, media.gif_pixel_flood, 201, FAILS),
    (
        "SVG with script",
        b"x.svg",
        b"image/svg+xml",
        lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        201,
        OK,
    ),
    (
        "HTML as JPEG",
        b"x.jpg",
        b"image/jpeg",
        lambda: b"<html><script>alert(1)</script></html>",
        201,
        OK,
    ),
    ("truncated JPEG header", b"t1.jpg", None, lambda: JPEG[:300], 201, FAILS),
    ("truncated JPEG data", b"t2.jpg", None, lambda: JPEG[: len(JPEG) * 2 // 3], 201, FAILS),
    (
        "PNG signature, garbage",
        b"g.png",
        None,
        lambda: b"\x89PNG\r\n\x1a\n" + b"\xde\xad" * 500,
        201,
        OK,
    ),
    ("PNG with corrupt pixel data", b"c.png", None, lambda: media.png_corrupt(64, 64), 201, FAILS),
    ("GIF/PHP polyglot", b"poly.gif", None, lambda: b"GIF89a<?php system('id'); ?>", 201, FAILS),
    ("broken PDF", b"x.pdf", None, lambda: b"%PDF-1.7\n" + b"\x00garbage" * 100, 201, FAILS),
    ("DOCX zip bomb", b"bomb.docx", None, media.docx_bomb, 201, FAILS),
    ("zip-bomb-ish text", b"aaaa.txt", None, lambda: b"A" * (6 * 1024 * 1024), 201, OK),
    (
        "ELF declared as PNG",
        b"a.png",
        b"image/png",
        lambda: b"\x7fELF\x02\x01\x01" + b"\x00" * 100,
        201,
        OK,
    ),
    ("NUL bytes only", b"zeros.bin", None, lambda: b"\x00" * 4096, 201, OK),
    ("valid image still works", b"good.jpg", None, lambda: JPEG, 201, OK),
]


@pytest.fixture(params=["local", "s3"])
def settings(request: pytest.FixtureRequest, tmp_path: Path, database_url: str) -> Settings:
    return local_or_s3(request, tmp_path, database_url)


async def test_the_malicious_corpus(
    client: httpx.AsyncClient, app: Any, jobs: Jobs, user: dict[str, str], tmp_path: Path
) -> None:
    assert len(CORPUS) >= 30
    me = (await client.get("/user/me", headers=user)).json()["id"]
    outcomes: dict[str, str] = {}
    for label, name, declared, make, http_status, final in CORPUS:
        body, headers = multipart_body([(b"file", name, declared, make())])
        response = await client.post("/upload", content=body, headers={**headers, **user})
        assert response.status_code < 500, (label, response.text)
        assert response.status_code == http_status, (label, response.text)
        if http_status != 201:
            continue
        created = response.json()
        assert "/" not in created["filename"], label
        assert "\\" not in created["filename"], label
        assert "\x00" not in created["filename"], label
        assert len(created["filename"]) <= 200, label
        await jobs.run(app)
        detail = (await client.get(f"/files/{created['id']}", headers=user)).json()
        outcomes[label] = detail["status"]
        assert detail["status"] == final, (label, detail)
        if final == FAILS:
            assert detail["error"], label
            assert detail["jobs"][0]["status"] == "failed", label

    # Requests that are not even well-formed uploads.
    weird = [
        (
            b'--x\r\nContent-Disposition: form-data; name="file"\r\n\r\nno end',
            "multipart/form-data; boundary=x",
        ),
        (b"garbage", "multipart/form-data; boundary=" + "b" * 100),
        (b"", "multipart/form-data"),
        (b"file=abc", "application/x-www-form-urlencoded"),
    ]
    for raw, content_type in weird:
        response = await client.post(
            "/upload", content=raw, headers={**user, "Content-Type": content_type}
        )
        assert 400 <= response.status_code < 500, (raw, response.text)

    # Every object sits under files/<owner>/<file id>/; nothing else was written anywhere.
    keys = stored_keys(app)
    for key in keys:
        parts = key.split("/")
        assert parts[:2] == ["files", me], key
        uuid.UUID(parts[2])
        assert parts[3] == "original" or parts[3] == "variants", key
    storage = app.state.runtime.storage
    allowed_roots = [tmp_path / "var" / "storage"] if isinstance(storage, LocalStorage) else []
    for path in files_on_disk(tmp_path):
        if any(path.is_relative_to(root) for root in allowed_roots):
            continue
        assert path.name.startswith(("oja.db", "secret_key")), path
    assert not [p for p in files_on_disk(tmp_path) if ".~" in p.name]  # no temporary leftovers

    # The runner still works afterwards.
    body, headers = multipart_body([(b"file", b"after.jpg", None, media.jpeg(2000, 1500))])
    response = await client.post("/upload", content=body, headers={**headers, **user})
    assert await jobs.run(app) == ["succeeded"]
    detail = (await client.get(f"/files/{response.json()['id']}", headers=user)).json()
    assert detail["status"] == "processed"
