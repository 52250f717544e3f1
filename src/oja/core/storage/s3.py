"""Object storage on S3 or an S3-compatible server (MinIO, moto), through boto3.

Invariants:

* boto3 is blocking; every call runs in a worker thread (:func:`run_blocking`).
* A put of less than one part is a single ``put_object``; anything larger is a multipart upload of
  ``PART_SIZE`` parts, completed only after the producer is exhausted. Any failure or cancellation
  aborts the multipart upload, so S3 never shows a partial object and keeps no orphaned parts (a
  bucket lifecycle rule aborting incomplete uploads after a day is the backstop for a killed
  process).
* Memory per put is bounded by one part plus the producer's current chunk.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import boto3
import structlog
from botocore.config import Config
from botocore.exceptions import ClientError

from oja.core.storage.base import (
    READ_CHUNK_SIZE,
    ContentType,
    ObjectNotFound,
    StoredObject,
    WhileSyncing,
    content_disposition,
    run_blocking,
    validate_key,
)

if TYPE_CHECKING:  # boto3-stubs is a development dependency
    from botocore.response import StreamingBody
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

PART_SIZE = 8 * 1024 * 1024
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # the SigV4 limit

_MISSING = {"404", "NoSuchKey", "NotFound"}

log = structlog.get_logger("oja.storage")


@dataclass
class _Multipart:
    """One put's multipart upload; created lazily, once the first full part is ready."""

    name: str
    content_type: str
    upload_id: str | None = None
    parts: list[CompletedPartTypeDef] = field(default_factory=list)


class S3Storage:
    """Objects under ``prefix/`` in ``bucket``; signed URLs are S3 presigned GETs."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        if not bucket:
            raise ValueError("an S3 bucket name is required")
        self._bucket = bucket
        self._prefix = validate_key(prefix.strip("/")) + "/" if prefix.strip("/") else ""
        config = Config(
            signature_version="s3v4",
            retries={"max_attempts": 4, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
            # Path-style requests: MinIO and moto are reached by IP or a single host name, where
            # virtual-hosted bucket names (bucket.host) do not resolve.
            s3={"addressing_style": "path"} if endpoint_url else None,
        )
        # A session per instance: boto3's default session is not safe to share across threads.
        self._client: S3Client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=config,
        )

    @property
    def bucket(self) -> str:
        return self._bucket

    def object_name(self, key: str) -> str:
        """The S3 object key for a storage key (the prefix plus the validated key)."""
        return self._prefix + validate_key(key)

    async def put(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        content_type: ContentType,
        while_syncing: WhileSyncing | None = None,
    ) -> StoredObject:
        name = self.object_name(key)
        if not isinstance(content_type, str):  # S3 keeps the type: it is needed from the start
            content_type = await content_type
        upload = _Multipart(name=name, content_type=content_type)
        hasher = hashlib.sha256()
        size = 0
        buffer = bytearray()
        try:
            async for chunk in chunks:
                size += len(chunk)
                buffer += chunk
                while len(buffer) >= PART_SIZE:
                    part = bytes(buffer[:PART_SIZE])
                    del buffer[:PART_SIZE]
                    await run_blocking(self._upload_part, upload, part, hasher)
            if upload.upload_id is None:
                await run_blocking(self._put_whole, name, bytes(buffer), content_type, hasher)
            else:
                if buffer:
                    await run_blocking(self._upload_part, upload, bytes(buffer), hasher)
                await run_blocking(self._complete_upload, upload)
        except BaseException:
            if upload.upload_id is not None:
                await run_blocking(self._abort_upload, upload)
            raise
        stored = StoredObject(key=key, size=size, sha256=hasher.hexdigest())
        if while_syncing is not None:
            # Nothing to overlap: the object is durable once S3 has answered the last request.
            try:
                await while_syncing(stored)
            except BaseException:
                await self.delete(key)
                raise
        return stored

    def _put_whole(self, name: str, data: bytes, content_type: str, hasher: hashlib._Hash) -> None:
        hasher.update(data)
        self._client.put_object(Bucket=self._bucket, Key=name, Body=data, ContentType=content_type)

    def _upload_part(self, upload: _Multipart, data: bytes, hasher: hashlib._Hash) -> None:
        if upload.upload_id is None:
            # Recorded on the shared object from inside the thread, so even a put cancelled
            # while this call was in flight knows which upload to abort.
            upload.upload_id = self._client.create_multipart_upload(
                Bucket=self._bucket, Key=upload.name, ContentType=upload.content_type
            )["UploadId"]
        hasher.update(data)
        number = len(upload.parts) + 1
        response = self._client.upload_part(
            Bucket=self._bucket,
            Key=upload.name,
            UploadId=upload.upload_id,
            PartNumber=number,
            Body=data,
        )
        upload.parts.append({"ETag": response["ETag"], "PartNumber": number})

    def _complete_upload(self, upload: _Multipart) -> None:
        assert upload.upload_id is not None
        self._client.complete_multipart_upload(
            Bucket=self._bucket,
            Key=upload.name,
            UploadId=upload.upload_id,
            MultipartUpload={"Parts": upload.parts},
        )

    def _abort_upload(self, upload: _Multipart) -> None:
        assert upload.upload_id is not None
        try:
            self._client.abort_multipart_upload(
                Bucket=self._bucket, Key=upload.name, UploadId=upload.upload_id
            )
        except Exception as exc:  # the put's own error is the one to raise; this one is logged
            log.warning(
                "storage.multipart.abort_failed",
                key=upload.name,
                upload_id=upload.upload_id,
                error=type(exc).__name__,
            )

    def open(self, key: str) -> AsyncIterator[bytes]:
        return self._read(self.object_name(key))

    async def _read(self, name: str) -> AsyncIterator[bytes]:
        body = await run_blocking(self._get_body, name)
        try:
            while chunk := await run_blocking(body.read, READ_CHUNK_SIZE):
                yield chunk
        finally:
            body.close()

    def _get_body(self, name: str) -> StreamingBody:
        try:
            return self._client.get_object(Bucket=self._bucket, Key=name)["Body"]
        except ClientError as exc:
            if _is_missing(exc):
                raise ObjectNotFound(f"no object at {name}") from exc
            raise

    async def exists(self, key: str) -> bool:
        try:
            await self.size(key)
        except ObjectNotFound:
            return False
        return True

    async def size(self, key: str) -> int:
        return await run_blocking(self._head, self.object_name(key))

    def _head(self, name: str) -> int:
        try:
            return self._client.head_object(Bucket=self._bucket, Key=name)["ContentLength"]
        except ClientError as exc:
            if _is_missing(exc):
                raise ObjectNotFound(f"no object at {name}") from exc
            raise

    async def delete(self, key: str) -> None:
        # S3 answers 204 for a missing key too, so this is idempotent as it stands.
        name = self.object_name(key)
        await run_blocking(self._client.delete_object, Bucket=self._bucket, Key=name)

    async def signed_url(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        name = self.object_name(key)
        if not 0 < expires_in <= MAX_PRESIGN_SECONDS:
            raise ValueError(f"expires_in must be between 1 and {MAX_PRESIGN_SECONDS} seconds")
        params = {"Bucket": self._bucket, "Key": name}
        if filename is not None:
            params["ResponseContentDisposition"] = content_disposition(filename)
        # Presigning is local computation, but refreshing credentials may do network I/O.
        return await run_blocking(
            self._client.generate_presigned_url,
            "get_object",
            Params=params,
            ExpiresIn=expires_in,
        )

    async def check(self) -> None:
        await run_blocking(self._client.head_bucket, Bucket=self._bucket)

    async def close(self) -> None:
        await run_blocking(self._client.close)


def _is_missing(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return error.get("Code") in _MISSING or status == 404
