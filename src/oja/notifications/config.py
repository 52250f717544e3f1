"""Notification settings (``OJA_NOTIFICATION_*``): a section of the runtime's settings."""

from __future__ import annotations

from pydantic import Field

from oja.core.config import SettingsSection


class NotificationSettings(SettingsSection):
    notification_sms_per_hour: int = Field(default=5, ge=1)
    """SMS one recipient may get per hour (not counting mandatory ones); more are ``throttled``:
    the in-app notification and email still tell them."""
    notification_email_per_hour: int = Field(default=30, ge=1)
    """Emails one recipient may get per hour (not counting mandatory ones); more are
    ``throttled``."""
    notification_digest_max_items: int = Field(default=50, ge=1)
    """Promotions listed in one daily digest email; older ones beyond it are folded in unlisted."""
