"""Files settings (``OJA_`` prefix): a section of the runtime's :class:`~oja.core.config.Settings`."""

from __future__ import annotations

from pydantic import Field

from oja.core.config import Settings, SettingsSection
from oja.core.dependencies import RuntimeDep


class FilesSettings(SettingsSection):
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    """Largest file `POST /upload` accepts (OJA_MAX_UPLOAD_BYTES); enforced while reading (413)."""
    upload_rate: str = "30/minute"
    """Uploads allowed per user (OJA_UPLOAD_RATE, `limits` notation such as `30/minute`)."""
    max_image_pixels: int = Field(default=50_000_000, ge=1)
    """Largest image (width × height of one frame) decoded, checked from the header before
    decoding (OJA_MAX_IMAGE_PIXELS). Larger images end `failed`: decompression bombs stay out."""
    file_process_timeout: float = Field(default=300.0, gt=0)
    """Seconds one processing job may run (read when the worker starts)."""
    file_stage_timeout: float = Field(default=120.0, gt=0)
    """Seconds each processing stage (download, text, image variants) may take."""
    text_excerpt_chars: int = Field(default=2000, ge=0)
    """Characters of extracted text kept as the excerpt."""
    image_resize_px: int = Field(default=1600, ge=16)
    """Longest side of the `resized` and `compressed` variants."""
    image_thumbnail_px: int = Field(default=256, ge=16)
    """Longest side of the `thumbnail` variant."""
    image_listing_px: int = Field(default=640, ge=16)
    """Longest side of the `listing` variant of product images (files with the `product` profile)."""
    image_detail_px: int = Field(default=1200, ge=16)
    """Longest side of the `detail` variant of product images (files with the `product` profile)."""
    image_quality: int = Field(default=80, ge=1, le=100)
    """JPEG/WebP quality of the `compressed` variants and the thumbnail."""
    image_resized_quality: int = Field(default=90, ge=1, le=100)
    """JPEG quality of the `resized` variant."""
    webp_effort: int = Field(default=4, ge=0, le=6)
    """WebP encoder effort (0 fastest … 6 smallest); the main speed knob of the pipeline."""
    max_archive_expansion_bytes: int = Field(default=200 * 1024 * 1024, ge=1)
    """Largest total uncompressed size of a DOCX (a ZIP) opened for text; zip bombs fail."""
    max_archive_ratio: int = Field(default=200, ge=1)
    """Largest compression ratio of any member of a DOCX opened for text."""


async def get_files_settings(runtime: RuntimeDep) -> FilesSettings:
    """The files section of the app's settings; the job reads ``ctx.runtime.settings`` instead."""
    return runtime.settings.section(FilesSettings)


MULTIPART_OVERHEAD_BYTES = 128 * 1024
"""Room for boundaries, part headers and the text fields (title, description) beside the file."""


def upload_body_limit(settings: Settings) -> int:
    """The whole `POST /upload` body's limit, for the request middleware's early 413."""
    return settings.section(FilesSettings).max_upload_bytes + MULTIPART_OVERHEAD_BYTES
