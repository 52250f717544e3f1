"""Routes under ``/documents`` (seeds 000 task 4 and 004; paths and status values are contracts).

Every route needs a user token or an API key with ``documents:read`` / ``documents:write``, and
answers only for the caller's own documents: anyone else's is a 404.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response, status
from fastapi.responses import JSONResponse

from oja.core.db import read_only, unit_of_work
from oja.core.dependencies import RuntimeDep, SessionDep
from oja.core.errors import error_responses
from oja.core.pagination import PageParams, pagination
from oja.documents import chunks, repository, service
from oja.documents.dependencies import DocumentsReader, DocumentsSettingsDep, DocumentsWriter
from oja.documents.models import Document, DocumentStatus
from oja.documents.schemas import (
    AnalysisInfo,
    AnalysisOut,
    DocumentDetail,
    DocumentListItem,
    DocumentPage,
    DocumentStatusOut,
    ErrorInfo,
    ProcessAccepted,
    ResultOut,
    UploadedDocument,
)
from oja.files.upload_stream import MultipartUpload

router = APIRouter(prefix="/documents", tags=["documents"])

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


def _status_url(document_id: uuid.UUID) -> str:
    return f"/documents/{document_id}/status"


def _analysis(document: Document) -> AnalysisInfo:
    assert document.analysis is not None
    return AnalysisInfo.model_validate(document.analysis)


@router.post(
    "/upload",
    status_code=status.HTTP_201_CREATED,
    response_model=UploadedDocument,
    summary="Upload a PDF, DOCX or text document (multipart `file`)",
    openapi_extra=_UPLOAD_BODY,
    responses=error_responses(401, 403, 413, 415, 422),
)
async def upload(
    request: Request,
    principal: DocumentsWriter,
    db: SessionDep,
    runtime: RuntimeDep,
    settings: DocumentsSettingsDep,
) -> UploadedDocument:
    """The type is sniffed from the bytes (PDF, DOCX or plain text, else 415); the size limit
    (``OJA_MAX_DOCUMENT_BYTES``) is enforced while reading (413, nothing stored). Text extraction
    runs as a background job; the document starts ``UPLOADED``."""
    body = MultipartUpload(
        request.stream(),
        request.headers.get("content-type"),
        max_file_bytes=settings.max_document_bytes,
        field_limits={},
    )
    document = await service.upload(db, runtime, owner_id=principal.user_id, body=body)
    return UploadedDocument(
        document_id=document.id,
        filename=document.filename,
        status=document.status,
        size=document.size,
        content_type=document.content_type,
        created_at=document.created_at,
    )


@router.get("", response_model=DocumentPage, responses=error_responses(401, 403))
async def list_documents(
    principal: DocumentsReader,
    db: SessionDep,
    paging: Annotated[PageParams, Depends(pagination())],
) -> DocumentPage:
    """The caller's documents, newest first; ``chunk_count`` is 0 until retrieval indexes them."""
    rows, total = await repository.page_of(
        db, principal.user_id, offset=paging.offset, limit=paging.per_page
    )
    items = [
        DocumentListItem(
            document_id=row.id,
            filename=row.filename,
            status=row.status,
            created_at=row.created_at,
            pages=row.pages,
            size=row.size,
            chunk_count=row.chunk_count,
            content_type=row.content_type,
            document_type=row.document_type,
        )
        for row in rows
    ]
    return DocumentPage(items=items, total=total, page=paging.page, per_page=paging.per_page)


@router.get(
    "/{document_id}", response_model=DocumentDetail, responses=error_responses(401, 403, 404)
)
async def get_document(
    document_id: uuid.UUID, principal: DocumentsReader, db: SessionDep
) -> DocumentDetail:
    """File info, extracted text, summary, type, metadata, status and timestamps."""
    document = await service.get_owned(db, document_id, principal.user_id)
    error = None
    if document.status == DocumentStatus.FAILED:
        error = ErrorInfo(
            code=document.error_code or "processing_failed",
            message=document.error or "Processing failed.",
            stage=document.stage,
        )
    return DocumentDetail(
        document_id=document.id,
        filename=document.filename,
        content_type=document.content_type,
        kind=document.kind,
        size=document.size,
        sha256=document.sha256,
        pages=document.pages,
        status=document.status,
        text=document.text,
        text_chars=len(document.text or ""),
        summary=document.summary,
        document_type=document.document_type,
        metadata=document.extracted_metadata,
        analysis=_analysis(document) if document.analysis else None,
        error=error,
        chunk_count=document.chunk_count,
        chunks=await chunks.of_document(db, document.id),
        created_at=document.created_at,
        updated_at=document.updated_at,
        extracted_at=document.extracted_at,
        analyzed_at=document.analyzed_at,
        completed_at=document.completed_at,
        indexed_at=document.indexed_at,
    )


@router.delete(
    "/{document_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 403, 404),
)
async def delete_document(
    document_id: uuid.UUID, principal: DocumentsWriter, db: SessionDep, runtime: RuntimeDep
) -> Response:
    """Delete the document, its stored original and its indexed chunks."""
    document = await service.get_owned(db, document_id, principal.user_id)
    await service.delete(db, runtime, document)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{document_id}/analyze",
    response_model=AnalysisOut,
    responses={
        202: {"model": ProcessAccepted, "description": "Still running; poll the status link."},
        **error_responses(401, 403, 404, 422, 502),
    },
)
async def analyze(
    document_id: uuid.UUID,
    principal: DocumentsWriter,
    runtime: RuntimeDep,
    settings: DocumentsSettingsDep,
) -> Any:
    """Analyse the text with the configured chat model (summary, document type, metadata).

    The analysis runs as a job (extracting first if needed) rather than inside the request, so a
    slow provider, its retries or a client that hangs up never lose work. The request then polls
    the job row for up to ``OJA_ANALYZE_WAIT_SECONDS``: a job finished by then answers 200 with the
    analysis (or the failure: 422 for the document, 502 for the provider); otherwise 202 with the
    job id and a status link, and the job carries on. A document already ``PROCESSING`` is not
    given a second job: the request waits on the running one.
    """
    async with unit_of_work(runtime.database) as db:
        document = await service.get_owned(db, document_id, principal.user_id)
        ticket = await service.request_processing(db, document, rerun_completed=True)
    if ticket.job_id is not None:
        await service.wait_for_job(runtime, ticket.job_id, settings.analyze_wait_seconds)
    async with read_only(runtime.database) as db:
        document = await service.get_owned(db, document_id, principal.user_id)
    if document.status == DocumentStatus.COMPLETED and document.analyzed_at is not None:
        assert document.summary is not None
        assert document.document_type is not None
        return AnalysisOut(
            document_id=document.id,
            status=DocumentStatus.COMPLETED.value,
            summary=document.summary,
            document_type=document.document_type,
            metadata=document.extracted_metadata or {},
            analysis=_analysis(document),
            analyzed_at=document.analyzed_at,
        )
    if document.status == DocumentStatus.FAILED:
        raise service.failure(document)
    accepted = ProcessAccepted(
        document_id=document.id,
        status=document.status,
        job_id=document.job_id,
        status_url=_status_url(document.id),
    )
    return JSONResponse(
        accepted.model_dump(mode="json"),
        status_code=status.HTTP_202_ACCEPTED,
        headers={"Location": accepted.status_url},
    )


@router.post(
    "/{document_id}/process",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ProcessAccepted,
    responses=error_responses(401, 403, 404),
)
async def process(
    document_id: uuid.UUID,
    principal: DocumentsWriter,
    db: SessionDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> ProcessAccepted:
    """Extract → analyse as one background job; poll ``/status``, then read ``/result``.

    Idempotent: while the document is PROCESSING or once it is COMPLETED the answer is its current
    state and no second job is made; a FAILED document is processed again. Replaying an
    ``Idempotency-Key`` answers with the run that key started.
    """
    document = await service.get_owned(db, document_id, principal.user_id)
    ticket = await service.request_processing(db, document, idempotency_key=idempotency_key)
    return ProcessAccepted(
        document_id=ticket.document.id,
        status=ticket.document.status,
        job_id=ticket.job_id,
        status_url=_status_url(document.id),
    )


@router.get(
    "/{document_id}/status",
    response_model=DocumentStatusOut,
    responses=error_responses(401, 403, 404),
)
async def document_status(
    document_id: uuid.UUID, principal: DocumentsReader, db: SessionDep
) -> DocumentStatusOut:
    """UPLOADED | PROCESSING | COMPLETED | FAILED, with progress, stage and a message."""
    document = await service.get_owned(db, document_id, principal.user_id)
    return await service.status_of(db, document)


@router.get(
    "/{document_id}/result",
    response_model=ResultOut,
    responses=error_responses(401, 403, 404, 409, 422, 502),
)
async def result(document_id: uuid.UUID, principal: DocumentsReader, db: SessionDep) -> ResultOut:
    """The processing result once COMPLETED; 409 with the status before; the error if FAILED."""
    document = service.require_completed(
        await service.get_owned(db, document_id, principal.user_id)
    )
    assert document.summary is not None
    assert document.document_type is not None
    assert document.completed_at is not None
    return ResultOut(
        document_id=document.id,
        status=DocumentStatus.COMPLETED.value,
        filename=document.filename,
        pages=document.pages,
        text_chars=len(document.text or ""),
        summary=document.summary,
        document_type=document.document_type,
        metadata=document.extracted_metadata or {},
        analysis=_analysis(document),
        completed_at=document.completed_at,
    )
