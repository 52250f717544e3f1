"""Answers of the import routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

_ID = "01938f6e-7b1a-7c3e-9a55-3f1f0c2d4e5f"


class ImportProgress(BaseModel):
    rows_done: int = Field(description="Data rows applied (or, in a dry run, checked) so far.")
    rows_total: int | None = Field(description="Data rows in the file; null until counted.")
    percent: int = Field(ge=0, le=100)


class ImportCounts(BaseModel):
    created: int = Field(description="Rows that created a variant (and its product if new).")
    updated: int = Field(description="Rows that changed an existing variant or its product.")
    unchanged: int
    failed: int


class ImportOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    "status": "succeeded",
                    "dry_run": False,
                    "filename": "products.csv",
                    "format": "csv",
                    "progress": {"rows_done": 1000, "rows_total": 1000, "percent": 100},
                    "counts": {"created": 940, "updated": 8, "unchanged": 2, "failed": 50},
                    "unknown_columns": ["colour_hex"],
                    "error": None,
                    "created_at": "2026-12-06T10:00:00Z",
                    "started_at": "2026-12-06T10:00:01Z",
                    "finished_at": "2026-12-06T10:00:04Z",
                }
            ]
        }
    )

    id: uuid.UUID
    status: Literal["queued", "running", "succeeded", "failed"]
    dry_run: bool = Field(description="Validated only: the catalogue was not changed.")
    filename: str | None
    format: Literal["csv", "xlsx", "aliexpress"]
    progress: ImportProgress
    counts: ImportCounts
    unknown_columns: list[str] = Field(description="Header names that were not used (once each).")
    error: str | None = Field(description="Why the whole import failed, when it did.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class FailedRow(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"row": 7, "sku": "TOTE-RED", "reason": "price cannot be negative"}]
        }
    )

    row: int = Field(description="Row number in the sheet; the header is row 1.")
    sku: str | None
    reason: str


class ImportDetail(ImportOut):
    failed_rows: list[FailedRow] = Field(
        description="The first failed rows, by row number; all of them with "
        "GET /vendors/me/imports/{id}/failures."
    )
    failed_rows_truncated: bool = Field(description="More failed rows exist than are listed here.")
