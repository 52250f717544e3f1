"""Image variants with libvips: header check, shrink-on-load, EXIF orientation, metadata stripped.

Blocking and CPU-bound: callers run these functions in a worker thread. Decoding happens once, at
the ``resized`` size (JPEG and WebP shrink while decoding); every variant is derived from that.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyvips  # type: ignore[import-untyped]


class ImageRejected(Exception):
    """The file cannot be processed as an image (too many pixels, undecodable, truncated).

    ``str()`` is for the uploader, in their terms; ``detail`` is libvips' own text, for the log."""

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


UNDECODABLE = (
    "The image could not be decoded: the file is damaged, truncated or not a supported image."
)


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    """After EXIF orientation, as the image is meant to be seen."""
    format: str
    pages: int
    has_alpha: bool
    orientation: int


@dataclass(frozen=True)
class EncodedVariant:
    name: str
    extension: str
    content_type: str
    format: str
    width: int
    height: int
    data: bytes


@dataclass(frozen=True)
class VariantOptions:
    resize_px: int = 1600
    thumbnail_px: int = 256
    quality: int = 80
    resized_quality: int = 90
    webp_effort: int = 4
    extra_sizes: tuple[tuple[str, int], ...] = ()
    """More ``(name, longest side)`` variants, JPEG (PNG with alpha): a profile's sizes, e.g. the
    marketplace's ``listing`` and ``detail``. Files without a profile get none."""


@functools.cache
def _vips() -> Any:
    import pyvips

    # Uploads are all different files: the operation cache would only hold memory.
    pyvips.cache_set_max(0)
    # libvips narrates every operation at INFO; its warnings still get through.
    logging.getLogger("pyvips").setLevel(logging.WARNING)
    return pyvips


def inspect(path: Path, max_pixels: int) -> ImageInfo:
    """Read the header only and refuse an image with more than ``max_pixels`` pixels per frame,
    before a single pixel is decoded."""
    vips = _vips()
    try:
        image = vips.Image.new_from_file(str(path), access="sequential")
        width, height = image.width, image.height
        fields = set(image.get_fields())
        if "page-height" in fields:
            height = int(image.get("page-height"))
        pages = int(image.get("n-pages")) if "n-pages" in fields else 1
        orientation = int(image.get("orientation")) if "orientation" in fields else 1
        loader = str(image.get("vips-loader")) if "vips-loader" in fields else "unknown"
        has_alpha = bool(image.hasalpha())
    except vips.Error as exc:
        raise ImageRejected(UNDECODABLE, detail=_first_line(exc)) from exc
    if width * height > max_pixels:
        raise ImageRejected(
            f"the image is {width}x{height} = {width * height} pixels, over the limit of "
            f"{max_pixels}"
        )
    if orientation in {5, 6, 7, 8}:
        width, height = height, width
    return ImageInfo(
        width=width,
        height=height,
        format=loader.removesuffix("load").removesuffix("_source").removesuffix("_file"),
        pages=pages,
        has_alpha=has_alpha,
        orientation=orientation,
    )


def render(path: Path, options: VariantOptions) -> list[EncodedVariant]:
    """``resized`` (fits ``resize_px``, JPEG, or PNG with alpha), ``compressed`` (WebP),
    ``compressed_jpeg``, ``thumbnail`` (fits ``thumbnail_px``) and each of ``extra_sizes``. Never
    upscales."""
    vips = _vips()
    try:
        # thumbnail: shrink-on-load, first frame/page only, EXIF orientation applied.
        base = vips.Image.thumbnail(
            str(path), options.resize_px, height=options.resize_px, size="down", fail_on="error"
        )
        base = _srgb(base).copy_memory()  # decoded once; every variant below reads memory
        alpha = bool(base.hasalpha())
        if alpha and base.extract_band(base.bands - 1).min() >= 255:
            # GIF and some PNGs carry an alpha band that is opaque everywhere: drop it (JPEG).
            base = base.extract_band(0, n=base.bands - 1).copy_memory()
            alpha = False
        flat = base.flatten(background=[255] * (base.bands - 1)) if alpha else base
        thumb = base.thumbnail_image(options.thumbnail_px, height=options.thumbnail_px, size="down")
        variants = [
            _png("resized", base) if alpha else _jpeg("resized", base, options.resized_quality),
            _webp("compressed", base, options.quality, options.webp_effort),
            _jpeg("compressed_jpeg", flat, options.quality),
            _png("thumbnail", thumb) if alpha else _jpeg("thumbnail", thumb, options.quality),
        ]
        for name, px in options.extra_sizes:
            sized = base.thumbnail_image(px, height=px, size="down")
            variants.append(_png(name, sized) if alpha else _jpeg(name, sized, options.quality))
    except vips.Error as exc:
        raise ImageRejected(UNDECODABLE, detail=_first_line(exc)) from exc
    return variants


def _srgb(image: pyvips.Image) -> pyvips.Image:
    """8-bit sRGB (or 8-bit grey): what JPEG, PNG and WebP encoders and browsers expect."""
    if image.interpretation in {"b-w", "grey16"}:
        image = image.colourspace("b-w")
    elif image.interpretation != "srgb":
        image = image.colourspace("srgb")
    if image.format != "uchar":
        image = image.cast("uchar")
    return image


def _jpeg(name: str, image: pyvips.Image, quality: int) -> EncodedVariant:
    data = image.jpegsave_buffer(Q=quality, keep="none", optimize_coding=True)
    return _variant(
        name, extension="jpg", content_type="image/jpeg", fmt="jpeg", image=image, data=data
    )


def _webp(name: str, image: pyvips.Image, quality: int, effort: int) -> EncodedVariant:
    data = image.webpsave_buffer(Q=quality, effort=effort, keep="none")
    return _variant(
        name, extension="webp", content_type="image/webp", fmt="webp", image=image, data=data
    )


def _png(name: str, image: pyvips.Image) -> EncodedVariant:
    data = image.pngsave_buffer(compression=6, keep="none")
    return _variant(
        name, extension="png", content_type="image/png", fmt="png", image=image, data=data
    )


def _variant(
    name: str, *, extension: str, content_type: str, fmt: str, image: pyvips.Image, data: bytes
) -> EncodedVariant:
    return EncodedVariant(
        name=name,
        extension=extension,
        content_type=content_type,
        format=fmt,
        width=int(image.width),
        height=int(image.height),
        data=bytes(data),
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[-1].strip() if text else type(exc).__name__)[:300]
