"""Import routes: upload a CSV/XLSX of products (202, applied by a job), follow it, read its report."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, status

from oja.core.dependencies import RuntimeDep, SessionDep
from oja.core.errors import InvalidRequest, errors
from oja.core.pagination import Page, PageParams, pagination
from oja.files.errors import EmptyFile, InvalidUpload, MalformedUpload, NotMultipart, UploadTooLarge
from oja.files.upload_stream import MultipartUpload
from oja.marketplace.errors import ImportKeyReused, ImportNotFound, UnsupportedImportFile
from oja.marketplace.imports import service
from oja.marketplace.imports.config import ImportsSettings, get_imports_settings
from oja.marketplace.imports.schemas import FailedRow, ImportDetail, ImportOut
from oja.marketplace.vendors.dependencies import (
    ACTIVE_VENDOR_ERRORS,
    VENDOR_ERRORS,
    ActiveVendor,
    CurrentVendor,
)

router = APIRouter(tags=["marketplace: imports"])

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


@router.post(
    "/vendors/me/imports",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ImportOut,
    summary="Import products from a CSV or XLSX file (applied in the background)",
    description="Multipart form with a `file` part: a CSV (UTF-8) or an XLSX workbook, one row per "
    "variant, told from its bytes and limited to OJA_IMPORT_MAX_BYTES. Upserts by SKU within your "
    "store; `dry_run=true` only reports what would happen. The same `Idempotency-Key` again "
    "answers the first import. The columns are documented in the README (Bulk product import).",
    openapi_extra=_UPLOAD_BODY,
    responses=errors(
        *ACTIVE_VENDOR_ERRORS,
        MalformedUpload,
        UploadTooLarge,
        NotMultipart,
        InvalidUpload,
        EmptyFile,
        UnsupportedImportFile,
        ImportKeyReused,
    ),
)
async def create_import(
    request: Request,
    vendor: ActiveVendor,
    db: SessionDep,
    runtime: RuntimeDep,
    settings: Annotated[ImportsSettings, Depends(get_imports_settings)],
    *,
    dry_run: Annotated[bool, Query(description="Validate only; change nothing.")] = False,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> ImportOut:
    body = MultipartUpload(
        request.stream(),
        request.headers.get("content-type"),
        max_file_bytes=settings.import_max_bytes,
        field_limits={},
    )
    record = await service.create(
        db, runtime, vendor, body, dry_run=dry_run, idempotency_key=idempotency_key
    )
    return service.import_out(record)


@router.get(
    "/vendors/me/imports",
    response_model=Page[ImportOut],
    summary="Your store's imports, newest first",
    responses=errors(*VENDOR_ERRORS, InvalidRequest),
)
async def list_imports(
    vendor: CurrentVendor,
    db: SessionDep,
    paging: Annotated[PageParams, Depends(pagination())],
) -> Page[ImportOut]:
    return await service.list_imports(db, vendor, paging)


@router.get(
    "/vendors/me/imports/{import_id}",
    response_model=ImportDetail,
    summary="An import's status, progress, counts and its first failed rows",
    responses=errors(*VENDOR_ERRORS, ImportNotFound, InvalidRequest),
)
async def get_import(import_id: uuid.UUID, vendor: CurrentVendor, db: SessionDep) -> ImportDetail:
    return await service.detail(db, vendor, import_id)


@router.get(
    "/vendors/me/imports/{import_id}/failures",
    response_model=Page[FailedRow],
    summary="Every failed row of an import with its reason, by row number",
    responses=errors(*VENDOR_ERRORS, ImportNotFound, InvalidRequest),
)
async def import_failures(
    import_id: uuid.UUID,
    vendor: CurrentVendor,
    db: SessionDep,
    paging: Annotated[PageParams, Depends(pagination(default_per_page=100))],
) -> Page[FailedRow]:
    return await service.failures(db, vendor, import_id, paging)
