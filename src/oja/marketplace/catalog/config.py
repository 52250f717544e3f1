"""Catalogue settings (``OJA_`` prefix): a section of the runtime's :class:`~oja.core.config.Settings`."""

from __future__ import annotations

from pydantic import Field

from oja.core.config import Settings, SettingsSection


class CatalogSettings(SettingsSection):
    product_image_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    """Largest product image accepted, uploaded or fetched from a URL (OJA_PRODUCT_IMAGE_MAX_BYTES)."""
    product_image_fetch_timeout: float = Field(default=20.0, gt=0)
    """Seconds one product-image download may take from connect to last byte."""
    product_image_max_redirects: int = Field(default=3, ge=0, le=10)
    """Redirects followed when fetching a product image; each target is checked like the URL."""
    product_images_max: int = Field(default=20, ge=1)
    """Images one product may have."""


IMAGE_UPLOAD_PATH = "/products/{product_id}/images"
MULTIPART_OVERHEAD_BYTES = 64 * 1024
"""Room for boundaries, part headers and the text fields (alt_text, position) beside the file."""


def image_upload_body_limit(settings: Settings) -> int:
    """The whole image upload body's limit, for the request middleware's early 413."""
    return settings.section(CatalogSettings).product_image_max_bytes + MULTIPART_OVERHEAD_BYTES
