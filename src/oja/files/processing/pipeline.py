"""What ``files.process`` does with one file: verify, sniff, extract text, render image variants.

State: the file row says ``processing`` (with progress and a message) in short transactions of its
own while the job runs; ``processed`` is written in the job's own transaction, so it commits
together with the job's success and only for the attempt that still owns the job. A failure is
written at once when it is final (bad input, or no attempts left); otherwise the file keeps
``processing`` with a message while the job waits for its retry. A worker killed on the last
attempt writes nothing: the sweeper fails the job and ``files.process``'s failure hook fails the
file (:mod:`oja.files.jobs`), through the same :func:`record_failure`.

Idempotent: variant keys are fixed per file, so a re-run (after a crash or a retry) overwrites the
same objects rather than adding new ones.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.db import own_transaction
from oja.core.jobs import JobContext, PermanentJobError
from oja.core.storage import ObjectNotFound, Storage
from oja.files import repository
from oja.files.config import FilesSettings
from oja.files.keys import VARIANT_FILES, variant_key
from oja.files.models import PRODUCT_IMAGE_PROFILE, FileStatus
from oja.files.processing import images, text
from oja.files.repository import FileSnapshot
from oja.files.sniffing import SNIFF_BYTES, kind_of, sniff

log = structlog.get_logger("oja.files")
T = TypeVar("T")


class StageTimeout(Exception):
    pass


async def _stage(name: str, timeout: float, work: Awaitable[T]) -> T:
    try:
        return await asyncio.wait_for(work, timeout)
    except TimeoutError as exc:
        raise StageTimeout(f"stage {name!r} took longer than {timeout:g} s") from exc


async def _blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await asyncio.to_thread(fn, *args, **kwargs)


async def process(ctx: JobContext, file_id: uuid.UUID, *, max_attempts: int) -> dict[str, Any]:
    runtime = ctx.runtime
    database = runtime.database
    file = await repository.snapshot(database, file_id)
    if file is None:
        return {"skipped": "the file was deleted"}
    if file.status == FileStatus.processed:
        return {"skipped": "already processed"}
    settings = ctx.runtime.settings.section(FilesSettings)
    final_attempt = ctx.attempt >= max_attempts

    async def step(percent: int, message: str) -> None:
        await repository.mark(database, file_id, progress=percent, message=message)
        await ctx.progress(percent, message)

    await repository.mark(
        database,
        file_id,
        status=FileStatus.processing,
        progress=5,
        message="verifying the checksum",
        error=None,
    )
    try:
        extracted, variants = await _run(ctx, file, settings, step)
    except asyncio.CancelledError:
        if final_attempt:  # the job's own time limit: the file must not stay "processing"
            await asyncio.shield(_fail(ctx, file_id, "timed out"))
        raise
    except Exception as exc:
        reason = _reason(exc)
        permanent = isinstance(exc, PermanentJobError | images.ImageRejected | text.TextRejected)
        # The uploader reads `reason`; what the library said stays here, in the log.
        log.warning(
            "files.file.attempt_failed",
            file_id=str(file_id),
            attempt=ctx.attempt,
            reason=reason,
            detail=_detail(exc),
        )
        if permanent or final_attempt:
            await _fail(ctx, file_id, reason)
        else:
            await repository.mark(
                database,
                file_id,
                message=f"attempt {ctx.attempt} failed, will retry: {reason}"[:500],
            )
        if permanent and not isinstance(exc, PermanentJobError):
            raise PermanentJobError(reason) from exc
        raise
    if not await repository.complete(
        ctx.session, file_id, extracted_data=extracted, variants=variants
    ):
        # Deleted while we worked: its delete already ran, so remove what we just wrote.
        for name, extension in VARIANT_FILES:
            await runtime.storage.delete(variant_key(file.owner_id, file_id, name, extension))
        return {"skipped": "the file was deleted"}
    log.info("files.file.processed", file_id=str(file_id), kind=extracted.get("kind"))
    return {"status": FileStatus.processed, "variants": sorted(variants)}


async def _fail(ctx: JobContext, file_id: uuid.UUID, reason: str) -> None:
    """Fail the file at once, in a short transaction of its own (pollers see it before the job's
    own failure is recorded); the job's failure hook then finds nothing left to do."""
    async with own_transaction(ctx.runtime.database) as session:
        changed = await record_failure(session, file_id, reason)
    if not changed:
        log.info("files.file.fail_skipped", file_id=str(file_id), reason=reason)


async def record_failure(
    session: AsyncSession, file_id: uuid.UUID, reason: str, *, job_id: uuid.UUID | None = None
) -> bool:
    """``failed`` with the reason unless the file already ended (see :func:`repository.fail`);
    shared by the job's own error handling and its failure hook."""
    changed = await repository.fail(session, file_id, reason, job_id=job_id)
    if changed:
        log.warning("files.file.failed", file_id=str(file_id), reason=reason)
    return changed


def _reason(exc: BaseException) -> str:
    """What the uploader is told (the file's ``error`` and ``message``): never a library's text."""
    if isinstance(exc, PermanentJobError | images.ImageRejected | text.TextRejected):
        return str(exc)
    if isinstance(exc, StageTimeout):
        return str(exc)
    return "Processing failed unexpectedly."


def _detail(exc: BaseException) -> str:
    """What went wrong in the library's own words, for the log only."""
    detail = getattr(exc, "detail", None)
    if isinstance(detail, str):
        return detail
    return f"{type(exc).__name__}: {exc}"[:2000]


Step = Callable[[int, str], Awaitable[None]]


async def _run(
    ctx: JobContext, file: FileSnapshot, settings: FilesSettings, step: Step
) -> tuple[dict[str, Any], dict[str, Any]]:
    storage = ctx.runtime.storage
    timeout = settings.file_stage_timeout
    with tempfile.TemporaryDirectory(prefix="oja-file-") as folder:
        path = Path(folder) / "original"
        size, digest, head = await _stage("download", timeout, _download(storage, file, path))
        if digest != file.sha256 or size != file.size:
            raise PermanentJobError(
                "checksum mismatch: the stored object is not the bytes that were uploaded"
            )
        content_type = sniff(head)
        kind = kind_of(content_type)
        extracted: dict[str, Any] = {
            "sha256": digest,
            "checksum_verified": True,
            "size": size,
            "content_type": content_type,
            "kind": kind,
        }
        variants: dict[str, Any] = {}
        await step(30, f"checksum verified; reading the {kind} file")
        if kind == "image":
            info = await _stage(
                "image header",
                timeout,
                _blocking(images.inspect, path, settings.max_image_pixels),
            )
            extracted["image"] = {
                "width": info.width,
                "height": info.height,
                "format": info.format,
                "pages": info.pages,
                "has_alpha": info.has_alpha,
                "orientation": info.orientation,
            }
            await step(50, "rendering the image variants")
            options = images.VariantOptions(
                resize_px=settings.image_resize_px,
                thumbnail_px=settings.image_thumbnail_px,
                quality=settings.image_quality,
                resized_quality=settings.image_resized_quality,
                webp_effort=settings.webp_effort,
                extra_sizes=_profile_sizes(file.image_profile, settings),
            )
            rendered = await _stage(
                "image variants", timeout, _blocking(images.render, path, options)
            )
            await step(80, "storing the image variants")
            variants = await _stage(
                "store variants", timeout, _store_variants(storage, file, rendered)
            )
        elif kind != "other":
            await step(50, "extracting text")
            excerpt = await _stage("text", timeout, _blocking(_extract_text, kind, path, settings))
            extracted["text"] = excerpt.as_dict()
    return extracted, variants


def _profile_sizes(profile: str | None, settings: FilesSettings) -> tuple[tuple[str, int], ...]:
    if profile == PRODUCT_IMAGE_PROFILE:
        return (("listing", settings.image_listing_px), ("detail", settings.image_detail_px))
    return ()


def _extract_text(kind: str, path: Path, settings: FilesSettings) -> text.TextExcerpt:
    limit = settings.text_excerpt_chars
    if kind == "pdf":
        return text.pdf_text(path, limit)
    if kind == "docx":
        return text.docx_text(
            path,
            limit,
            max_total=settings.max_archive_expansion_bytes,
            max_ratio=settings.max_archive_ratio,
        )
    return text.plain_text(path, limit)


async def _download(storage: Storage, file: FileSnapshot, path: Path) -> tuple[int, str, bytes]:
    """Copy the original to ``path``, hashing it on the way; returns size, SHA-256, first bytes."""
    hasher = hashlib.sha256()
    size = 0
    head = bytearray()
    try:
        with path.open("wb") as handle:
            async for chunk in storage.open(file.storage_key):
                hasher.update(chunk)
                size += len(chunk)
                if len(head) < SNIFF_BYTES:
                    head += chunk[: SNIFF_BYTES - len(head)]
                await asyncio.to_thread(handle.write, chunk)
    except ObjectNotFound as exc:
        raise PermanentJobError("the original object is missing from storage") from exc
    return size, hasher.hexdigest(), bytes(head)


async def _store_variants(
    storage: Storage, file: FileSnapshot, rendered: list[images.EncodedVariant]
) -> dict[str, Any]:
    variants: dict[str, Any] = {}
    for variant in rendered:
        key = variant_key(file.owner_id, file.id, variant.name, variant.extension)
        stored = await storage.put(key, _one(variant.data), content_type=variant.content_type)
        variants[variant.name] = {
            "key": key,
            "width": variant.width,
            "height": variant.height,
            "bytes": stored.size,
            "format": variant.format,
        }
    return variants


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data
