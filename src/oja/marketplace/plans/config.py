"""Vendor plan settings (``OJA_VENDOR_`` prefix): a section of the runtime's
:class:`~oja.core.config.Settings`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from oja.core.config import SettingsSection


class VendorPlanSettings(SettingsSection):
    model_config = SettingsConfigDict(
        env_prefix="OJA_VENDOR_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        use_attribute_docstrings=True,
    )

    free_tier_users: int = Field(default=20, ge=0)
    """Distinct signed-in buyers per calendar month a store without a paid plan may serve."""
