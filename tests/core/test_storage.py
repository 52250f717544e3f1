"""The storage port, one suite run on the local folder and on S3 (a real moto server)."""

from __future__ import annotations

import asyncio
import hashlib
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from oja.core.config import Settings
from oja.core.storage import (
    InvalidKey,
    LocalStorage,
    ObjectNotFound,
    Storage,
    StoredObject,
    content_disposition,
    create_storage,
    local,
    safe_filename,
    signing_key,
    validate_key,
)
from oja.core.storage.base import READ_CHUNK_SIZE
from oja.core.storage.s3 import S3Storage

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

BUCKET = "oja-test"
SIGNING_KEY = b"k" * 32
CHUNK = 64 * 1024
MIB = 1024 * 1024


def s3_client_for(endpoint: str) -> S3Client:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = s3_client_for(endpoint)
    client.create_bucket(Bucket=BUCKET)
    client.close()
    yield endpoint
    server.stop()


@pytest.fixture(scope="module")
def s3_client(moto_endpoint: str) -> Iterator[S3Client]:
    client = s3_client_for(moto_endpoint)
    yield client
    client.close()


def make_s3(endpoint: str, bucket: str = BUCKET) -> S3Storage:
    return S3Storage(
        bucket,
        f"t-{uuid.uuid4().hex}",
        endpoint_url=endpoint,
        region="us-east-1",
        access_key_id="testing",
        secret_access_key="testing",
    )


@pytest.fixture(params=["local", "s3"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    store: Storage
    if request.param == "local":
        store = LocalStorage(tmp_path / "storage", SIGNING_KEY, "http://testserver")
    else:
        store = make_s3(request.getfixturevalue("moto_endpoint"))
    yield store
    await store.close()


def leftovers(store: Storage, tmp_path: Path, request: pytest.FixtureRequest) -> list[str]:
    """Everything the store holds: files anywhere under tmp_path (local, so also outside the root),
    or objects and multipart uploads under the store's prefix (S3)."""
    if isinstance(store, LocalStorage):
        return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert isinstance(store, S3Storage)
    client: S3Client = request.getfixturevalue("s3_client")
    prefix = store.object_name("x")[:-1]
    objects = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    uploads = client.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix).get("Uploads", [])
    return sorted([f"object:{o['Key']}" for o in objects] + [f"upload:{u['Key']}" for u in uploads])


async def chunks_of(data: bytes, size: int = CHUNK) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def read_all(store: Storage, key: str) -> bytes:
    return b"".join([chunk async for chunk in store.open(key)])


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- round trips ------------------------------------------------------------------------------


async def test_round_trip_returns_size_and_sha256(storage: Storage) -> None:
    data = b"hello, " * 1000 + b"world"
    stored = await storage.put("docs/a/hello.txt", chunks_of(data, 333), content_type="text/plain")

    assert stored == StoredObject(key="docs/a/hello.txt", size=len(data), sha256=sha256(data))
    assert await read_all(storage, "docs/a/hello.txt") == data
    assert await storage.exists("docs/a/hello.txt") is True
    assert await storage.size("docs/a/hello.txt") == len(data)


async def test_an_awaitable_content_type_is_awaited_only_by_an_adapter_that_keeps_it(
    storage: Storage, request: pytest.FixtureRequest
) -> None:
    """S3 sends the type with the object, so it awaits the awaitable before its first request;
    the local adapter keeps no type and never awaits it (the files service sniffs meanwhile)."""
    awaited: list[str] = []

    class LateType:
        def __await__(self) -> Any:
            async def resolve() -> str:
                awaited.append("image/png")
                return "image/png"

            return resolve().__await__()

    data = b"\x89PNG" + b"x" * 5000
    stored = await storage.put("late/type.png", chunks_of(data, 1000), content_type=LateType())
    assert stored == StoredObject(key="late/type.png", size=len(data), sha256=sha256(data))
    if isinstance(storage, S3Storage):
        client: S3Client = request.getfixturevalue("s3_client")
        head = client.head_object(Bucket=BUCKET, Key=storage.object_name("late/type.png"))
        assert head["ContentType"] == "image/png"
        assert awaited == ["image/png"]
    else:
        assert awaited == []


async def test_empty_object(storage: Storage) -> None:
    stored = await storage.put("empty.bin", chunks_of(b""), content_type="application/x-empty")

    assert stored == StoredObject(key="empty.bin", size=0, sha256=sha256(b""))
    assert await read_all(storage, "empty.bin") == b""
    assert await storage.size("empty.bin") == 0


async def test_open_streams_in_bounded_chunks(storage: Storage) -> None:
    data = random.Random(1).randbytes(MIB + 17)
    await storage.put("blob", chunks_of(data), content_type="application/octet-stream")

    sizes = [len(chunk) async for chunk in storage.open("blob")]

    assert sum(sizes) == len(data)
    assert len(sizes) > 1
    assert max(sizes) <= READ_CHUNK_SIZE


async def test_put_replaces_existing_object(storage: Storage) -> None:
    await storage.put("k", chunks_of(b"first version"), content_type="text/plain")
    stored = await storage.put("k", chunks_of(b"second"), content_type="text/plain")

    assert stored.size == 6
    assert await read_all(storage, "k") == b"second"


async def test_streamed_put_of_20_mib(
    storage: Storage, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expected = hashlib.sha256()
    produced = 0

    async def producer() -> AsyncIterator[bytes]:
        nonlocal produced
        rng = random.Random(20)
        for _ in range(20 * MIB // CHUNK):
            chunk = rng.randbytes(CHUNK)
            expected.update(chunk)
            produced += len(chunk)
            yield chunk

    stored = await storage.put("big/video.mp4", producer(), content_type="video/mp4")

    assert produced == 20 * MIB
    assert stored == StoredObject("big/video.mp4", 20 * MIB, expected.hexdigest())
    read_back = hashlib.sha256()
    async for chunk in storage.open("big/video.mp4"):
        read_back.update(chunk)
    assert read_back.hexdigest() == expected.hexdigest()
    assert await storage.size("big/video.mp4") == 20 * MIB
    if isinstance(storage, S3Storage):
        client: S3Client = request.getfixturevalue("s3_client")
        head = client.head_object(Bucket=BUCKET, Key=storage.object_name("big/video.mp4"))
        assert head["ETag"].endswith('-3"')  # a multipart upload of 8 + 8 + 4 MiB
        assert head["ContentType"] == "video/mp4"
        assert leftovers(storage, tmp_path, request) == [
            f"object:{storage.object_name('big/video.mp4')}"
        ]
    else:
        assert leftovers(storage, tmp_path, request) == ["storage/big/video.mp4"]


@pytest.mark.parametrize("chunk", [1000, CHUNK, 300 * 1024, 3 * MIB], ids=str)
async def test_size_and_hash_whatever_the_chunks(storage: Storage, chunk: int) -> None:
    data = random.Random(chunk).randbytes(3 * MIB + 12345)
    stored = await storage.put(
        "batches/blob.bin", chunks_of(data, chunk), content_type="application/x-blob"
    )

    assert stored == StoredObject("batches/blob.bin", len(data), sha256(data))
    assert await read_all(storage, "batches/blob.bin") == data


@pytest.mark.parametrize(
    ("size", "hops"),
    [(0, 1), (1, 1), (MIB, 1), (MIB + 1, 2), (2 * MIB, 2), (2 * MIB + 1, 3)],
    ids=str,
)
async def test_local_put_hops_to_a_thread_once_per_buffer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int, hops: int
) -> None:
    # The temporary file is created by the first buffer's hop and the last buffer is written in
    # the same hop as the fsync and rename: a 1 MiB upload costs one hop (create, write, hash,
    # fsync, rename, fsync the directory).
    store = LocalStorage(tmp_path / "storage", SIGNING_KEY, "http://testserver")
    calls = count_hops(monkeypatch)
    data = b"\x05" * size
    stored = await store.put("hops.bin", chunks_of(data), content_type="application/x-blob")

    assert stored == StoredObject("hops.bin", size, sha256(data))
    assert calls == ["_write"] * (hops - 1) + ["_commit"]
    assert await read_all(store, "hops.bin") == data


def count_hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = local.run_blocking

    async def counted(fn: Any, /, *args: Any) -> Any:
        calls.append(getattr(fn, "__name__", "?"))
        return await real(fn, *args)

    monkeypatch.setattr(local, "run_blocking", counted)
    return calls


# --- while_syncing: the caller's work alongside the durable commit ----------------------------


async def test_while_syncing_gets_the_stored_object_before_the_put_returns(
    storage: Storage, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    data = random.Random(7).randbytes(MIB + 5)
    seen: list[StoredObject] = []

    async def work(stored: StoredObject) -> None:
        await asyncio.sleep(0)
        seen.append(stored)

    stored = await storage.put(
        "synced/blob.bin", chunks_of(data), content_type="application/x-blob", while_syncing=work
    )

    assert seen == [stored] == [StoredObject("synced/blob.bin", len(data), sha256(data))]
    assert await read_all(storage, "synced/blob.bin") == data
    assert len(leftovers(storage, tmp_path, request)) == 1


async def test_local_while_syncing_runs_while_the_fsyncs_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The last buffer is written and hashed in one hop; the fsyncs and the rename in a second,
    # started before the caller's work and awaited after it.
    store = LocalStorage(tmp_path / "storage", SIGNING_KEY, "http://testserver")
    calls = count_hops(monkeypatch)
    order: list[str] = []

    async def work(stored: StoredObject) -> None:
        order.append(f"work after {calls}")

    await store.put("s.bin", chunks_of(b"x" * 10), content_type="x/y", while_syncing=work)

    assert order == ["work after ['_write', '_sync']"]
    assert calls == ["_write", "_sync"]


async def test_while_syncing_that_raises_leaves_no_object(
    storage: Storage, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    async def work(stored: StoredObject) -> None:
        raise RuntimeError("the row could not be added")

    with pytest.raises(RuntimeError, match="the row could not be added"):
        await storage.put(
            "refused.bin", chunks_of(b"r" * 1000), content_type="x/y", while_syncing=work
        )

    assert await storage.exists("refused.bin") is False
    assert leftovers(storage, tmp_path, request) == []


async def test_while_syncing_cancelled_leaves_no_object(
    storage: Storage, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    started = asyncio.Event()

    async def work(stored: StoredObject) -> None:
        started.set()
        await asyncio.Event().wait()  # a database that never answers

    task = asyncio.create_task(
        storage.put("stuck.bin", chunks_of(b"s" * 1000), content_type="x/y", while_syncing=work)
    )
    await asyncio.wait_for(started.wait(), timeout=30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert await storage.exists("stuck.bin") is False
    assert leftovers(storage, tmp_path, request) == []


async def test_small_object_is_a_single_put_on_s3(moto_endpoint: str, s3_client: S3Client) -> None:
    store = make_s3(moto_endpoint)
    data = b"x" * (8 * MIB - 1)
    await store.put("almost-a-part", chunks_of(data), content_type="application/octet-stream")
    head = s3_client.head_object(Bucket=BUCKET, Key=store.object_name("almost-a-part"))
    await store.close()

    assert "-" not in head["ETag"]  # not a multipart ETag
    assert head["ContentLength"] == len(data)


# --- failures leave nothing -------------------------------------------------------------------


async def test_failing_producer_leaves_nothing(
    storage: Storage, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    async def producer() -> AsyncIterator[bytes]:
        for _ in range(10 * MIB // CHUNK):  # past the first 8 MiB part: S3 has started a multipart
            yield b"\x01" * CHUNK
        raise RuntimeError("producer broke")

    with pytest.raises(RuntimeError, match="producer broke"):
        await storage.put("half/written.bin", producer(), content_type="application/octet-stream")

    assert await storage.exists("half/written.bin") is False
    assert leftovers(storage, tmp_path, request) == []


async def test_failing_put_keeps_the_previous_object(storage: Storage) -> None:
    await storage.put("report.pdf", chunks_of(b"version 1"), content_type="application/pdf")

    async def producer() -> AsyncIterator[bytes]:
        yield b"version 2, partial"
        raise RuntimeError("producer broke")

    with pytest.raises(RuntimeError):
        await storage.put("report.pdf", producer(), content_type="application/pdf")

    assert await read_all(storage, "report.pdf") == b"version 1"


async def test_cancelled_put_leaves_nothing(
    storage: Storage, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    halfway = asyncio.Event()

    async def producer() -> AsyncIterator[bytes]:
        for _ in range(9 * MIB // CHUNK):
            yield b"\x02" * CHUNK
        halfway.set()
        await asyncio.Event().wait()  # a client that stalls forever
        yield b"never"

    task = asyncio.create_task(
        storage.put("stalled.bin", producer(), content_type="application/octet-stream")
    )
    await asyncio.wait_for(halfway.wait(), timeout=30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert await storage.exists("stalled.bin") is False
    assert leftovers(storage, tmp_path, request) == []


# --- keys -------------------------------------------------------------------------------------

BAD_KEYS = [
    "../x",
    "/etc/passwd",
    "a/../../b",
    "a\\b",
    "a\x00b",
    "",
    "a" * 600,
    "a/" + "b" * 256,
    "a//b",
    "a/",
    "./a",
    "a/./b",
    "..",
    "a b",
    "café",
    "a/~tmp",
]


@pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
async def test_bad_keys_are_rejected_and_touch_nothing(
    storage: Storage, key: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    consumed = False

    async def producer() -> AsyncIterator[bytes]:
        nonlocal consumed
        consumed = True
        yield b"payload"

    with pytest.raises(InvalidKey):
        await storage.put(key, producer(), content_type="text/plain")
    with pytest.raises(InvalidKey):
        storage.open(key)
    with pytest.raises(InvalidKey):
        await storage.exists(key)
    with pytest.raises(InvalidKey):
        await storage.size(key)
    with pytest.raises(InvalidKey):
        await storage.delete(key)
    with pytest.raises(InvalidKey):
        await storage.signed_url(key, expires_in=60)

    assert consumed is False
    assert leftovers(storage, tmp_path, request) == []
    if isinstance(storage, LocalStorage):
        assert list(tmp_path.iterdir()) == []  # not even the root was created


def test_invalid_key_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        validate_key("../x")


@pytest.mark.parametrize(
    "key",
    [
        "a",
        "A-Z_a.z-0.9",
        "users/42/files/7f3a/original.jpg",
        ".hidden",
        "k" * 254 + "/" + "v" * 255 + "/w",  # 512 characters, the longest key
    ],
    ids=["short", "charset", "nested", "dotfile", "longest"],
)
async def test_good_keys_round_trip(storage: Storage, key: str) -> None:
    assert validate_key(key) == key
    await storage.put(key, chunks_of(b"ok"), content_type="text/plain")
    assert await read_all(storage, key) == b"ok"


async def test_local_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "storage"
    root.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    (outside / "secret").write_bytes(b"secret")
    store = LocalStorage(root, SIGNING_KEY, "http://testserver")

    with pytest.raises(InvalidKey):
        await store.put("link/new", chunks_of(b"x"), content_type="text/plain")
    with pytest.raises(InvalidKey):
        await read_all(store, "link/secret")
    with pytest.raises(InvalidKey):
        await store.delete("link/secret")

    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_bytes() == b"secret"


# --- missing objects and delete ---------------------------------------------------------------


async def test_missing_object(storage: Storage) -> None:
    assert await storage.exists("nope") is False
    with pytest.raises(ObjectNotFound):
        await storage.size("nope")
    with pytest.raises(ObjectNotFound):
        await read_all(storage, "nope")


async def test_delete_is_idempotent(storage: Storage) -> None:
    await storage.put("doomed.txt", chunks_of(b"bye"), content_type="text/plain")

    await storage.delete("doomed.txt")
    await storage.delete("doomed.txt")
    await storage.delete("never/existed.txt")

    assert await storage.exists("doomed.txt") is False
    with pytest.raises(ObjectNotFound):
        await read_all(storage, "doomed.txt")


async def test_a_prefix_of_other_keys_is_not_an_object(storage: Storage) -> None:
    await storage.put("dir/child", chunks_of(b"c"), content_type="text/plain")

    assert await storage.exists("dir") is False
    with pytest.raises(ObjectNotFound):
        await storage.size("dir")
    with pytest.raises(ObjectNotFound):
        await read_all(storage, "dir")
    await storage.delete("dir")
    assert await read_all(storage, "dir/child") == b"c"


# --- readiness --------------------------------------------------------------------------------


async def test_check_passes_when_usable(storage: Storage) -> None:
    await storage.check()


async def test_local_check_fails_when_the_root_is_unusable(tmp_path: Path) -> None:
    (tmp_path / "storage").write_bytes(b"a file where the folder should be")
    store = LocalStorage(tmp_path / "storage", SIGNING_KEY, "http://testserver")
    with pytest.raises(OSError):
        await store.check()


async def test_s3_check_fails_without_the_bucket(moto_endpoint: str) -> None:
    store = make_s3(moto_endpoint, bucket="no-such-bucket")
    with pytest.raises(ClientError):
        await store.check()
    await store.close()


# --- signed URLs on S3 (the local ones are tested through the endpoint) ----------------------


async def test_s3_presigned_url_serves_the_bytes(moto_endpoint: str) -> None:
    store = make_s3(moto_endpoint)
    data = random.Random(3).randbytes(100_000)
    await store.put("media/clip.bin", chunks_of(data), content_type="application/x-clip")
    plain = await store.signed_url("media/clip.bin", expires_in=60)
    named = await store.signed_url("media/clip.bin", expires_in=60, filename="My clip.bin")
    await store.close()

    async with httpx.AsyncClient() as http:
        response = await http.get(plain)
        named_response = await http.get(named)

    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "application/x-clip"
    assert named_response.status_code == 200
    assert named_response.content == data
    assert named_response.headers["content-disposition"] == content_disposition("My clip.bin")


async def test_signed_url_rejects_a_non_positive_lifetime(storage: Storage) -> None:
    with pytest.raises(ValueError):
        await storage.signed_url("k", expires_in=0)


# --- download names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\cv.docx", "cv.docx"),
        ('a"b;c.txt', "abc.txt"),
        ("line\r\nX-Injected: 1", "lineX-Injected 1"),
        ("", "download"),
        ("...", "download"),
        ("résumé.pdf", "résumé.pdf"),
    ],
)
def test_safe_filename(given: str, safe: str) -> None:
    assert safe_filename(given) == safe


def test_content_disposition_has_an_ascii_fallback_and_the_utf8_name() -> None:
    assert content_disposition("résumé 2024.pdf") == (
        "attachment; filename=\"r_sum_ 2024.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%202024.pdf"
    )


# --- create_storage ---------------------------------------------------------------------------

SECRET = "test-secret-key-that-is-long-enough-0123456789"


def settings_with(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(env="test", secret_key=SECRET, var_dir=tmp_path / "var", **overrides)


def test_create_storage_defaults_to_the_var_folder(tmp_path: Path) -> None:
    store = create_storage(settings_with(tmp_path, public_url="https://api.example.com/"))

    assert isinstance(store, LocalStorage)
    assert store.root == (tmp_path / "var" / "storage").resolve()


async def test_create_storage_local_signs_with_a_key_derived_from_the_secret(
    tmp_path: Path,
) -> None:
    store = create_storage(
        settings_with(
            tmp_path, storage_url=(tmp_path / "files").as_uri(), public_url="https://x.io"
        )
    )
    assert isinstance(store, LocalStorage)
    url = await store.signed_url("a/b.txt", expires_in=60)
    query = httpx.URL(url).params

    assert url.startswith("https://x.io/storage/a/b.txt?expires=")
    assert signing_key(SECRET) != SECRET.encode()
    twin = LocalStorage(tmp_path / "files", signing_key(SECRET), "https://x.io")
    assert twin.verify("a/b.txt", expires=query["expires"], sig=query["sig"], filename=None)


async def test_create_storage_s3(tmp_path: Path, moto_endpoint: str) -> None:
    store = create_storage(
        settings_with(
            tmp_path,
            storage_url="s3://oja-test/tenants/one/",
            s3_endpoint_url=moto_endpoint,
            s3_access_key_id="testing",
            s3_secret_access_key="testing",
        )
    )
    assert isinstance(store, S3Storage)
    assert store.bucket == BUCKET
    assert store.object_name("k") == "tenants/one/k"
    await store.put("k", chunks_of(b"via settings"), content_type="text/plain")
    assert await read_all(store, "k") == b"via settings"
    await store.close()


@pytest.mark.parametrize("url", ["ftp://host/x", "file://remote-host/x", "s3:///prefix"])
def test_create_storage_refuses_unknown_urls(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValueError, match="OJA_STORAGE_URL"):
        create_storage(settings_with(tmp_path, storage_url=url))
