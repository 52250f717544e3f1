"""The ``document`` table: an uploaded file, its text, its analysis and where its processing stands.

Status flow (the upper-case values are part of the API): ``UPLOADED`` (stored; a job extracts the text) →
``PROCESSING`` (one processing job owns it: ``job_id``) → ``COMPLETED`` | ``FAILED`` (``error_code``,
``error``). A ``FAILED`` or ``COMPLETED`` document may be processed again; a ``PROCESSING`` one is
never given a second job. ``chunk_count`` is 0 until the retrieval module indexes the text.
Indexing runs beside processing (``documents.text_extracted`` starts it): ``indexed_at`` says whether
the current text is searchable, independently of the analysis ``status``.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.db import Base, IdMixin, StatusMixin, one_of


class DocumentStatus(enum.StrEnum):
    UPLOADED = "UPLOADED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class Document(IdMixin, StatusMixin, Base):
    __tablename__ = "document"
    statuses = DocumentStatus
    __table_args__ = (
        CheckConstraint("size >= 0", name="size_positive"),
        CheckConstraint("chunk_count >= 0", name="chunk_count_positive"),
        Index("ix_document_owner_id_created_at", "owner_id", "created_at"),
    )

    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))
    """Sanitised client file name: metadata only, never part of the storage key."""
    storage_key: Mapped[str] = mapped_column(String(512))
    kind: Mapped[str] = mapped_column(one_of(("pdf", "docx", "txt"), name="kind_valid", length=8))
    content_type: Mapped[str] = mapped_column(String(255))
    """Sniffed from the bytes; what the client declared is not trusted."""
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str | None] = mapped_column(String(16))
    """Last stage reached or failed in: ``extract`` or ``analyze``."""
    job_id: Mapped[uuid.UUID | None] = mapped_column()
    """The processing job that owns a PROCESSING document (the kernel's ``job`` row)."""
    process_count: Mapped[int] = mapped_column(default=0)
    """How many processing runs were started; part of each run's job dedupe key."""
    process_idempotency_key: Mapped[str | None] = mapped_column(String(200))
    """The ``Idempotency-Key`` that started the current run, so a replay gets the same answer."""
    error_code: Mapped[str | None] = mapped_column(String(50))
    error: Mapped[str | None] = mapped_column(Text)
    pages: Mapped[int | None] = mapped_column()
    text: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    document_type: Mapped[str | None] = mapped_column(String(32))
    extracted_metadata: Mapped[dict[str, Any] | None] = mapped_column()
    analysis: Mapped[dict[str, Any] | None] = mapped_column()
    """``{provider, model, prompt_version, usage, chunks}`` of the analysis that produced the fields."""
    chunk_count: Mapped[int] = mapped_column(default=0)
    """Chunks indexed for retrieval; written by the RAG module, 0 until then."""
    indexed_at: Mapped[datetime | None] = mapped_column()
    """When the RAG module finished indexing the current text; None while that is pending."""
    extracted_at: Mapped[datetime | None] = mapped_column()
    analyzed_at: Mapped[datetime | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
