"""SQL of the documents module. Nothing here commits."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.jobs import Job
from oja.documents.models import Document, DocumentStatus


async def owned(
    session: AsyncSession, document_id: uuid.UUID, owner_id: uuid.UUID
) -> Document | None:
    result = await session.execute(
        select(Document).where(Document.id == document_id, Document.owner_id == owner_id)
    )
    return result.scalar_one_or_none()


async def by_id(session: AsyncSession, document_id: uuid.UUID) -> Document | None:
    return await session.get(Document, document_id, populate_existing=True)


async def page_of(
    session: AsyncSession, owner_id: uuid.UUID, *, offset: int, limit: int
) -> tuple[list[Any], int]:
    """One page of an owner's documents (listing columns only: never the text), and the total."""
    total = await session.scalar(
        select(func.count()).select_from(Document).where(Document.owner_id == owner_id)
    )
    rows = await session.execute(
        select(
            Document.id,
            Document.filename,
            Document.status,
            Document.created_at,
            Document.pages,
            Document.size,
            Document.chunk_count,
            Document.content_type,
            Document.document_type,
        )
        .where(Document.owner_id == owner_id)
        .order_by(Document.created_at.desc(), Document.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(rows.all()), int(total or 0)


async def claim_for_processing(
    session: AsyncSession,
    document_id: uuid.UUID,
    *,
    from_statuses: tuple[DocumentStatus, ...],
    idempotency_key: str | None,
) -> int | None:
    """Move the document to PROCESSING if its status is one of ``from_statuses``; the run number.

    One conditional UPDATE: of concurrent callers exactly one sees its row updated (PostgreSQL
    re-checks the condition after the winner commits; SQLite serialises writers), so exactly one
    job is ever enqueued per run.
    """
    result = await session.execute(
        update(Document)
        .where(Document.id == document_id, Document.status.in_(from_statuses))
        .values(
            status=DocumentStatus.PROCESSING,
            stage="queued",
            process_count=Document.process_count + 1,
            process_idempotency_key=idempotency_key,
            error=None,
            error_code=None,
            updated_at=utcnow(),
        )
        .returning(Document.process_count)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none()


async def set_job(session: AsyncSession, document_id: uuid.UUID, job_id: uuid.UUID) -> None:
    await session.execute(
        update(Document)
        .where(Document.id == document_id)
        .values(job_id=job_id)
        .execution_options(synchronize_session=False)
    )


async def mark_failed(
    session: AsyncSession,
    document_id: uuid.UUID,
    *,
    expected_status: DocumentStatus,
    job_id: uuid.UUID | None,
    stage: str,
    code: str,
    message: str,
    extracted: dict[str, Any] | None = None,
) -> bool:
    """FAILED with the reason, only if the document is still where this job left it."""
    condition = [Document.id == document_id, Document.status == expected_status]
    if job_id is not None:
        condition.append(Document.job_id == job_id)
    now = utcnow()
    result = await session.execute(
        update(Document)
        .where(*condition)
        .values(
            status=DocumentStatus.FAILED,
            stage=stage,
            error_code=code,
            error=message[:2000],
            updated_at=now,
            **(extracted or {}),
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def job(session: AsyncSession, job_id: uuid.UUID) -> Job | None:
    return await session.get(Job, job_id, populate_existing=True)
