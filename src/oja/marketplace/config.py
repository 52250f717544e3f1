"""Marketplace settings (``OJA_MARKETPLACE_`` prefix): a section of the runtime's
:class:`~oja.core.config.Settings`."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from fastapi import Depends
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from oja.core.config import SettingsSection
from oja.core.dependencies import RuntimeDep


class MarketplaceSettings(SettingsSection):
    model_config = SettingsConfigDict(
        env_prefix="OJA_MARKETPLACE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        use_attribute_docstrings=True,
    )

    reservation_minutes: int = Field(default=30, ge=1)
    """Minutes an unpaid checkout keeps its stock reserved before it is canceled."""
    return_window_days: int = Field(default=14, ge=0)
    """Days after delivery during which the buyer may ask to return lines of an order."""
    commission_percent: Decimal = Field(default=Decimal(10), ge=0, le=100, decimal_places=2)
    """The platform's commission on each sold line, in percent (two decimals), unless a commission
    rule names another for the store or the category."""
    settlement_release_batch: int = Field(default=500, ge=1)
    """Most store orders one run of the release job moves from pending to available."""
    fee_bearer: Literal["platform", "vendor"] = "platform"
    """Who bears the payment provider's fee on a paid group (Paystack's verified ``fees``):
    ``platform`` books it as the platform's expense; ``vendor`` takes it from the stores' shares in
    proportion to their orders' totals (the platform absorbs the remainder kobo)."""


async def get_marketplace_settings(runtime: RuntimeDep) -> MarketplaceSettings:
    """The marketplace section of the app's settings; jobs read ``ctx.runtime.settings`` instead."""
    return runtime.settings.section(MarketplaceSettings)


MarketplaceSettingsDep = Annotated[MarketplaceSettings, Depends(get_marketplace_settings)]
