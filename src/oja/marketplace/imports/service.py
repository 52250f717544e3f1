"""Import rules: accept a file (sniffed, size-limited, stored), report on it, and run it.

A run streams the file and applies it in batches (:mod:`.batches`). Each batch is a unit of work
of its own — the one exception to "one unit of work per job": a 100,000-row file in one
transaction would hold its row locks (and SQLite's write lock) for minutes and lose everything to
a crash near the end. A batch commits with its checkpoint: ``rows_done`` is advanced by a
compare-and-set, the first statement of the batch's transaction, so an attempt that lost its job
(a worker thought dead, a duplicate delivery) cannot apply a batch that another attempt applied,
and a retried job resumes after the last committed batch without doubling a price change or a
stock movement. Jobs a batch enqueues (image fetches) are published after its commit. A dry run
plans every batch the same way and writes only its report.
"""

from __future__ import annotations

import functools
import hashlib
import tempfile
import uuid
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.db import (
    Database,
    after_rollback,
    is_sqlite,
    own_transaction,
    read_only,
    unit_of_work,
)
from oja.core.ids import uuid7
from oja.core.jobs import EnqueueOptions, JobContext
from oja.core.pagination import Page, PageParams
from oja.core.runtime import Runtime
from oja.core.storage import Storage
from oja.files.errors import EmptyFile
from oja.files.upload_stream import MultipartUpload, prefetched
from oja.marketplace.catalog.jobs import fetch_product_image
from oja.marketplace.errors import ImportKeyReused, ImportNotFound, UnsupportedImportFile
from oja.marketplace.imports import batches, parsing, repository
from oja.marketplace.imports.config import ImportsSettings
from oja.marketplace.imports.jobs import run_import
from oja.marketplace.imports.models import ImportFormat, ImportStatus, ProductImport
from oja.marketplace.imports.schemas import (
    FailedRow,
    ImportCounts,
    ImportDetail,
    ImportOut,
    ImportProgress,
)
from oja.marketplace.search import service as search
from oja.marketplace.vendors.service import VendorContext

SNIFF_BYTES = 4096
DETAIL_FAILED_ROWS = 100
BATCH_ATTEMPTS = 3
CONTENT_TYPES = {
    ImportFormat.csv: "text/csv",
    ImportFormat.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
log = structlog.get_logger("oja.marketplace.imports")


class ImportSuperseded(Exception):
    """Another attempt moved the import's checkpoint: this one stops, its batch rolled back."""


# Accepting a file


async def create(
    db: AsyncSession,
    runtime: Runtime,
    ctx: VendorContext,
    body: MultipartUpload,
    *,
    dry_run: bool,
    idempotency_key: str | None,
) -> ProductImport:
    """Store the file and add the import with its job; the same ``idempotency_key`` again
    answers the first import (409 if the file or the mode differ)."""
    head = await body.read_head(SNIFF_BYTES)
    if not head:
        raise EmptyFile(
            "The file is empty.",
            details=[{"loc": ["body", "file"], "msg": "empty file", "type": "empty"}],
        )
    fmt = parsing.detect_format(head)
    if fmt is None:
        raise UnsupportedImportFile("Send a CSV file (UTF-8) or an XLSX workbook.")
    import_id = uuid7()
    key = f"imports/{ctx.vendor_id}/{import_id}.{fmt}"
    stored = await runtime.storage.put(
        key, prefetched(body.file_chunks()), content_type=CONTENT_TYPES[fmt]
    )
    after_rollback(db, functools.partial(runtime.storage.delete, key))
    if idempotency_key is not None:
        existing = await repository.by_key(db, ctx.vendor_id, idempotency_key)
        if existing is not None:
            await runtime.storage.delete(key)
            return same_request(existing, stored.sha256, dry_run)
    record = ProductImport(
        id=import_id,
        vendor_id=ctx.vendor_id,
        actor_id=ctx.user_id,
        filename=(body.filename or "")[:255] or None,
        format=fmt,
        storage_key=key,
        size=stored.size,
        sha256=stored.sha256,
        dry_run=dry_run,
        idempotency_key=idempotency_key,
        status=ImportStatus.queued,
        rows_done=0,
        created=0,
        updated=0,
        unchanged=0,
        failed=0,
        unknown_columns=[],
    )
    try:
        async with db.begin_nested():  # added inside: begin_nested flushes what is pending
            db.add(record)
            await db.flush()
    except IntegrityError:  # a concurrent request with the same key won
        assert idempotency_key is not None
        await runtime.storage.delete(key)
        winner = await repository.by_key(db, ctx.vendor_id, idempotency_key)
        if winner is None:
            raise
        return same_request(winner, stored.sha256, dry_run)
    # The job records its id on the import when it starts (an UPDATE here would be by id alone).
    run_import.enqueue(db, import_id=import_id, vendor_id=ctx.vendor_id)
    log.info(
        "marketplace.imports.accepted",
        import_id=str(import_id),
        vendor_id=str(ctx.vendor_id),
        size=stored.size,
        format=str(fmt),
        dry_run=dry_run,
    )
    return record


def same_request(existing: ProductImport, sha256: str, dry_run: bool) -> ProductImport:
    if existing.sha256 != sha256 or existing.dry_run != dry_run:
        raise ImportKeyReused(
            "This Idempotency-Key was already used for a different file or mode.",
            details={"import_id": str(existing.id)},
        )
    return existing


# Reporting


def import_out(record: ProductImport) -> ImportOut:
    return ImportOut(**_out_fields(record))


def _out_fields(record: ProductImport) -> dict[str, Any]:
    total = record.rows_total
    if record.status == ImportStatus.succeeded:
        percent = 100
    elif total:
        percent = min(99, record.rows_done * 100 // total)
    else:
        percent = 0
    return {
        "id": record.id,
        "status": record.status,
        "dry_run": record.dry_run,
        "filename": record.filename,
        "format": record.format,
        "progress": ImportProgress(rows_done=record.rows_done, rows_total=total, percent=percent),
        "counts": ImportCounts(
            created=record.created,
            updated=record.updated,
            unchanged=record.unchanged,
            failed=record.failed,
        ),
        "unknown_columns": record.unknown_columns,
        "error": record.error,
        "created_at": record.created_at,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
    }


async def _own(db: AsyncSession, ctx: VendorContext, import_id: uuid.UUID) -> ProductImport:
    record = await repository.get(db, ctx.vendor_id, import_id)
    if record is None:
        raise ImportNotFound("No such import.")
    return record


async def detail(db: AsyncSession, ctx: VendorContext, import_id: uuid.UUID) -> ImportDetail:
    record = await _own(db, ctx, import_id)
    rows = await repository.failed_rows(
        db, ctx.vendor_id, import_id, offset=0, limit=DETAIL_FAILED_ROWS + 1
    )
    return ImportDetail(
        **_out_fields(record),
        failed_rows=[_failed(r) for r in rows[:DETAIL_FAILED_ROWS]],
        failed_rows_truncated=len(rows) > DETAIL_FAILED_ROWS,
    )


def _failed(row: Any) -> FailedRow:
    return FailedRow(row=row.row_number, sku=row.sku, reason=row.reason)


async def failures(
    db: AsyncSession, ctx: VendorContext, import_id: uuid.UUID, paging: PageParams
) -> Page[FailedRow]:
    await _own(db, ctx, import_id)
    total = await repository.count_failed_rows(db, ctx.vendor_id, import_id)
    rows = await repository.failed_rows(
        db, ctx.vendor_id, import_id, offset=paging.offset, limit=paging.per_page
    )
    return Page[FailedRow].of([_failed(r) for r in rows], total=total, params=paging)


async def list_imports(db: AsyncSession, ctx: VendorContext, paging: PageParams) -> Page[ImportOut]:
    records, total = await repository.page(db, ctx.vendor_id, paging)
    return Page[ImportOut].of([import_out(r) for r in records], total=total, params=paging)


# Running


async def _download(storage: Storage, key: str, path: Path) -> None:
    with path.open("wb") as out:
        async for chunk in storage.open(key):
            out.write(chunk)


async def _finish(
    database: Database,
    record: ProductImport,
    status: ImportStatus,
    error: str | None = None,
) -> None:
    async with own_transaction(database) as db:
        await repository.finish(db, record.vendor_id, record.id, status=status, error=error)


async def run(ctx: JobContext, import_id: uuid.UUID, vendor_id: uuid.UUID) -> dict[str, Any]:
    """Apply the import (or check it, for a dry run); see the module's docstring."""
    runtime = ctx.runtime
    database = runtime.database
    settings = runtime.settings.section(ImportsSettings)
    async with read_only(database) as db:
        record = await repository.get(db, vendor_id, import_id)
    if record is None or record.status in (ImportStatus.succeeded, ImportStatus.failed):
        return {"skipped": True}
    fmt = ImportFormat(record.format)
    with tempfile.TemporaryDirectory(prefix="oja-import-") as folder:
        path = Path(folder) / f"import.{fmt}"
        await _download(runtime.storage, record.storage_key, path)
        try:
            total = parsing.count_rows(path, fmt)
            with parsing.open_sheet(path, fmt) as sheet:
                if sheet.missing:
                    await _finish(
                        database,
                        record,
                        ImportStatus.failed,
                        f"Required columns missing: {', '.join(sheet.missing)}.",
                    )
                    return {"failed": "missing columns"}
                async with own_transaction(database) as db:
                    started = await repository.start(
                        db,
                        vendor_id,
                        import_id,
                        job_id=ctx.job_id,
                        rows_total=total,
                        unknown_columns=sheet.unknown,
                    )
                if not started:
                    return {"skipped": True}
                state = batches.RunState(
                    vendor_id=vendor_id,
                    actor_id=record.actor_id,
                    dry_run=record.dry_run,
                    lock=not is_sqlite(database.url),
                    max_failed_rows=settings.import_max_failed_rows,
                    failed_kept=record.failed,
                )
                await _apply(
                    ctx, state, record, sheet, total=total, batch_rows=settings.import_batch_rows
                )
        except parsing.UnreadableFile as exc:
            await _finish(database, record, ImportStatus.failed, str(exc)[:2000])
            return {"failed": str(exc)[:200]}
        except ImportSuperseded:
            log.warning("marketplace.imports.superseded", import_id=str(import_id))
            return {"superseded": True}
    await _finish(database, record, ImportStatus.succeeded)
    log.info("marketplace.imports.finished", import_id=str(import_id), rows=total)
    return {"rows": total}


async def _apply(
    ctx: JobContext,
    state: batches.RunState,
    record: ProductImport,
    sheet: parsing.Sheet,
    *,
    total: int,
    batch_rows: int,
) -> None:
    done = record.rows_done
    position = 0
    items: list[parsing.Row | parsing.Failure] = []
    for number, raw in sheet.rows:
        position += 1
        if position <= done:  # applied by an earlier attempt
            state.remember(number, raw)
            continue
        try:
            items.append(parsing.parse_row(number, raw))
        except parsing.RowError as exc:
            items.append(parsing.Failure(number, raw.get("sku") or None, str(exc)))
        if len(items) >= batch_rows:
            first = done == record.rows_done
            done = await _commit_batch(ctx, state, record, items, done)
            items = []
            if first and not state.dry_run:
                # The next batches' probes are planned from statistics that include this one.
                async with own_transaction(ctx.runtime.database) as db:
                    await repository.analyze_catalogue(db)
            await ctx.progress(done * 100 // max(total, 1), f"{done} of {total} rows")
    if items:
        await _commit_batch(ctx, state, record, items, done)


async def _commit_batch(
    ctx: JobContext,
    state: batches.RunState,
    record: ProductImport,
    items: list[parsing.Row | parsing.Failure],
    done: int,
) -> int:
    """Plan and write one batch with its checkpoint in one transaction; the new checkpoint."""
    for attempt in range(1, BATCH_ATTEMPTS + 1):
        try:
            async with unit_of_work(ctx.runtime.database) as db:
                if not await repository.claim_batch(
                    db, state.vendor_id, record.id, expected_done=done, rows_done=done + len(items)
                ):
                    raise ImportSuperseded
                batch = await batches.plan(db, state, record.id, items, utcnow())
                await batches.write(db, batch, dry_run=state.dry_run)
                if not state.dry_run:
                    await search.index_products(db, state.vendor_id, batch.searchable_changes())
                    await fetch_images(db, state.vendor_id, batch.images)
                await repository.add_counts(db, state.vendor_id, record.id, dict(batch.counts))
        except IntegrityError:
            # A request took one of the batch's SKUs (or handles) meanwhile: plan it again, and
            # those rows become updates.
            if attempt == BATCH_ATTEMPTS:
                raise
            log.info("marketplace.imports.batch_replanned", import_id=str(record.id))
            continue
        state.merge(batch)
        return done + len(items)
    raise AssertionError("unreachable")


def image_job_key(product_id: uuid.UUID, url: str) -> str:
    digest = hashlib.sha256(url.encode()).hexdigest()[:40]
    return f"marketplace.product_image:{product_id}:{digest}"


async def fetch_images(
    db: AsyncSession, vendor_id: uuid.UUID, images: list[tuple[uuid.UUID, str, int]]
) -> None:
    """Enqueue ``fetch_product_image`` for each product's URL that no job has asked for yet:
    the dedupe key is the product and the URL, so importing a file again fetches nothing again."""
    keyed = {image_job_key(pid, url): (pid, url, position) for pid, url, position in images}
    taken = await repository.existing_job_keys(db, list(keyed))
    for key, (product_id, url, position) in keyed.items():
        if key not in taken:
            fetch_product_image.enqueue_with(
                db,
                EnqueueOptions(dedupe_key=key),
                vendor_id=vendor_id,
                product_id=product_id,
                url=url,
                position=position,
            )


async def record_failure(
    db: AsyncSession, import_id: uuid.UUID, vendor_id: uuid.UUID, error: str
) -> None:
    """The job failed for good: so does the import, unless it already ended."""
    await repository.finish(
        db, vendor_id, import_id, status=ImportStatus.failed, error=error[:2000]
    )
