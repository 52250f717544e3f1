"""Response bodies of the files API (the request body is a streamed multipart form)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_ID = "0196f3a2-7c1e-7d4a-9b1e-3f2a1c0d9e8b"
_CREATED = "2026-11-25T12:00:00Z"

_UPLOADED_EXAMPLE: dict[str, Any] = {
    "id": _ID,
    "status": "uploaded",
    "filename": "holiday.jpg",
    "size": 2483021,
    "content_type": "image/jpeg",
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "title": "Holiday",
    "description": "Lagos beach, December",
    "created_at": _CREATED,
}


class UploadedFile(BaseModel):
    """A file as it was accepted: stored, checksummed, queued for processing."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [_UPLOADED_EXAMPLE]}
    )

    id: uuid.UUID
    status: str = Field(description="uploaded | processing | processed | failed")
    filename: str = Field(description="The sanitised client file name (metadata only).")
    size: int = Field(description="Bytes stored.")
    content_type: str = Field(description="Sniffed from the bytes, not taken from the client.")
    sha256: str
    title: str | None
    description: str | None
    created_at: datetime


class FileStatusOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    "status": "processing",
                    "progress": 50,
                    "message": "rendering the image variants",
                    "error": None,
                },
                {
                    "id": _ID,
                    "status": "failed",
                    "progress": 0,
                    "message": "processing failed",
                    "error": "the image is 20000x20000 = 400000000 pixels, over the limit of "
                    "50000000",
                },
            ]
        }
    )

    id: uuid.UUID
    status: str
    progress: int = Field(ge=0, le=100)
    message: str | None
    error: str | None


class VariantOut(BaseModel):
    url: str = Field(description="Signed URL, valid for OJA_SIGNED_URL_TTL seconds.")
    width: int
    height: int
    bytes: int
    format: str


class FileResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    "original_url": "http://127.0.0.1:8000/storage/files/…/original?expires=…",
                    "variants": {
                        "resized": {
                            "url": "http://127.0.0.1:8000/storage/files/…/variants/resized.jpg?…",
                            "width": 1600,
                            "height": 1200,
                            "bytes": 402113,
                            "format": "jpeg",
                        },
                        "thumbnail": {
                            "url": "http://127.0.0.1:8000/storage/files/…/variants/thumbnail.jpg?…",
                            "width": 256,
                            "height": 192,
                            "bytes": 12043,
                            "format": "jpeg",
                        },
                    },
                }
            ]
        }
    )

    id: uuid.UUID
    original_url: str
    variants: dict[str, VariantOut] = Field(
        description="resized, compressed (WebP), compressed_jpeg, thumbnail; empty for files "
        "that are not images."
    )


class FileJobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    status: str = Field(description="queued | running | succeeded | failed")
    attempts: int
    progress: int
    last_error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class FileSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    filename: str
    title: str | None
    description: str | None
    size: int
    content_type: str
    sha256: str
    status: str
    progress: int
    created_at: datetime


class FileDetail(FileSummary):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    **_UPLOADED_EXAMPLE,
                    "status": "processed",
                    "progress": 100,
                    "message": "processed",
                    "error": None,
                    "declared_content_type": "image/jpeg",
                    "updated_at": _CREATED,
                    "processed_at": _CREATED,
                    "extracted_data": {
                        "sha256": _UPLOADED_EXAMPLE["sha256"],
                        "checksum_verified": True,
                        "size": 2483021,
                        "content_type": "image/jpeg",
                        "kind": "image",
                        "image": {"width": 4000, "height": 3000, "format": "jpeg", "pages": 1},
                    },
                    "jobs": [
                        {
                            "id": "0196f3a2-7c1f-7000-8000-000000000001",
                            "kind": "files.process",
                            "status": "succeeded",
                            "attempts": 1,
                            "progress": 100,
                            "last_error": None,
                            "created_at": _CREATED,
                            "started_at": _CREATED,
                            "finished_at": _CREATED,
                        }
                    ],
                }
            ]
        },
    )

    message: str | None
    error: str | None
    declared_content_type: str | None = Field(description="What the client claimed; not trusted.")
    extracted_data: dict[str, Any] | None = Field(
        description="checksum, sniffed type, kind, text excerpt or image info."
    )
    updated_at: datetime
    processed_at: datetime | None
    jobs: list[FileJobOut]
