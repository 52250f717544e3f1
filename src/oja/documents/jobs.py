"""Background work of the documents module: extraction after upload, and the processing run.

Both jobs are idempotent: each re-reads the document and does nothing unless it is still in the
state the job was enqueued for (``UPLOADED`` without text; ``PROCESSING`` owned by this job). A
failure the document itself causes, or that a provider keeps causing after the AI port's retries,
marks the document ``FAILED`` with the reason — in its own transaction, after the job's own work is
rolled back — and fails the job permanently. Anything else is retried by the job runner; on the
last attempt the document is marked ``FAILED`` too, so no document stays ``PROCESSING`` forever.

What the job body cannot see — its worker SIGKILLed on the last attempt (the sweeper then fails the
job), or the runner's time limit cancelling it — is covered by each job's failure hook, which marks
the document ``FAILED`` in the transaction that fails the job, through the same
:func:`_record_failure`. Both are conditional on the state the job was enqueued for, so whichever
runs second changes nothing.
"""

from __future__ import annotations

import uuid
from typing import Any, NoReturn

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core import events
from oja.core.ai import (
    AINotConfigured,
    AIProviderError,
    StructuredOutputInvalid,
    get_ai_settings,
    open_chat_model,
)
from oja.core.clock import utcnow
from oja.core.db import discard, own_transaction
from oja.core.extract import Extracted, ExtractionError
from oja.core.jobs import JobContext, JobFailure, PermanentJobError, job
from oja.documents import pipeline, repository
from oja.documents.analysis import analyse
from oja.documents.config import get_documents_settings
from oja.documents.models import DocumentStatus

log = structlog.get_logger("oja.documents")

PROCESS_MAX_ATTEMPTS = 3
_settings = get_documents_settings()


async def _fail(
    ctx: JobContext,
    document_id: uuid.UUID,
    *,
    expected: DocumentStatus,
    job_id: uuid.UUID | None,
    stage: str,
    code: str,
    message: str,
    extracted: Extracted | None = None,
    detail: str | None = None,
) -> NoReturn:
    await discard(ctx.session)  # give up the job's writes (and SQLite's write lock) first
    async with own_transaction(ctx.runtime.database) as session:
        await _record_failure(
            session,
            document_id,
            expected=expected,
            job_id=job_id,
            stage=stage,
            code=code,
            message=message,
            extracted=extracted,
            detail=detail,
        )
    raise PermanentJobError(message)


async def _record_failure(
    session: AsyncSession,
    document_id: uuid.UUID,
    *,
    expected: DocumentStatus,
    job_id: uuid.UUID | None,
    stage: str,
    code: str,
    message: str,
    extracted: Extracted | None = None,
    detail: str | None = None,
) -> bool:
    """``FAILED`` with the reason if the document is still where the job found it; logged once.
    ``message`` is what the client reads; ``detail`` (a library's own words) goes to the log only."""
    changed = await repository.mark_failed(
        session,
        document_id,
        expected_status=expected,
        job_id=job_id,
        stage=stage,
        code=code,
        message=message,
        extracted=pipeline.extracted_values(extracted) if extracted else None,
    )
    if changed:
        log.warning(
            "documents.process_failed",
            document_id=str(document_id),
            document_event="process_failed",
            stage=stage,
            reason=code,
            error=message,
            detail=detail,
        )
    return changed


def _unexpected(cause: str) -> str:
    """What a client is told of a failure the document did not cause (no internals leak)."""
    return f"Processing failed unexpectedly ({cause})."


def _cause(failure: JobFailure) -> str:
    return type(failure.exception).__name__ if failure.exception else "the worker was lost"


@job(
    "documents.extract",
    timeout=_settings.document_job_timeout,
    max_attempts=3,
    subject=("document", "document_id"),
)
async def extract_document(ctx: JobContext, *, document_id: uuid.UUID) -> dict[str, Any]:
    """Extract the text of a freshly uploaded document so it can be read before processing."""
    document = await repository.by_id(ctx.session, document_id)
    if document is None or document.status != DocumentStatus.UPLOADED or document.text is not None:
        return {"skipped": True}
    try:
        extracted = await pipeline.extract(ctx.runtime.storage, document)
    except ExtractionError as exc:
        await _fail(
            ctx,
            document_id,
            expected=DocumentStatus.UPLOADED,
            job_id=None,
            stage="extract",
            code=exc.code,
            message=str(exc),
            detail=exc.detail,
        )
    pipeline.apply_extracted(document, extracted)
    document.stage = "extract"
    await events.emit(
        "documents.text_extracted", document_id=document_id, owner_id=document.owner_id
    )
    log.info(
        "documents.extracted",
        document_id=str(document_id),
        pages=extracted.pages,
        chars=len(extracted.text),
    )
    return {"pages": extracted.pages, "chars": len(extracted.text)}


@extract_document.on_failure
async def extract_document_failed(failure: JobFailure, *, document_id: uuid.UUID) -> None:
    """Extraction gave up: a document still ``UPLOADED`` without text would say "being extracted"
    for ever. ``FAILED`` instead; processing it (which extracts again) stays allowed."""
    document = await repository.by_id(failure.session, document_id)
    if document is None or document.text is not None:
        return
    await _record_failure(
        failure.session,
        document_id,
        expected=DocumentStatus.UPLOADED,
        job_id=None,
        stage="extract",
        code="internal_error",
        message=_unexpected(_cause(failure)),
    )


@job(
    "documents.process",
    timeout=_settings.document_job_timeout,
    max_attempts=PROCESS_MAX_ATTEMPTS,
    subject=("document", "document_id"),
)
async def process_document(ctx: JobContext, *, document_id: uuid.UUID) -> dict[str, Any]:
    """Extract (unless already done) → analyse → COMPLETED. Newly extracted text is announced
    (``documents.text_extracted``) so retrieval indexes it; ``indexed_at`` tracks that."""
    document = await repository.by_id(ctx.session, document_id)
    if (
        document is None
        or document.status != DocumentStatus.PROCESSING
        or document.job_id != ctx.job_id
    ):
        return {"skipped": True}
    log.info(
        "documents.process_started",
        document_id=str(document_id),
        document_event="process_started",
        attempt=ctx.attempt,
    )
    settings = get_documents_settings()
    extracted: Extracted | None = None
    stage = "extract"
    try:
        text = document.text
        if text is None:
            await ctx.progress(10, "extract")
            extracted = await pipeline.extract(ctx.runtime.storage, document)
            text = extracted.text
        stage = "analyze"
        await ctx.progress(30, "analyze")
        async with open_chat_model(get_ai_settings()) as model:
            analysis = await analyse(
                model,
                text,
                chunk_chars=settings.analysis_chunk_chars,
                max_chunks=settings.analysis_max_chunks,
                concurrency=settings.analysis_concurrency,
                on_stage=ctx.progress,
            )
    except ExtractionError as exc:
        await _fail(
            ctx,
            document_id,
            expected=DocumentStatus.PROCESSING,
            job_id=ctx.job_id,
            stage="extract",
            code=exc.code,
            message=str(exc),
            detail=exc.detail,
        )
    except (AIProviderError, AINotConfigured, StructuredOutputInvalid) as exc:
        await _fail(
            ctx,
            document_id,
            expected=DocumentStatus.PROCESSING,
            job_id=ctx.job_id,
            stage="analyze",
            code=exc.code,
            message=exc.message,
            extracted=extracted,
        )
    except Exception as exc:
        if ctx.attempt >= PROCESS_MAX_ATTEMPTS:
            await _fail(
                ctx,
                document_id,
                expected=DocumentStatus.PROCESSING,
                job_id=ctx.job_id,
                stage=stage,
                code="internal_error",
                message=_unexpected(type(exc).__name__),
            )
        raise
    if extracted is not None:
        pipeline.apply_extracted(document, extracted)
        await events.emit(
            "documents.text_extracted", document_id=document_id, owner_id=document.owner_id
        )
    now = utcnow()
    document.summary = analysis.summary
    document.document_type = analysis.document_type
    document.extracted_metadata = analysis.metadata
    document.analysis = analysis.record()
    document.analyzed_at = now
    document.completed_at = now
    document.status = DocumentStatus.COMPLETED
    document.stage = "done"
    document.error = None
    document.error_code = None
    log.info(
        "documents.process_completed",
        document_id=str(document_id),
        document_event="process_completed",
        document_type=analysis.document_type,
        provider=analysis.provider,
        prompt_tokens=analysis.usage.prompt_tokens,
        completion_tokens=analysis.usage.completion_tokens,
    )
    return {"status": DocumentStatus.COMPLETED.value, "document_type": analysis.document_type}


@process_document.on_failure
async def process_document_failed(failure: JobFailure, *, document_id: uuid.UUID) -> None:
    """The run's job is ``failed``: so is the document, if this job still owns it (``job_id``).

    The stage is the one the run was in as far as the row tells: the text is stored only with the
    run's success, so without text the run was extracting or had just done so.
    """
    document = await repository.by_id(failure.session, document_id)
    if document is None:
        return
    await _record_failure(
        failure.session,
        document_id,
        expected=DocumentStatus.PROCESSING,
        job_id=failure.job_id,
        stage="extract" if document.text is None else "analyze",
        code="internal_error",
        message=_unexpected(_cause(failure)),
    )
