"""Product images: uploaded by the store or fetched from a URL, stored and processed by the files
pipeline (profile ``product``: ``listing`` and ``detail`` sizes besides the thumbnail), shown in
every product answer by position.

The file of a product image belongs to the store's owner (the first, by id, when there are
several), whoever uploaded it: the picture is the store's, not a staff member's. One image, one
file: deleting the image deletes its file and, once that commits, its stored objects.

Fetching from a URL is idempotent per product and URL: the ``unique(product_id, source_url)`` row
is written in the job's own transaction with the file, so a retried or repeated job finds it and
does nothing, and a job that fails leaves neither row nor object behind.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.db import discard
from oja.core.ids import uuid7
from oja.core.jobs import JobContext, PermanentJobError
from oja.core.runtime import Runtime, current_runtime
from oja.files import service as files_service
from oja.files.config import FilesSettings
from oja.files.errors import InvalidUpload
from oja.files.models import PRODUCT_IMAGE_PROFILE, File, FileStatus
from oja.files.sniffing import IMAGE_TYPES, SNIFF_BYTES
from oja.files.upload_stream import MultipartUpload
from oja.marketplace.catalog import remote, repository
from oja.marketplace.catalog.config import CatalogSettings
from oja.marketplace.catalog.models import ProductImage
from oja.marketplace.catalog.repository import ImageRow
from oja.marketplace.catalog.schemas import (
    ImageStatus,
    ProductImageOut,
    ProductImageUpdate,
    ProductImageUrls,
)
from oja.marketplace.errors import (
    ImageNotFound,
    NotAnImage,
    ProductNotFound,
    TooManyImages,
)
from oja.marketplace.vendors import repository as vendors_repository
from oja.marketplace.vendors.service import VendorContext

log = structlog.get_logger("oja.marketplace.catalog")

ALT_TEXT_MAX_CHARS = 500
MAX_POSITION = 10_000
SOURCE_URL_MAX_CHARS = 2048
FIELD_LIMITS = {"alt_text": ALT_TEXT_MAX_CHARS * 4, "position": 16}
"""Text fields of the upload form, in bytes (4 per character at most in UTF-8)."""


def _status(file_status: str) -> ImageStatus:
    if file_status == FileStatus.processed:
        return "ready"
    return "failed" if file_status == FileStatus.failed else "pending"


async def _urls(runtime: Runtime, row: ImageRow) -> ProductImageUrls | None:
    if row.file_status != FileStatus.processed:
        return None
    storage, ttl = runtime.storage, runtime.settings.storage.signed_url_ttl
    variants = row.variants or {}

    async def url(name: str) -> str | None:
        info = variants.get(name)
        return await storage.signed_url(info["key"], expires_in=ttl) if info else None

    return ProductImageUrls(
        listing=await url("listing"),
        detail=await url("detail"),
        thumbnail=await url("thumbnail"),
        original=await storage.signed_url(row.storage_key, expires_in=ttl),
    )


async def images_out(rows: Sequence[ImageRow]) -> dict[uuid.UUID, list[ProductImageOut]]:
    """Each product's images, by position then age (ids are time-ordered), with signed URLs."""
    runtime = current_runtime()
    by_product: dict[uuid.UUID, list[ProductImageOut]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r.position, r.id)):
        by_product[row.product_id].append(
            ProductImageOut(
                id=row.id,
                position=row.position,
                alt_text=row.alt_text,
                status=_status(row.file_status),
                urls=await _urls(runtime, row),
            )
        )
    return by_product


async def _owner_of(db: AsyncSession, vendor_id: uuid.UUID) -> uuid.UUID | None:
    owners = await vendors_repository.owner_ids(db, vendor_id)
    return min(owners) if owners else None


async def _one_out(db: AsyncSession, vendor_id: uuid.UUID, image: ProductImage) -> ProductImageOut:
    rows = await repository.vendor_images(db, vendor_id, [image.product_id])
    return next(out for out in (await images_out(rows))[image.product_id] if out.id == image.id)


async def _room_for_one(db: AsyncSession, vendor_id: uuid.UUID, product_id: uuid.UUID) -> int:
    """The next position; :class:`TooManyImages` when the product is full."""
    limit = current_runtime().settings.section(CatalogSettings).product_images_max
    count = await repository.count_images(db, vendor_id, product_id)
    if count >= limit:
        raise TooManyImages(
            f"A product has at most {limit} images; delete one first.", details={"max": limit}
        )
    return count


def _invalid(name: str, message: str) -> InvalidUpload:
    return InvalidUpload(
        f"The field `{name}` must be {message}.",
        details=[{"loc": ["body", name], "msg": message, "type": "value_error"}],
    )


def _position(raw: str | None, default: int) -> int:
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_POSITION:
        raise _invalid("position", f"an integer from 0 to {MAX_POSITION}")
    return value


def _alt_text(raw: str | None) -> str | None:
    value = (raw or "").replace("\x00", "").strip()
    if len(value) > ALT_TEXT_MAX_CHARS:
        raise _invalid("alt_text", f"at most {ALT_TEXT_MAX_CHARS} characters")
    return value or None


async def upload(
    db: AsyncSession, ctx: VendorContext, product_id: uuid.UUID, body: MultipartUpload
) -> ProductImageOut:
    """Store the uploaded picture (its processing queued) and add it to the product: at the end,
    or at the ``position`` the form gives."""
    if await repository.vendor_product(db, ctx.vendor_id, product_id) is None:
        raise ProductNotFound("No such product.")
    next_position = await _room_for_one(db, ctx.vendor_id, product_id)
    owner = await _owner_of(db, ctx.vendor_id) or ctx.user_id
    runtime = current_runtime()
    files_settings = runtime.settings.section(FilesSettings)
    file = await files_service.upload(
        db, runtime, files_settings, owner_id=owner, body=body, image_profile=PRODUCT_IMAGE_PROFILE
    )
    if file.content_type not in IMAGE_TYPES:  # the unit of work rolls back: the object goes too
        raise NotAnImage(
            f"The file is not an image (its bytes are {file.content_type}).",
            details={"content_type": file.content_type},
        )
    image = ProductImage(
        id=uuid7(),
        vendor_id=ctx.vendor_id,
        product_id=product_id,
        file_id=file.id,
        position=_position(body.fields.get("position"), next_position),
        alt_text=_alt_text(body.fields.get("alt_text")),
    )
    db.add(image)
    await db.flush()
    log.info("marketplace.product_image.uploaded", image_id=str(image.id), file_id=str(file.id))
    return await _one_out(db, ctx.vendor_id, image)


async def _own_image(
    db: AsyncSession, ctx: VendorContext, product_id: uuid.UUID, image_id: uuid.UUID
) -> ProductImage:
    image = await repository.vendor_image(db, ctx.vendor_id, product_id, image_id)
    if image is None:
        raise ImageNotFound("No such image of this product.")
    return image


async def update(
    db: AsyncSession,
    ctx: VendorContext,
    product_id: uuid.UUID,
    image_id: uuid.UUID,
    data: ProductImageUpdate,
) -> ProductImageOut:
    image = await _own_image(db, ctx, product_id, image_id)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    if changes.get("position", 0) is None:
        del changes["position"]
    if "alt_text" in changes:
        changes["alt_text"] = _alt_text(changes["alt_text"])
    if changes:
        await repository.update_image(db, ctx.vendor_id, image.id, changes)
    return await _one_out(db, ctx.vendor_id, image)


async def delete(
    db: AsyncSession, ctx: VendorContext, product_id: uuid.UUID, image_id: uuid.UUID
) -> None:
    """The image and its file; the stored objects once that commits."""
    image = await _own_image(db, ctx, product_id, image_id)
    await repository.delete_image(db, ctx.vendor_id, image.id)
    file = await db.get(File, image.file_id)
    if file is not None:
        await files_service.delete(db, current_runtime().storage, file)


async def fetch_into_product(
    ctx: JobContext, *, vendor_id: uuid.UUID, product_id: uuid.UUID, url: str, position: int
) -> dict[str, Any]:
    """The body of ``fetch_product_image``: download ``url`` and add it to the product, once."""
    if len(url) > SOURCE_URL_MAX_CHARS:
        raise PermanentJobError(f"too_long: the URL is over {SOURCE_URL_MAX_CHARS} characters")
    db = ctx.session
    product = await repository.vendor_product(db, vendor_id, product_id)
    if product is None:
        return {"skipped": "the product does not exist (in this store)"}
    existing = await repository.image_by_source(db, vendor_id, product_id, url)
    if existing is not None:
        return {"image_id": str(existing.id), "skipped": "already fetched"}
    owner = await _owner_of(db, vendor_id)
    if owner is None:
        raise PermanentJobError("the store has no owner to hold the image file")
    settings = ctx.runtime.settings
    catalog = settings.section(CatalogSettings)
    limits = remote.FetchLimits(
        max_bytes=catalog.product_image_max_bytes,
        timeout=catalog.product_image_fetch_timeout,
        max_redirects=catalog.product_image_max_redirects,
        allow_hosts=tuple(settings.http.http_allow_private_hosts),
        retries=settings.http.http_retries,
    )
    # Hold no connection (nor SQLite snapshot) through the download; the row's unique key catches
    # a job that wrote the same image meanwhile.
    await discard(db)
    try:
        fetched = await remote.fetch_image(url, limits)
    except remote.ImageRefused as exc:
        log.warning(
            "marketplace.product_image.refused",
            product_id=str(product_id),
            url=url[:500],
            reason=exc.reason,
            detail=str(exc),
        )
        raise PermanentJobError(f"{exc.reason}: {exc}") from exc
    file = await files_service.store(
        db,
        ctx.runtime,
        owner_id=owner,
        head=fetched.data[:SNIFF_BYTES],
        chunks=_one(fetched.data),
        filename=fetched.filename,
        declared_content_type=fetched.declared_content_type,
        image_profile=PRODUCT_IMAGE_PROFILE,
    )
    image = ProductImage(
        id=uuid7(),
        vendor_id=vendor_id,
        product_id=product_id,
        file_id=file.id,
        position=position,
        source_url=url,
    )
    db.add(image)
    try:
        await db.flush()
    except IntegrityError as exc:  # a concurrent job won: this one rolls back, and its retry skips
        raise remote.ImageUnavailable("the same image is being fetched by another job") from exc
    log.info("marketplace.product_image.fetched", image_id=str(image.id), file_id=str(file.id))
    return {"image_id": str(image.id), "file_id": str(file.id), "bytes": len(fetched.data)}


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data
