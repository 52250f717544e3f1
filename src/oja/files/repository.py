"""SQL for files: every query that reads one file is scoped by its owner."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ColumnElement, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.db import Database, DriverRead, own_transaction, read_only
from oja.core.jobs import Job
from oja.core.jobs.outbox import take_buffered_rows
from oja.files.models import File, FileStatus

if TYPE_CHECKING:
    from oja.identity.dependencies import PendingSession

SUBJECT_TYPE = "file"


async def owned(session: AsyncSession, file_id: uuid.UUID, owner_id: uuid.UUID) -> File | None:
    result = await session.execute(
        select(File).where(File.id == file_id, File.owner_id == owner_id)
    )
    return result.scalar_one_or_none()


async def page_of(
    session: AsyncSession, owner_id: uuid.UUID, *, offset: int, limit: int
) -> tuple[list[File], int]:
    total = (
        await session.execute(select(func.count()).where(File.owner_id == owner_id))
    ).scalar_one()
    rows = await session.execute(
        select(File)
        .where(File.owner_id == owner_id)
        .order_by(File.created_at.desc(), File.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(rows.scalars()), int(total)


async def jobs_of(session: AsyncSession, file_id: uuid.UUID) -> list[Job]:
    rows = await session.execute(
        select(Job)
        .where(Job.subject_type == SUBJECT_TYPE, Job.subject_id == str(file_id))
        .order_by(Job.created_at.desc(), Job.id.desc())
    )
    return list(rows.scalars())


_FILE_TABLE = cast(Table, File.__table__)
_JOB_TABLE = cast(Table, Job.__table__)
_WITH_JOB: dict[tuple[tuple[str, ...], tuple[str, ...], bool], DriverRead] = {}
"""Per (file columns, job columns, guarded) — an upload always gives the same — compiled once."""


def _insert_with_job(
    file_columns: tuple[str, ...],
    job_columns: tuple[str, ...],
    condition: ColumnElement[bool] | None,
) -> DriverRead:
    # Every column with a Python-side default must be among the given ones: SQLAlchemy cannot
    # add them to an INSERT inside a CTE (a CompileError; the rows an upload builds are whole).
    guarded = condition is not None
    statement = _WITH_JOB.get((file_columns, job_columns, guarded))
    if statement is None:
        file_values = [
            bindparam(f"file_{name}", type_=_FILE_TABLE.c[name].type) for name in file_columns
        ]
        job_values = [
            bindparam(f"job_{name}", type_=_JOB_TABLE.c[name].type) for name in job_columns
        ]
        chosen = select(*file_values)
        if condition is not None:
            chosen = chosen.where(condition)
        new_file = (
            insert(_FILE_TABLE)
            .from_select(file_columns, chosen)
            .returning(_FILE_TABLE.c.id)
            .cte("new_file")
        )
        statement = DriverRead(
            insert(_JOB_TABLE)
            .from_select(job_columns, select(*job_values).select_from(new_file))
            .returning(_JOB_TABLE.c.id)
        )
        _WITH_JOB[file_columns, job_columns, guarded] = statement
    return statement


def supports_insert_with_job(database: Database) -> bool:
    """Whether :func:`insert_with_job` can run: PostgreSQL runs an INSERT inside ``WITH``; SQLite
    does not."""
    return database.engine.dialect.name == "postgresql"


async def insert_with_job(
    database: Database,
    file_values: dict[str, Any],
    job_values: dict[str, Any],
    *,
    pending: PendingSession | None = None,
) -> bool:
    """The file row and its processing job's row as one autocommit statement (``WITH new_file AS
    (INSERT INTO file … SELECT …) INSERT INTO job … SELECT … FROM new_file``) on the driver's
    connection: both or neither are committed, in one round trip instead of four (BEGIN, two
    INSERTs, COMMIT) and without the ORM's flush. PostgreSQL only
    (:func:`supports_insert_with_job`).

    ``pending``: the caller's session is checked by the same statement (its file row is selected
    only while the session is signed in). False when it was not, and nothing was written."""
    params = {f"file_{name}": value for name, value in file_values.items()}
    params.update((f"job_{name}", value) for name, value in job_values.items())
    if pending is not None:
        params.update(pending.params())
    condition = pending.condition if pending is not None else None
    statement = _insert_with_job(tuple(file_values), tuple(job_values), condition)
    return bool(await statement.rows(database, params))


def take_buffered_job_row(session: AsyncSession) -> dict[str, Any]:
    """The one job row an enqueue has just buffered on ``session`` (see
    :class:`oja.core.jobs.outbox.OutboxSession`), taken out so that the session's commit does
    not write it: the caller writes it itself. The publish scheduled with it stays."""
    (row,) = take_buffered_rows(session)
    return row


async def remove(session: AsyncSession, file_id: uuid.UUID) -> None:
    await session.execute(delete(File).where(File.id == file_id))


@dataclass(frozen=True)
class FileSnapshot:
    """What a processing job needs to know about a file, read outside its own transaction."""

    id: uuid.UUID
    owner_id: uuid.UUID
    storage_key: str
    sha256: str
    size: int
    status: str
    image_profile: str | None = None


async def snapshot(database: Database, file_id: uuid.UUID) -> FileSnapshot | None:
    async with read_only(database) as session:
        row = (
            await session.execute(
                select(
                    File.id,
                    File.owner_id,
                    File.storage_key,
                    File.sha256,
                    File.size,
                    File.status,
                    File.image_profile,
                ).where(File.id == file_id)
            )
        ).one_or_none()
    if row is None:
        return None
    return FileSnapshot(*row)


async def mark(database: Database, file_id: uuid.UUID, **values: Any) -> None:
    """Update a file's state in a short transaction of its own, so pollers see it at once.

    The job's own transaction writes nothing until its end, so on SQLite this never waits on it.
    """
    async with own_transaction(database) as session:
        await session.execute(
            update(File).where(File.id == file_id).values(**values, updated_at=utcnow())
        )


UNFINISHED = (FileStatus.uploaded, FileStatus.processing)


async def fail(
    session: AsyncSession, file_id: uuid.UUID, reason: str, *, job_id: uuid.UUID | None = None
) -> bool:
    """``uploaded | processing → failed`` with the reason; False if the file had already ended.

    With ``job_id``, only while that job is the file's latest processing job: the failure of a job
    that a retry has since replaced must not fail the retry's file.
    """
    if job_id is not None:
        latest = await session.scalar(
            select(Job.id)
            .where(Job.subject_type == SUBJECT_TYPE, Job.subject_id == str(file_id))
            .order_by(Job.created_at.desc(), Job.id.desc())
            .limit(1)
        )
        if latest != job_id:
            return False
    result = await session.execute(
        update(File)
        .where(File.id == file_id, File.status.in_(UNFINISHED))
        .values(
            status=FileStatus.failed,
            progress=0,
            message="processing failed",
            error=reason[:2000],
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def complete(
    session: AsyncSession,
    file_id: uuid.UUID,
    *,
    extracted_data: dict[str, Any],
    variants: dict[str, Any],
) -> bool:
    """Mark processed in the job's transaction (committed with the job's success, fenced by its
    attempt). False if the file was deleted meanwhile."""
    now = utcnow()
    result = await session.execute(
        update(File)
        .where(File.id == file_id)
        .values(
            status=FileStatus.processed,
            progress=100,
            message="processed",
            error=None,
            extracted_data=extracted_data,
            variants=variants,
            processed_at=now,
            updated_at=now,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
