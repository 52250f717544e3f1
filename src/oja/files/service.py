"""Rules of the files module: accept an upload, answer for an owner's files, retry, delete.

Services never commit: the request's unit of work does. Storage objects are durable before the row
(a unit of work that does not commit, a failed commit included, deletes the object again) and are
removed only after the row's deletion commits.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable, Generator
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.db import after_commit, after_rollback
from oja.core.ids import uuid7
from oja.core.jobs import Job
from oja.core.jobs.outbox import has_buffered_rows
from oja.core.pagination import PageParams
from oja.core.runtime import Runtime
from oja.core.storage import Storage, StoredObject
from oja.files import repository
from oja.files.config import FilesSettings
from oja.files.errors import EmptyFile, FileNotFound, InvalidUpload, NotProcessed, NotRetryable
from oja.files.jobs import process_file
from oja.files.keys import all_keys, original_key
from oja.files.models import File, FileStatus
from oja.files.naming import sanitize_filename
from oja.files.sniffing import SNIFF_BYTES, sniff
from oja.files.upload_stream import MultipartUpload, prefetched

if TYPE_CHECKING:
    from oja.identity.dependencies import PendingSession

log = structlog.get_logger("oja.files")

TITLE_MAX_CHARS = 255
DESCRIPTION_MAX_CHARS = 10_000
# Byte limits while parsing: 4 bytes per character at most in UTF-8.
FIELD_LIMITS = {"title": TITLE_MAX_CHARS * 4, "description": DESCRIPTION_MAX_CHARS * 4}


def _text_field(fields: dict[str, str], name: str, max_chars: int) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    value = value.replace("\x00", "").strip()
    if len(value) > max_chars:
        raise InvalidUpload(
            f"The field `{name}` is longer than {max_chars} characters.",
            details=[{"loc": ["body", name], "msg": "too long", "type": "too_long"}],
        )
    return value or None


async def upload(
    session: AsyncSession,
    runtime: Runtime,
    settings: FilesSettings,
    *,
    owner_id: uuid.UUID,
    body: MultipartUpload,
    image_profile: str | None = None,
    only_write: bool = False,
    pending: PendingSession | None = None,
) -> File:
    """Stream the file part into storage, then add the row and its processing job.

    ``only_write``: the caller's unit of work writes nothing else, before or after (``POST
    /upload``). The row and the job are then committed by this call itself, once the object is
    durable, as one statement (:func:`_store_alone`) where the database allows it; the returned
    ``File`` is not attached to the session. Without it (or on SQLite) they are left to the unit
    of work's commit, with whatever else it writes.

    ``pending``: the caller's session, not yet checked. The one statement checks it (nothing is
    written for a signed-out session: 401, the object deleted); on the unit of work's path it is
    checked before anything is stored."""
    head = await body.read_head(SNIFF_BYTES)
    if not head:
        raise EmptyFile(
            "The file is empty.",
            details=[{"loc": ["body", "file"], "msg": "empty file", "type": "empty"}],
        )

    def text_fields() -> tuple[str | None, str | None]:
        # Called once the whole body is parsed: the fields may come after the file.
        return (
            _text_field(body.fields, "title", TITLE_MAX_CHARS),
            _text_field(body.fields, "description", DESCRIPTION_MAX_CHARS),
        )

    if (
        only_write
        and _nothing_written(session)
        and repository.supports_insert_with_job(runtime.database)
    ):
        return await _store_alone(
            session,
            runtime,
            owner_id=owner_id,
            head=head,
            chunks=prefetched(body.file_chunks()),
            filename=body.filename,
            declared_content_type=body.declared_content_type,
            text_fields=text_fields,
            image_profile=image_profile,
            pending=pending,
        )
    if pending is not None:
        await pending.confirm()
    return await _store(
        session,
        runtime,
        owner_id=owner_id,
        head=head,
        chunks=prefetched(body.file_chunks()),
        filename=body.filename,
        declared_content_type=body.declared_content_type,
        text_fields=text_fields,
        image_profile=image_profile,
    )


async def store(
    session: AsyncSession,
    runtime: Runtime,
    *,
    owner_id: uuid.UUID,
    head: bytes,
    chunks: AsyncIterable[bytes],
    filename: str | None,
    declared_content_type: str | None,
    title: str | None = None,
    description: str | None = None,
    image_profile: str | None = None,
) -> File:
    """Store the bytes ``chunks`` yields (``head`` is their start, already read, for sniffing) as
    ``owner_id``'s file, add the row and queue its processing: an upload's path, and the one for
    bytes a feature fetched itself (a product image from a URL). The object is deleted again if
    the unit of work does not commit."""
    return await _store(
        session,
        runtime,
        owner_id=owner_id,
        head=head,
        chunks=chunks,
        filename=filename,
        declared_content_type=declared_content_type,
        text_fields=lambda: (title, description),
        image_profile=image_profile,
    )


async def _store(
    session: AsyncSession,
    runtime: Runtime,
    *,
    owner_id: uuid.UUID,
    head: bytes,
    chunks: AsyncIterable[bytes],
    filename: str | None,
    declared_content_type: str | None,
    text_fields: Callable[[], tuple[str | None, str | None]],
    image_profile: str | None,
) -> File:
    """:func:`store`, with the title and description asked for once every byte is stored.

    The row and its job are inserted while storage makes the object durable (``while_syncing``:
    the local adapter's fsyncs run in a thread meanwhile), and ``put`` returns only once both are
    done. The commit comes after, so the row is never durable before the object's bytes and name.
    A field that fails validation then (422) removes the object again.
    """
    sniffed = _Sniffed(head[:SNIFF_BYTES])
    file_id = uuid7()
    key = original_key(owner_id, file_id)
    added: list[File] = []

    async def add_row(stored: StoredObject) -> None:
        content_type = await sniffed
        title, description = text_fields()
        row = File(
            id=file_id,
            owner_id=owner_id,
            original_filename=sanitize_filename(filename),
            storage_key=key,
            title=title,
            description=description,
            content_type=content_type,
            declared_content_type=declared_content_type,
            size=stored.size,
            sha256=stored.sha256,
            status=FileStatus.uploaded,
            progress=0,
            image_profile=image_profile,
        )
        session.add(row)
        process_file.enqueue(session, file_id=file_id)
        await session.flush()  # both INSERTs, in one flush
        added.append(row)

    try:
        stored = await runtime.storage.put(
            key, sniffed.after(chunks), content_type=sniffed, while_syncing=add_row
        )
    except BaseException:
        await sniffed.settle()
        raise
    after_rollback(session, functools.partial(runtime.storage.delete, key))
    (row,) = added
    log.info("files.file.uploaded", file_id=str(file_id), size=stored.size, type=row.content_type)
    return row


class _Sniffed:
    """The file's content type (:func:`sniff` of ``head``), worked out in a worker thread once the
    body has arrived (:meth:`after`): the local adapter writes, hashes and fsyncs the object in a
    thread of its own meanwhile, so the sniff (0.3–0.7 ms of libmagic) leaves the event loop's
    path. Awaited sooner — by S3, which sends the type with the object — it starts then."""

    def __init__(self, head: bytes) -> None:
        self._head = head
        self._task: asyncio.Future[str] | None = None

    def _start(self) -> asyncio.Future[str]:
        if self._task is None:
            self._task = asyncio.ensure_future(asyncio.to_thread(sniff, self._head))
        return self._task

    def __await__(self) -> Generator[Any, None, str]:
        return self._start().__await__()

    async def after(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        """``chunks``, then the sniff starts."""
        async for chunk in chunks:
            yield chunk
        self._start()

    async def settle(self) -> None:
        """After a failed put: wait for a sniff already started (its thread cannot be stopped)
        and drop its outcome; the put's error is the one to raise."""
        if self._task is not None:
            await asyncio.wait({self._task})
            if not self._task.cancelled():
                self._task.exception()


def _nothing_written(session: AsyncSession) -> bool:
    """Whether the session has neither begun a transaction nor anything waiting to be written."""
    return not (
        session.in_transaction()
        or session.new
        or session.dirty
        or session.deleted
        or has_buffered_rows(session)
    )


async def _store_alone(
    session: AsyncSession,
    runtime: Runtime,
    *,
    owner_id: uuid.UUID,
    head: bytes,
    chunks: AsyncIterable[bytes],
    filename: str | None,
    declared_content_type: str | None,
    text_fields: Callable[[], tuple[str | None, str | None]],
    image_profile: str | None,
    pending: PendingSession | None,
) -> File:
    """:func:`_store` for a unit of work with no other write: the object is made durable first
    (written, hashed and fsynced in one worker-thread hop for a small file), then the row and its
    job are committed together as one autocommit statement (:func:`repository.insert_with_job`),
    so the row is never durable before the object. If the fields fail validation (422) or the
    statement fails, the object is deleted again and nothing is committed. The job's message is
    published after the unit of work's (empty) commit, as any enqueue's.
    """
    sniffed = _Sniffed(head[:SNIFF_BYTES])
    file_id = uuid7()
    key = original_key(owner_id, file_id)
    try:
        stored = await runtime.storage.put(key, sniffed.after(chunks), content_type=sniffed)
    except BaseException:
        await sniffed.settle()
        raise
    try:
        content_type = await sniffed
        title, description = text_fields()
        now = utcnow()
        values: dict[str, Any] = {
            "id": file_id,
            "owner_id": owner_id,
            "original_filename": sanitize_filename(filename),
            "storage_key": key,
            "title": title,
            "description": description,
            "content_type": content_type,
            "declared_content_type": declared_content_type,
            "size": stored.size,
            "sha256": stored.sha256,
            "status": FileStatus.uploaded,
            "progress": 0,
            "image_profile": image_profile,
            "created_at": now,
            "updated_at": now,
        }
        process_file.enqueue(session, file_id=file_id)  # builds the row; publishes after commit
        job_values = repository.take_buffered_job_row(session)
        if not await repository.insert_with_job(
            runtime.database, values, job_values, pending=pending
        ):
            assert pending is not None  # only a guarded statement writes nothing
            await pending.refuse()
    except BaseException:
        await _delete_object(runtime.storage, key)
        raise
    log.info("files.file.uploaded", file_id=str(file_id), size=stored.size, type=content_type)
    return File(**values)


async def _delete_object(storage: Storage, key: str) -> None:
    try:
        await storage.delete(key)
    except Exception as exc:  # the original error is the one to raise; the orphan is logged
        log.warning("files.file.object_delete_failed", key=key, error=type(exc).__name__)


async def get_owned(session: AsyncSession, file_id: uuid.UUID, owner_id: uuid.UUID) -> File:
    row = await repository.owned(session, file_id, owner_id)
    if row is None:
        raise FileNotFound("No such file.")
    return row


async def list_owned(
    session: AsyncSession, owner_id: uuid.UUID, paging: PageParams
) -> tuple[list[File], int]:
    return await repository.page_of(session, owner_id, offset=paging.offset, limit=paging.per_page)


async def jobs_of(session: AsyncSession, file_id: uuid.UUID) -> list[Job]:
    return await repository.jobs_of(session, file_id)


async def signed_result(
    file: File, storage: Storage, ttl: int
) -> tuple[str, dict[str, dict[str, Any]]]:
    """The original's and each variant's signed URL; :class:`NotProcessed` before processing."""
    if file.status != FileStatus.processed:
        raise NotProcessed(
            "The file is not processed yet.", details={"status": file.status, "id": str(file.id)}
        )
    original = await storage.signed_url(
        file.storage_key, expires_in=ttl, filename=file.original_filename
    )
    variants: dict[str, dict[str, Any]] = {}
    for name, info in (file.variants or {}).items():
        url = await storage.signed_url(info["key"], expires_in=ttl)
        variants[name] = {**{k: v for k, v in info.items() if k != "key"}, "url": url}
    return original, variants


async def retry(session: AsyncSession, file: File) -> File:
    if file.status != FileStatus.failed:
        raise NotRetryable("Only a failed file can be retried.", details={"status": file.status})
    file.status = FileStatus.uploaded
    file.progress = 0
    file.message = "queued for another try"
    file.error = None
    await session.flush()
    process_file.enqueue(session, file_id=file.id)
    return file


async def delete(session: AsyncSession, storage: Storage, file: File) -> None:
    """Remove the row; once that commits, the original and every variant key."""
    keys = all_keys(file.owner_id, file.id)
    await repository.remove(session, file.id)

    async def remove_objects() -> None:
        for key in keys:
            try:
                await storage.delete(key)
            except Exception as exc:  # the row is gone; an orphan object is logged, not fatal
                log.warning("files.file.object_delete_failed", key=key, error=type(exc).__name__)

    after_commit(session, remove_objects)
