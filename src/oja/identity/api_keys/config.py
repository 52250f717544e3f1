"""API key settings (``OJA_`` prefix): a section of the runtime's :class:`~oja.core.config.Settings`."""

from __future__ import annotations

from oja.core.config import SettingsSection
from oja.core.runtime import current_settings


class ApiKeySettings(SettingsSection):
    api_key_rotation_overlap: int = 24 * 3600
    """Seconds a rotated-away key keeps working next to its replacement."""
    api_key_default_ttl_days: int = 90
    """Lifetime of a key created without `expires_in_days` or `expires_at`."""
    api_key_max_ttl_days: int = 3650
    """Longest lifetime a key may be given."""
    api_key_touch_interval: int = 60
    """Seconds between writes of a key's `last_used_at` (not one write per request)."""


def get_api_key_settings() -> ApiKeySettings:
    """The API key section of the process's settings; a FastAPI dependency tests may override."""
    return current_settings().section(ApiKeySettings)
