"""Product pictures: drawn with Pillow, rendered by the files pipeline's own variant renderer and
stored under the files keys, so every seeded image has a working original and listing, detail
and thumbnail URL exactly like an uploaded one."""

from __future__ import annotations

import asyncio
import hashlib
import io
import random
import tempfile
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from oja.core.storage import Storage
from oja.files.config import FilesSettings
from oja.files.keys import original_key, variant_key
from oja.files.models import PRODUCT_IMAGE_PROFILE, FileStatus
from oja.files.processing import images
from oja.marketplace.seed.plan import Picture

SIDE = 480
"""Pixels per side of a generated picture (the pipeline never upscales: small is quick)."""


def draw(index: int) -> bytes:
    """A PNG of a few coloured shapes on a gradient, the same bytes for the same index."""
    rng = random.Random(index)  # noqa: S311 - pictures, not security
    top = tuple(rng.randrange(60, 256) for _ in range(3))
    bottom = tuple(rng.randrange(0, 200) for _ in range(3))
    image = Image.new("RGB", (SIDE, SIDE))
    pen = ImageDraw.Draw(image)
    for y in range(SIDE):
        mix = y / SIDE
        pen.line(
            [(0, y), (SIDE, y)],
            fill=tuple(int(t * (1 - mix) + b * mix) for t, b in zip(top, bottom, strict=True)),
        )
    for _ in range(rng.randrange(2, 6)):
        x, y = rng.randrange(0, SIDE - 80), rng.randrange(0, SIDE - 80)
        size = rng.randrange(40, 200)
        colour = tuple(rng.randrange(0, 256) for _ in range(3))
        box = [x, y, min(SIDE, x + size), min(SIDE, y + size)]
        (pen.ellipse if rng.random() < 0.5 else pen.rectangle)(box, fill=colour)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def _options(settings: FilesSettings) -> images.VariantOptions:
    return images.VariantOptions(
        resize_px=settings.image_resize_px,
        thumbnail_px=settings.image_thumbnail_px,
        quality=settings.image_quality,
        resized_quality=settings.image_resized_quality,
        webp_effort=settings.webp_effort,
        extra_sizes=(("listing", settings.image_listing_px), ("detail", settings.image_detail_px)),
    )


def _render(data: bytes, options: images.VariantOptions) -> list[images.EncodedVariant]:
    with tempfile.TemporaryDirectory(prefix="oja-seed-") as folder:
        path = Path(folder) / "picture.png"
        path.write_bytes(data)
        return images.render(path, options)


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def store(
    storage: Storage, settings: FilesSettings, picture: Picture, at: datetime
) -> dict[str, Any]:
    """Draw, render and store one picture; its processed ``file`` row."""
    data = await asyncio.to_thread(draw, picture.index)
    rendered = await asyncio.to_thread(_render, data, _options(settings))
    key = original_key(picture.owner_id, picture.file_id)
    await storage.put(key, _one(data), content_type="image/png")
    variants = {}
    for variant in rendered:
        variant_storage_key = variant_key(
            picture.owner_id, picture.file_id, variant.name, variant.extension
        )
        stored = await storage.put(
            variant_storage_key, _one(variant.data), content_type=variant.content_type
        )
        variants[variant.name] = {
            "key": variant_storage_key,
            "width": variant.width,
            "height": variant.height,
            "bytes": stored.size,
            "format": variant.format,
        }
    return {
        "id": picture.file_id,
        "owner_id": picture.owner_id,
        "original_filename": f"picture-{picture.index}.png",
        "storage_key": key,
        "content_type": "image/png",
        "declared_content_type": "image/png",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "status": str(FileStatus.processed),
        "progress": 100,
        "extracted_data": {"image": {"width": SIDE, "height": SIDE, "format": "png"}},
        "variants": variants,
        "processed_at": at,
        "image_profile": PRODUCT_IMAGE_PROFILE,
        "created_at": at,
        "updated_at": at,
    }
