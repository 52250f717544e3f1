"""Rules of the documents module: accept an upload, answer for an owner's documents, start and
follow processing. Services never commit: the request's unit of work does."""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core import events
from oja.core.db import after_commit, after_rollback, read_only
from oja.core.extract import MIME_OF_KIND, SNIFF_BYTES, kind_of, sniff_mime
from oja.core.ids import uuid7
from oja.core.jobs import EnqueueOptions, Job, JobStatus
from oja.core.runtime import Runtime
from oja.documents import repository
from oja.documents.errors import (
    AnalysisUpstreamFailed,
    DocumentNotFound,
    NotCompleted,
    ProcessingFailed,
    UnsupportedDocumentType,
)
from oja.documents.jobs import extract_document, process_document
from oja.documents.models import Document, DocumentStatus
from oja.documents.schemas import DocumentStatusOut
from oja.files.errors import EmptyFile
from oja.files.naming import sanitize_filename
from oja.files.upload_stream import MultipartUpload

log = structlog.get_logger("oja.documents")

# "ai_not_configured" is what rows failed before the shared `not_configured` code still carry.
UPSTREAM_ERROR_CODES = frozenset(
    {"ai_provider_error", "not_configured", "ai_not_configured", "ai_invalid_output"}
)
STAGE_MESSAGES = {
    "uploaded": "Uploaded; the text is being extracted.",
    "extracted": "Text extracted; POST /documents/{id}/process to analyse it.",
    "queued": "Waiting for a worker.",
    "extract": "Extracting the text.",
    "summarise_parts": "Summarising the parts of a long document.",
    "analyze": "Analysing the text.",
    "done": "Processing completed.",
    "index": "Processing completed; the text is being indexed for search.",
}


def storage_key(owner_id: uuid.UUID, document_id: uuid.UUID) -> str:
    """Derived from ids only, never from anything the client sent."""
    return f"documents/{owner_id}/{document_id}/original"


async def upload(
    session: AsyncSession, runtime: Runtime, *, owner_id: uuid.UUID, body: MultipartUpload
) -> Document:
    """Sniff the head, stream the file into storage, then add the row and its extraction job.

    The object is written before the row; if the row cannot be added the object is deleted again.
    """
    head = await body.read_head(SNIFF_BYTES)
    if not head:
        raise EmptyFile(
            "The file is empty.",
            details=[{"loc": ["body", "file"], "msg": "empty file", "type": "empty"}],
        )
    mime = sniff_mime(head)
    kind = kind_of(mime)
    if kind is None:
        raise UnsupportedDocumentType(
            "Only PDF, DOCX and plain-text documents are accepted.",
            details={"detected": mime, "accepted": sorted(MIME_OF_KIND.values())},
        )
    document_id = uuid7()
    key = storage_key(owner_id, document_id)
    content_type = MIME_OF_KIND[kind]
    stored = await runtime.storage.put(key, body.file_chunks(), content_type=content_type)
    after_rollback(session, functools.partial(runtime.storage.delete, key))
    document = Document(
        id=document_id,
        owner_id=owner_id,
        filename=sanitize_filename(body.filename),
        storage_key=key,
        kind=kind,
        content_type=content_type,
        size=stored.size,
        sha256=stored.sha256,
        status=DocumentStatus.UPLOADED,
        stage="uploaded",
    )
    session.add(document)
    await session.flush()
    extract_document.enqueue_with(
        EnqueueOptions(dedupe_key=f"documents.extract:{document_id}"), document_id=document_id
    )
    log.info(
        "documents.uploaded",
        document_id=str(document_id),
        document_event="uploaded",
        size=stored.size,
        kind=kind,
    )
    return document


async def get_owned(session: AsyncSession, document_id: uuid.UUID, owner_id: uuid.UUID) -> Document:
    """The document if ``owner_id`` owns it; anyone else's is indistinguishable from none."""
    document = await repository.owned(session, document_id, owner_id)
    if document is None:
        raise DocumentNotFound("No such document.")
    return document


@dataclass(frozen=True)
class Ticket:
    document: Document
    job_id: uuid.UUID | None
    started: bool
    """False when the answer is the current state (already running, done, or a replayed key)."""


async def request_processing(
    session: AsyncSession,
    document: Document,
    *,
    idempotency_key: str | None = None,
    rerun_completed: bool = False,
) -> Ticket:
    """Start a processing run unless one is running (or, without ``rerun_completed``, is done).

    At most one job per run, however many callers race: the status moves to PROCESSING with one
    conditional UPDATE, and the job's dedupe key names the run. A replayed ``Idempotency-Key``
    gets the state of the run it started.
    """
    if idempotency_key is not None and document.process_idempotency_key == idempotency_key:
        return Ticket(document, document.job_id, started=False)
    allowed: tuple[DocumentStatus, ...] = (DocumentStatus.UPLOADED, DocumentStatus.FAILED)
    if rerun_completed:
        allowed = (*allowed, DocumentStatus.COMPLETED)
    run = await repository.claim_for_processing(
        session, document.id, from_statuses=allowed, idempotency_key=idempotency_key
    )
    if run is None:
        await session.refresh(document)
        return Ticket(document, document.job_id, started=False)
    row = process_document.enqueue_with(
        EnqueueOptions(dedupe_key=f"documents.process:{document.id}:{run}"),
        document_id=document.id,
    )
    await repository.set_job(session, document.id, row.id)
    await session.flush()
    await session.refresh(document)
    return Ticket(document, row.id, started=True)


async def wait_for_job(runtime: Runtime, job_id: uuid.UUID, timeout: float) -> str | None:
    """Poll the job row until it succeeded or failed, or ``timeout`` passed; its last status."""
    deadline = time.monotonic() + timeout
    pause = 0.02
    while True:
        async with read_only(runtime.database) as session:
            status = await session.scalar(select(Job.status).where(Job.id == job_id))
        remaining = deadline - time.monotonic()
        if status in (JobStatus.succeeded, JobStatus.failed) or remaining <= 0:
            return status
        await asyncio.sleep(min(pause, remaining))
        pause = min(pause * 2, 0.25)


async def status_of(session: AsyncSession, document: Document) -> DocumentStatusOut:
    status = DocumentStatus(document.status)
    stage = document.stage
    progress = 0
    message: str | None = None
    if status == DocumentStatus.PROCESSING:
        job = await repository.job(session, document.job_id) if document.job_id else None
        if job is not None:
            progress = job.progress
            stage = job.message if job.message in STAGE_MESSAGES else stage
            if job.status == JobStatus.queued and job.attempts > 0:
                message = f"Retrying after a failed attempt ({job.attempts} so far)."
    elif status == DocumentStatus.COMPLETED:
        progress = 100  # terminal: indexing is reported by `indexed`, not by holding progress back
        if document.text and document.indexed_at is None:
            stage = "index"
    elif status == DocumentStatus.FAILED:
        message = document.error
    else:
        stage = "extracted" if document.text is not None else stage
    if message is None and stage is not None:
        message = STAGE_MESSAGES.get(stage, "").replace("{id}", str(document.id)) or None
    return DocumentStatusOut(
        document_id=document.id,
        status=status.value,
        progress=progress,
        stage=stage,
        message=message,
        indexed=document.indexed_at is not None,
    )


def failure(document: Document) -> ProcessingFailed:
    """The error a FAILED document answers with: 502 if the AI provider failed, else 422."""
    error_class = (
        AnalysisUpstreamFailed if document.error_code in UPSTREAM_ERROR_CODES else ProcessingFailed
    )
    return error_class(
        document.error or "Processing failed.",
        details={
            "document_id": str(document.id),
            "status": document.status,
            "stage": document.stage,
            "reason": document.error_code,
        },
    )


def require_completed(document: Document) -> Document:
    if document.status == DocumentStatus.COMPLETED:
        return document
    if document.status == DocumentStatus.FAILED:
        raise failure(document)
    raise NotCompleted(
        f"The document is {document.status}, not COMPLETED.",
        details={"document_id": str(document.id), "status": document.status},
    )


async def delete(session: AsyncSession, runtime: Runtime, document: Document) -> None:
    """Announce the deletion (``documents.deleted``: retrieval drops the chunks in this same
    transaction), remove the row, and the stored original once that commits."""
    await events.emit("documents.deleted", document_id=document.id, owner_id=document.owner_id)
    key = document.storage_key
    await session.delete(document)
    await session.flush()

    async def remove_original() -> None:
        try:
            await runtime.storage.delete(key)
        except Exception as exc:  # the row is gone; an orphan object is logged, not fatal
            log.warning("documents.object_delete_failed", key=key, error=type(exc).__name__)

    after_commit(session, remove_original)
    log.info("documents.deleted", document_id=str(document.id), document_event="deleted")
