"""``GET /storage/{key}``: local signed URLs through the ASGI app; exact statuses and bodies."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from oja.core.errors import install_error_handlers
from oja.core.storage import LocalStorage, content_disposition
from oja.core.storage_endpoints import router

SIGNING_KEY = b"s" * 32
FORBIDDEN = {
    "error": {
        "code": "forbidden",
        "message": "This download link is not valid or has expired.",
        "details": None,
    }
}
NOT_FOUND = {"error": {"code": "not_found", "message": "No such object.", "details": None}}


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "storage", SIGNING_KEY, "http://testserver")


@pytest.fixture
async def client(storage: LocalStorage) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_error_handlers(app)
    app.state.storage = storage
    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def put(storage: LocalStorage, key: str, data: bytes) -> None:
    async def one() -> AsyncIterator[bytes]:
        yield data

    await storage.put(key, one(), content_type="application/octet-stream")


def with_params(url: str, **changes: str | None) -> httpx.URL:
    """The URL with query parameters replaced (or removed when None)."""
    parsed = httpx.URL(url)
    params = dict(parsed.params)
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    return parsed.copy_with(params=params)


async def test_signed_url_serves_the_object(
    storage: LocalStorage, client: httpx.AsyncClient
) -> None:
    await put(storage, "notes/today.txt", b"buy milk\n")
    url = await storage.signed_url("notes/today.txt", expires_in=60)

    response = await client.get(url)

    assert response.status_code == 200
    assert response.content == b"buy milk\n"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == "9"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-disposition" not in response.headers


async def test_url_has_the_documented_shape(storage: LocalStorage) -> None:
    before = int(time.time())
    url = httpx.URL(await storage.signed_url("a/b.png", expires_in=300))

    assert str(url).startswith("http://testserver/storage/a/b.png?expires=")
    assert url.path == "/storage/a/b.png"
    assert list(url.params) == ["expires", "sig"]
    assert before + 300 <= int(url.params["expires"]) <= int(time.time()) + 300
    assert len(url.params["sig"]) == 64
    int(url.params["sig"], 16)


async def test_filename_makes_an_attachment_of_the_safe_name(
    storage: LocalStorage, client: httpx.AsyncClient
) -> None:
    await put(storage, "f/1", b"%PDF-1.7")
    url = await storage.signed_url("f/1", expires_in=60, filename="../Résumé final.pdf")

    response = await client.get(url)

    assert response.status_code == 200
    assert response.content == b"%PDF-1.7"
    assert httpx.URL(url).params["filename"] == "Résumé final.pdf"
    assert response.headers["content-disposition"] == content_disposition("Résumé final.pdf")
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"R_sum_ final.pdf\"; filename*=UTF-8''R%C3%A9sum%C3%A9%20final.pdf"
    )
    assert response.headers["content-type"] == "application/octet-stream"


@pytest.mark.parametrize(
    ("key", "content_type"),
    [
        ("img/photo.jpg", "image/jpeg"),
        ("doc.pdf", "application/pdf"),
        ("data.json", "application/json"),
        ("no-suffix", "application/octet-stream"),
        ("archive.tar.gz", "application/octet-stream"),
        ("weird.zzzz", "application/octet-stream"),
    ],
)
async def test_content_type_comes_from_the_suffix(
    storage: LocalStorage, client: httpx.AsyncClient, key: str, content_type: str
) -> None:
    await put(storage, key, b"bytes")
    response = await client.get(await storage.signed_url(key, expires_in=60))

    assert response.status_code == 200
    assert response.headers["content-type"] == content_type


@pytest.mark.parametrize("key", ["page.html", "icon.svg", "feed.xml", "app.js"])
async def test_active_content_is_always_downloaded(
    storage: LocalStorage, client: httpx.AsyncClient, key: str
) -> None:
    await put(storage, key, b"<script>alert(1)</script>")
    response = await client.get(await storage.signed_url(key, expires_in=60))

    assert response.status_code == 200
    assert response.headers["content-disposition"] == content_disposition(key)
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_range_requests_are_honoured(
    storage: LocalStorage, client: httpx.AsyncClient
) -> None:
    await put(storage, "v.mp4", bytes(range(256)))
    url = await storage.signed_url("v.mp4", expires_in=60)

    response = await client.get(url, headers={"Range": "bytes=10-19"})

    assert response.status_code == 206
    assert response.content == bytes(range(10, 20))
    assert response.headers["content-range"] == "bytes 10-19/256"


async def test_expired_url_is_forbidden(
    storage: LocalStorage, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await put(storage, "old.txt", b"old")
    an_hour_ago = time.time() - 3600
    with monkeypatch.context() as patch:
        # Only the storage module's clock moves: the URL is signed an hour in the past.
        patch.setattr("oja.core.storage.local.time", SimpleNamespace(time=lambda: an_hour_ago))
        url = await storage.signed_url("old.txt", expires_in=60)

    response = await client.get(url)

    assert response.status_code == 403
    assert response.json() == FORBIDDEN


async def test_url_expires_after_its_lifetime(storage: LocalStorage) -> None:
    await put(storage, "brief.txt", b"x")
    url = with_params(await storage.signed_url("brief.txt", expires_in=1))
    expires = url.params["expires"]
    sig = url.params["sig"]

    assert storage.verify("brief.txt", expires=expires, sig=sig, filename=None, now=int(expires))
    assert not storage.verify(
        "brief.txt", expires=expires, sig=sig, filename=None, now=int(expires) + 1
    )


async def test_tampered_signature_is_forbidden(
    storage: LocalStorage, client: httpx.AsyncClient
) -> None:
    await put(storage, "k.txt", b"secret")
    url = await storage.signed_url("k.txt", expires_in=60)
    sig = httpx.URL(url).params["sig"]
    flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")

    response = await client.get(with_params(url, sig=flipped))

    assert response.status_code == 403
    assert response.json() == FORBIDDEN


async def test_tampered_key_is_forbidden(storage: LocalStorage, client: httpx.AsyncClient) -> None:
    await put(storage, "mine.txt", b"mine")
    await put(storage, "yours.txt", b"yours")
    url = httpx.URL(await storage.signed_url("mine.txt", expires_in=60))

    response = await client.get(url.copy_with(path="/storage/yours.txt"))

    assert response.status_code == 403
    assert response.json() == FORBIDDEN


async def test_extended_expiry_is_forbidden(
    storage: LocalStorage, client: httpx.AsyncClient
) -> None:
    await put(storage, "k.txt", b"x")
    url = await storage.signed_url("k.txt", expires_in=60)
    later = str(int(httpx.URL(url).params["expires"]) + 86400)

    response = await client.get(with_params(url, expires=later))

    assert response.status_code == 403


@pytest.mark.parametrize(
    "changes",
    [
        {"filename": "other.exe"},  # renamed download
        {"filename": None},  # name dropped
        {"sig": None},
        {"expires": None},
        {"expires": "soon"},
        {"expires": "-1"},
        {"sig": "é" * 64},  # non-ASCII must be a 403, not a comparison error
        {"sig": ""},
    ],
    ids=["renamed", "unnamed", "no-sig", "no-expires", "word", "negative", "non-ascii", "empty"],
)
async def test_altered_or_missing_parameters_are_forbidden(
    storage: LocalStorage, client: httpx.AsyncClient, changes: dict[str, str | None]
) -> None:
    await put(storage, "k.bin", b"x")
    url = await storage.signed_url("k.bin", expires_in=60, filename="k.bin")

    response = await client.get(with_params(url, **changes))

    assert response.status_code == 403
    assert response.json() == FORBIDDEN


async def test_a_filename_added_to_an_unnamed_url_is_forbidden(
    storage: LocalStorage, client: httpx.AsyncClient
) -> None:
    await put(storage, "k.bin", b"x")
    url = await storage.signed_url("k.bin", expires_in=60)

    response = await client.get(with_params(url, filename="evil.html"))

    assert response.status_code == 403


async def test_missing_object_is_not_found(
    storage: LocalStorage, client: httpx.AsyncClient
) -> None:
    url = await storage.signed_url("gone.txt", expires_in=60)

    response = await client.get(url)

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


async def test_deleted_object_is_not_found(
    storage: LocalStorage, client: httpx.AsyncClient
) -> None:
    await put(storage, "tmp.txt", b"x")
    url = await storage.signed_url("tmp.txt", expires_in=60)
    await storage.delete("tmp.txt")

    response = await client.get(url)

    assert response.status_code == 404


async def test_a_validly_signed_traversal_key_still_reads_nothing(
    storage: LocalStorage, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    # As if the signing key had leaked: the key rules still keep reads inside the root.
    (tmp_path / "secret.txt").write_bytes(b"outside the root")
    key = "../secret.txt"
    expires = int(time.time()) + 60
    sig = storage._sign(key, expires, None)

    response = await client.get(
        "/storage/..%2Fsecret.txt", params={"expires": str(expires), "sig": sig}
    )

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


async def test_a_directory_is_not_served(storage: LocalStorage, client: httpx.AsyncClient) -> None:
    await put(storage, "dir/file", b"x")

    response = await client.get(await storage.signed_url("dir", expires_in=60))

    assert response.status_code == 404


async def test_route_answers_404_when_storage_is_not_local(tmp_path: Path) -> None:
    app = FastAPI()
    install_error_handlers(app)
    app.state.storage = object()  # e.g. S3Storage, whose signed URLs point at S3
    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/storage/a.txt", params={"expires": "1", "sig": "0"})

    assert response.status_code == 404
    assert response.json() == NOT_FOUND
