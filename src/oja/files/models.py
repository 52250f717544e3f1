"""The ``file`` table: one uploaded object, its owner, its processing state and what it yielded.

Status flow (the values are part of the API): ``uploaded`` (stored, job queued) → ``processing`` → ``processed`` |
``failed``; a failed file may be retried (back to ``uploaded``). The job history lives in the
kernel's ``job`` table (subject ``file``/id).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.db import Base, IdMixin, StatusMixin


class FileStatus(enum.StrEnum):
    uploaded = "uploaded"
    processing = "processing"
    processed = "processed"
    failed = "failed"


PRODUCT_IMAGE_PROFILE = "product"
"""The image profile of marketplace product pictures: ``listing`` and ``detail`` sizes besides the
standard variants."""


class File(IdMixin, StatusMixin, Base):
    __tablename__ = "file"
    statuses = FileStatus
    __table_args__ = (
        CheckConstraint("progress >= 0 AND progress <= 100", name="progress_range"),
        CheckConstraint("size >= 0", name="size_positive"),
        Index("ix_file_owner_id_created_at", "owner_id", "created_at"),
    )

    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    original_filename: Mapped[str] = mapped_column(String(255))
    """Sanitised client file name: metadata only, never part of a storage key."""
    storage_key: Mapped[str] = mapped_column(String(512))
    title: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(255))
    """Sniffed from the bytes; the client's declaration is kept apart and never trusted."""
    declared_content_type: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    progress: Mapped[int] = mapped_column(default=0)
    message: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(Text)
    extracted_data: Mapped[dict[str, Any] | None] = mapped_column()
    variants: Mapped[dict[str, Any] | None] = mapped_column()
    """``{name: {key, width, height, bytes, format}}`` of the stored image variants."""
    processed_at: Mapped[datetime | None] = mapped_column()
    image_profile: Mapped[str | None] = mapped_column(String(32))
    """None for the standard image variants; ``product`` adds the marketplace's ``listing`` and
    ``detail`` sizes (see :mod:`.processing.images`). Set by the module that created the file."""

    @property
    def filename(self) -> str:
        return self.original_filename
