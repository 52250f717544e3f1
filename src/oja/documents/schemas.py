"""Request and response bodies of ``/documents``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

StatusValue = Literal["UPLOADED", "PROCESSING", "COMPLETED", "FAILED"]


class UploadedDocument(BaseModel):
    document_id: uuid.UUID
    filename: str
    status: StatusValue
    size: int
    content_type: str
    created_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> uuid.UUID:
        """Always equal to `document_id`, for clients that read `id`."""
        return self.document_id


class DocumentListItem(BaseModel):
    document_id: uuid.UUID
    filename: str
    status: StatusValue
    created_at: datetime
    pages: int | None
    size: int
    chunk_count: int
    content_type: str
    document_type: str | None


class AnalysisInfo(BaseModel):
    provider: str
    model: str
    prompt_version: str
    usage: dict[str, int]
    chunks: int = 1


class ErrorInfo(BaseModel):
    code: str
    message: str
    stage: str | None


class DocumentDetail(BaseModel):
    document_id: uuid.UUID
    filename: str
    content_type: str
    kind: Literal["pdf", "docx", "txt"]
    size: int
    sha256: str
    pages: int | None
    status: StatusValue
    text: str | None
    text_chars: int
    summary: str | None
    document_type: str | None
    metadata: dict[str, Any] | None
    analysis: AnalysisInfo | None
    error: ErrorInfo | None
    chunk_count: int
    chunks: list[dict[str, Any]] = Field(
        default_factory=list, description="Indexed chunks; empty until retrieval indexes documents."
    )
    created_at: datetime
    updated_at: datetime
    extracted_at: datetime | None
    analyzed_at: datetime | None
    completed_at: datetime | None
    indexed_at: datetime | None = None


class ProcessAccepted(BaseModel):
    document_id: uuid.UUID
    status: StatusValue
    job_id: uuid.UUID | None
    status_url: str


class DocumentStatusOut(BaseModel):
    """`progress` is 100 whenever `status` is `COMPLETED`. Indexing for `/query` runs beside
    processing: `indexed` says whether the current text is searchable yet (`stage` is `index`
    while a completed document waits for it)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "document_id": "0193a1f2-7c4e-7d3a-9b1e-5f6a7b8c9d0e",
                    "status": "COMPLETED",
                    "progress": 100,
                    "stage": "index",
                    "message": "Processing completed; the text is being indexed for search.",
                    "indexed": False,
                }
            ]
        }
    )

    document_id: uuid.UUID
    status: StatusValue
    progress: int
    stage: str | None
    message: str | None
    indexed: bool = Field(description="True once the current text is searchable by `/query`.")


class AnalysisOut(BaseModel):
    document_id: uuid.UUID
    status: StatusValue
    summary: str
    document_type: str
    metadata: dict[str, Any]
    analysis: AnalysisInfo
    analyzed_at: datetime


class ResultOut(BaseModel):
    document_id: uuid.UUID
    status: StatusValue
    filename: str
    pages: int | None
    text_chars: int
    summary: str
    document_type: str
    metadata: dict[str, Any]
    analysis: AnalysisInfo
    completed_at: datetime
