"""Local signed URLs built directly and reused within their second (issue 25) are exactly the
ones the generic encoding builds, and verify."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from oja.core.storage import local
from oja.core.storage.local import LocalStorage

KEY = b"k" * 32


def _expected(storage: LocalStorage, key: str, expires: int, filename: str | None) -> str:
    query = {"expires": str(expires), "sig": storage._sign(key, expires, filename)}
    if filename is not None:
        query["filename"] = filename
    return f"http://files.test/storage/{key}?{urlencode(query)}"


@pytest.mark.parametrize(
    ("key", "filename"),
    [("a/b.webp", None), ("x-1_2/Y.z", "My file é.pdf"), ("k", ""), ("p/q", 'a"b.txt')],
)
async def test_a_signed_url_is_the_generic_encoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str, filename: str | None
) -> None:
    storage = LocalStorage(tmp_path, KEY, "http://files.test/")
    monkeypatch.setattr(local.time, "time", lambda: 1_000.25)
    url = await storage.signed_url(key, expires_in=60, filename=filename)
    name = None if filename is None else local.safe_filename(filename)
    assert url == _expected(storage, key, 1_060, name)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}
    assert storage.verify(
        key, expires=query["expires"], sig=query["sig"], filename=query.get("filename"), now=1_000
    )


async def test_a_url_is_reused_within_its_second_and_renewed_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = LocalStorage(tmp_path, KEY, "http://files.test")
    now = [1_000.1]
    monkeypatch.setattr(local.time, "time", lambda: now[0])
    first = await storage.signed_url("a/b", expires_in=60)
    now[0] = 1_000.9
    assert await storage.signed_url("a/b", expires_in=60) == first
    assert await storage.signed_url("a/b", expires_in=60, filename="x") != first
    now[0] = 1_001.0
    later = await storage.signed_url("a/b", expires_in=60)
    assert later == _expected(storage, "a/b", 1_061, None)
    assert later != first
