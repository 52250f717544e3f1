"""HTTP routes of the files module: thin — parse, authorise, delegate, shape the answer."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status

from oja.core.dependencies import RuntimeDep, SessionDep
from oja.core.errors import InvalidRequest, OjaError, TooManyRequests, errors
from oja.core.pagination import Page, PageParams, pagination
from oja.core.routing import LeanRoute
from oja.files import service
from oja.files.dependencies import FilesReader, FilesSettingsDep, FilesWriter, Uploader
from oja.files.errors import (
    EmptyFile,
    FileNotFound,
    InvalidUpload,
    MalformedUpload,
    NotMultipart,
    NotProcessed,
    NotRetryable,
    UploadTooLarge,
)
from oja.files.schemas import (
    FileDetail,
    FileJobOut,
    FileResult,
    FileStatusOut,
    FileSummary,
    UploadedFile,
    VariantOut,
)
from oja.files.upload_stream import MultipartUpload
from oja.identity.dependencies import AUTH_ERRORS, SCOPED_ERRORS

router = APIRouter(tags=["files"])


_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "title": {"type": "string", "maxLength": service.TITLE_MAX_CHARS},
                        "description": {
                            "type": "string",
                            "maxLength": service.DESCRIPTION_MAX_CHARS,
                        },
                    },
                }
            }
        },
    }
}


async def upload(
    request: Request,
    principal: Uploader,
    db: SessionDep,
    runtime: RuntimeDep,
    settings: FilesSettingsDep,
) -> UploadedFile:
    # Nothing has run in the request's unit of work yet (an API key's last-use stamp commits in a
    # transaction of its own), so no lock or pooled connection is held while a possibly slow client
    # streams its body. The upload is the unit of work's only write: the file row and its job are
    # committed together afterwards, as one statement on PostgreSQL, which also checks a user
    # token's session (`principal.pending`: no round trip for it before the body).
    try:
        body = MultipartUpload(
            request.stream(),
            request.headers.get("content-type"),
            max_file_bytes=settings.max_upload_bytes,
            field_limits=service.FIELD_LIMITS,
        )
        file = await service.upload(
            db,
            runtime,
            settings,
            owner_id=principal.user_id,
            body=body,
            only_write=True,
            pending=principal.pending,
        )
    except OjaError as error:
        # A signed-out token is told so before anything about its body (as when its session is
        # checked first); the upload's own refusal is that 401 already.
        if principal.pending is not None and not isinstance(error, AUTH_ERRORS):
            await principal.pending.confirm()
        raise
    return UploadedFile.model_validate(file)


# `LeanRoute`: its tree (the principal, the rate limit and its headers, the unit of work) is solved
# without FastAPI's general solver; the body is the endpoint's own stream. The same route, answers
# and OpenAPI otherwise.
router.add_api_route(
    "/upload",
    upload,
    methods=["POST"],
    status_code=status.HTTP_201_CREATED,
    response_model=UploadedFile,
    summary="Upload a file (any type); it is processed in the background",
    description="Multipart form: `file` (required), `title`, `description`. The body is streamed "
    "to storage; the size limit (OJA_MAX_UPLOAD_BYTES) is enforced while reading, the type is "
    "sniffed from the bytes and the SHA-256 computed on the way. Rate-limited per user.",
    openapi_extra=_UPLOAD_BODY,
    responses=errors(
        *SCOPED_ERRORS,
        MalformedUpload,
        UploadTooLarge,
        NotMultipart,
        InvalidUpload,
        EmptyFile,
        TooManyRequests,
    ),
    route_class_override=LeanRoute,
)


@router.get(
    "/upload/{file_id}/status",
    response_model=FileStatusOut,
    summary="Processing status of an uploaded file",
    responses=errors(*SCOPED_ERRORS, FileNotFound, InvalidRequest),
)
async def upload_status(
    file_id: uuid.UUID, principal: FilesReader, db: SessionDep
) -> FileStatusOut:
    file = await service.get_owned(db, file_id, principal.user_id)
    return FileStatusOut(
        id=file.id,
        status=file.status,
        progress=file.progress,
        message=file.message,
        error=file.error,
    )


@router.get(
    "/upload/{file_id}/result",
    response_model=FileResult,
    summary="Signed URLs of the original and its processed variants",
    responses=errors(*SCOPED_ERRORS, FileNotFound, NotProcessed, InvalidRequest),
)
async def upload_result(
    file_id: uuid.UUID, principal: FilesReader, db: SessionDep, runtime: RuntimeDep
) -> FileResult:
    file = await service.get_owned(db, file_id, principal.user_id)
    original, variants = await service.signed_result(
        file, runtime.storage, runtime.settings.storage.signed_url_ttl
    )
    return FileResult(
        id=file.id,
        original_url=original,
        variants={name: VariantOut(**info) for name, info in variants.items()},
    )


@router.get(
    "/files",
    response_model=Page[FileSummary],
    summary="The caller's files, newest first",
    responses=errors(*SCOPED_ERRORS, InvalidRequest),
)
async def list_files(
    principal: FilesReader,
    db: SessionDep,
    paging: Annotated[PageParams, Depends(pagination())],
) -> Page[FileSummary]:
    files, total = await service.list_owned(db, principal.user_id, paging)
    return Page[FileSummary].of(
        [FileSummary.model_validate(f) for f in files], total=total, params=paging
    )


@router.get(
    "/files/{file_id}",
    response_model=FileDetail,
    summary="A file's metadata, status, extracted data and processing jobs",
    responses=errors(*SCOPED_ERRORS, FileNotFound, InvalidRequest),
)
async def get_file(file_id: uuid.UUID, principal: FilesReader, db: SessionDep) -> FileDetail:
    file = await service.get_owned(db, file_id, principal.user_id)
    jobs = await service.jobs_of(db, file.id)
    summary = FileSummary.model_validate(file).model_dump()
    return FileDetail(
        **summary,
        message=file.message,
        error=file.error,
        declared_content_type=file.declared_content_type,
        extracted_data=file.extracted_data,
        updated_at=file.updated_at,
        processed_at=file.processed_at,
        jobs=[FileJobOut.model_validate(j) for j in jobs],
    )


@router.post(
    "/files/{file_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=FileStatusOut,
    summary="Queue a failed file for processing again",
    responses=errors(*SCOPED_ERRORS, FileNotFound, NotRetryable, InvalidRequest),
)
async def retry_file(file_id: uuid.UUID, principal: FilesWriter, db: SessionDep) -> FileStatusOut:
    file = await service.get_owned(db, file_id, principal.user_id)
    file = await service.retry(db, file)
    return FileStatusOut(
        id=file.id,
        status=file.status,
        progress=file.progress,
        message=file.message,
        error=file.error,
    )


@router.delete(
    "/files/{file_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a file, its original and every variant",
    responses=errors(*SCOPED_ERRORS, FileNotFound, InvalidRequest),
)
async def delete_file(
    file_id: uuid.UUID, principal: FilesWriter, db: SessionDep, runtime: RuntimeDep
) -> Response:
    file = await service.get_owned(db, file_id, principal.user_id)
    await service.delete(db, runtime.storage, file)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
