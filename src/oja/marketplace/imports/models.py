"""Bulk imports of products: one ``product_import`` per uploaded file, the failed rows of its
report, and the handle that makes rows of later files variants of the same product.

An import is applied in batches; each batch commits with its checkpoint (``rows_done`` and the
counts), so a retried job resumes after the last committed batch and never applies a row twice.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.clock import utcnow
from oja.core.db import Base, IdMixin, TimestampMixin, one_of, status_column
from oja.marketplace.tenancy import VendorOwned


class ImportStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class ImportFormat(enum.StrEnum):
    csv = "csv"
    xlsx = "xlsx"
    aliexpress = "aliexpress"
    """Products picked on AliExpress: the stored "file" is the request (JSON), one row a product."""


class ProductImport(IdMixin, TimestampMixin, VendorOwned, Base):
    __tablename__ = "product_import"
    __table_args__ = (
        UniqueConstraint("vendor_id", "idempotency_key"),
        Index("ix_product_import_vendor_id_created_at", "vendor_id", "created_at"),
    )

    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    filename: Mapped[str | None] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(one_of(ImportFormat, name="format_valid", length=16))
    storage_key: Mapped[str] = mapped_column(String(512))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = status_column(ImportStatus, default=ImportStatus.queued)
    rows_total: Mapped[int | None] = mapped_column()
    """Data rows in the file, known once the job has counted them."""
    rows_done: Mapped[int] = mapped_column(default=0)
    """Data rows applied and committed: the checkpoint a retried job resumes after."""
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    unknown_columns: Mapped[list[Any]] = mapped_column(default=list)
    error: Mapped[str | None] = mapped_column(Text)
    """Why the whole import failed (unreadable file, missing required columns, …)."""
    job_id: Mapped[uuid.UUID | None] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()


class ProductImportRow(IdMixin, VendorOwned, Base):
    """One failed row of an import's report: its row number in the file, its SKU and why."""

    __tablename__ = "product_import_row"
    __table_args__ = (UniqueConstraint("import_id", "row_number"),)

    import_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("product_import.id", ondelete="CASCADE")
    )
    row_number: Mapped[int] = mapped_column()
    """1-based line of the sheet, the header being row 1."""
    sku: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProductHandle(IdMixin, VendorOwned, Base):
    """The ``handle`` (or, without one, the title) that imported rows name their product by."""

    __tablename__ = "product_handle"
    __table_args__ = (UniqueConstraint("vendor_id", "handle"),)

    handle: Mapped[str] = mapped_column(String(200))
    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("product.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
