"""Helpers for files tests: users and keys through the identity API, jobs run in-process, raw
multipart bodies, S3 on a moto server, and a walk of what ended up on disk."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from oja.core.config import Settings
from oja.core.storage import LocalStorage
from oja.core.storage.s3 import S3Storage
from tests.conftest import Jobs, make_settings, set_env

PASSWORD = "correct horse battery"
BUCKET = "oja-files-test"
TEST_MAX_UPLOAD = 8 * 1024 * 1024
_emails = itertools.count()

FILES_ENV = {
    "OJA_MAX_UPLOAD_BYTES": str(TEST_MAX_UPLOAD),
    "OJA_UPLOAD_RATE": "1000/minute",
}


@pytest.fixture(autouse=True)
def files_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files settings from the environment, set per test before the app reads it."""
    set_env(monkeypatch, **FILES_ENV)


def set_files_env(app: Any, monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    set_env(monkeypatch, app, **values)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    client.close()
    yield endpoint
    server.stop()


def s3_overrides(endpoint: str) -> dict[str, Any]:
    return {
        "storage_url": f"s3://{BUCKET}/t-{uuid.uuid4().hex[:12]}",
        "s3_endpoint_url": endpoint,
        "s3_access_key_id": "testing",
        "s3_secret_access_key": "testing",
    }


def local_or_s3(request: pytest.FixtureRequest, tmp_path: Path, database_url: str) -> Settings:
    """The body of a ``settings`` fixture parametrised ``["local", "s3"]``: a test module that
    declares one runs each of its tests on the local folder and on S3 (moto)."""
    if request.param == "s3":
        endpoint = request.getfixturevalue("moto_endpoint")
        return make_settings(tmp_path, database_url, **s3_overrides(endpoint))
    return make_settings(tmp_path, database_url)


async def download(client: httpx.AsyncClient, app: Any, url: str) -> httpx.Response:
    """GET a signed URL as a browser would: the API serves local storage, S3 serves its own."""
    if isinstance(app.state.runtime.storage, LocalStorage):
        return await client.get(url.removeprefix(app.state.runtime.settings.app.public_url))
    async with httpx.AsyncClient() as outside:
        return await outside.get(url)


def stored_keys(app: Any) -> list[str]:
    """Every object key in the app's storage (local folder or S3 prefix), relative to its root."""
    storage = app.state.runtime.storage
    if isinstance(storage, S3Storage):
        prefix = storage.object_name("x")[:-1]
        client = boto3.client(
            "s3",
            endpoint_url=app.state.runtime.settings.storage.s3_endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        try:
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=storage.bucket, Prefix=prefix
            )
            keys = [o["Key"][len(prefix) :] for page in pages for o in page.get("Contents", [])]
        finally:
            client.close()
        return sorted(keys)
    root = Path(storage.root)
    if not root.exists():
        return []
    return sorted(
        str(Path(dirpath, name).relative_to(root))
        for dirpath, _, names in os.walk(root)
        for name in names
    )


def files_on_disk(top: Path) -> list[Path]:
    return sorted(Path(d, n) for d, _, names in os.walk(top) for n in names)


async def new_user(client: httpx.AsyncClient) -> dict[str, str]:
    """A fresh user; returns headers carrying its access token."""
    email = f"files{next(_emails)}-{uuid.uuid4().hex[:6]}@example.com"
    response = await client.post("/auth/signup", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    response = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def api_key(client: httpx.AsyncClient, user: dict[str, str], *scopes: str) -> dict[str, str]:
    response = await client.post(
        "/keys/create", json={"name": "files test", "scopes": list(scopes)}, headers=user
    )
    assert response.status_code == 201, response.text
    return {"X-API-Key": response.json()["key"]}


def multipart_body(
    parts: list[tuple[bytes, bytes | None, bytes | None, bytes]], boundary: bytes = b"oja-b0undary"
) -> tuple[bytes, dict[str, str]]:
    """A raw multipart body: ``(name, filename, content_type, data)`` per part, byte for byte as
    given (no escaping), so hostile file names reach the server unchanged."""
    out = bytearray()
    for name, filename, content_type, data in parts:
        out += b"--" + boundary + b"\r\n"
        disposition = b'Content-Disposition: form-data; name="' + name + b'"'
        if filename is not None:
            disposition += b'; filename="' + filename + b'"'
        out += disposition + b"\r\n"
        if content_type is not None:
            out += b"Content-Type: " + content_type + b"\r\n"
        out += b"\r\n" + data + b"\r\n"
    out += b"--" + boundary + b"--\r\n"
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary.decode()}"}
    return bytes(out), headers


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    data: bytes,
    filename: str = "file.bin",
    content_type: str = "application/octet-stream",
    **fields: str,
) -> httpx.Response:
    return await client.post(
        "/upload",
        files={"file": (filename, data, content_type)},
        data=fields or None,
        headers=headers,
    )


async def upload_and_process(
    client: httpx.AsyncClient,
    app: Any,
    jobs: Jobs,
    headers: dict[str, str],
    data: bytes,
    filename: str = "file.bin",
) -> dict[str, Any]:
    response = await upload(client, headers, data, filename)
    assert response.status_code == 201, response.text
    await jobs.run(app)
    detail = await client.get(f"/files/{response.json()['id']}", headers=headers)
    assert detail.status_code == 200, detail.text
    return dict(detail.json())


@pytest.fixture
async def user(client: httpx.AsyncClient) -> dict[str, str]:
    return await new_user(client)
