"""Marketplace settings (``OJA_`` prefix): a section of the runtime's :class:`~oja.core.config.Settings`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from oja.core.config import SettingsSection
from oja.core.dependencies import RuntimeDep


class MarketplaceSettings(SettingsSection):
    reservation_minutes: int = Field(default=30, ge=1)
    """Minutes a checkout holds its stock while the buyer pays; an unpaid order group is then
    expired, its orders canceled and the stock returned."""
    return_window_days: int = Field(default=14, ge=0)
    """Days after delivery a buyer may ask to return lines."""

    # The fields keep short names (the orders module reads them too); the variables say marketplace.
    model_config = SettingsConfigDict(env_prefix="OJA_MARKETPLACE_")


async def get_marketplace_settings(runtime: RuntimeDep) -> MarketplaceSettings:
    """The marketplace section of the app's settings; jobs read ``ctx.runtime.settings`` instead."""
    return runtime.settings.section(MarketplaceSettings)
