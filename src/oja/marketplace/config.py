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
    settlement_hold_days: int | None = Field(default=None, ge=0)
    """Days after delivery a store order's share stays held before it can be paid out; unset, the
    return window. A shorter hold (the sandbox demo's 0) pays stores before returns close: a later
    refund is then taken from the store's available balance."""
    settlement_release_interval: float = Field(default=3600.0, gt=0)
    """Seconds between runs of the job releasing held shares (beat reads it when it starts)."""
    settlement_release_batch: int = Field(default=500, ge=1)
    """Most store orders one run of the release job moves from pending to available."""
    fee_bearer: Literal["platform", "vendor"] = "platform"
    """Who bears the payment provider's fee on a paid group (Paystack's verified ``fees``):
    ``platform`` books it as the platform's expense; ``vendor`` takes it from the stores' shares in
    proportion to their orders' totals (the platform absorbs the remainder kobo)."""
    settlement: Literal["ledger", "provider_split"] = "ledger"
    """How stores are paid: ``ledger`` — the platform collects every payment and pays stores by
    transfer (the payout job); ``provider_split`` — a Paystack checkout carries a dynamic flat
    ``split`` paying each store that has a Paystack subaccount (created when its payout account
    becomes active) its share straight away; the ledger books the same entries and marks those
    shares paid out by the provider. Stores without a subaccount, and Flutterwave checkouts, stay
    ledger-settled."""
    payout_interval: float = Field(default=86400.0, gt=0)
    """Seconds between runs of the payout job (beat reads it when it starts)."""
    payout_minimum: int = Field(default=100000, ge=1)
    """Least available balance (minor units) a store is paid out; less waits for the next run."""
    payout_provider: str = Field(default="paystack", pattern="^(paystack|flutterwave)$")
    """The provider payout accounts are resolved with and transfers are sent through."""
    payout_currency: str = Field(default="NGN", min_length=3, max_length=3)
    """The currency of payout accounts (the transfer recipient's)."""
    payout_account_change_hold_hours: int = Field(default=24, ge=0)
    """Hours a store's payouts wait after its payout account changed (account-takeover defence)."""
    payout_verify_after: int = Field(default=1800, ge=0)
    """Seconds after which a payout still pending or processing is checked with the provider's
    transfer verify by the sweep (a lost webhook or a worker killed mid-transfer)."""
    payout_batch: int = Field(default=200, ge=1)
    """Most stores one run of the payout job (and payouts one verify sweep) handles."""
    payout_bulk_size: int = Field(default=100, ge=1, le=100)
    """Most transfers one bulk transfer request carries (Paystack allows at most 100)."""
    payout_bulk_interval: float = Field(default=5.0, ge=0)
    """Seconds between two bulk transfer requests of one payout run (Paystack allows one batch
    every 5 seconds and answers 429 to a faster one)."""


async def get_marketplace_settings(runtime: RuntimeDep) -> MarketplaceSettings:
    """The marketplace section of the app's settings; jobs read ``ctx.runtime.settings`` instead."""
    return runtime.settings.section(MarketplaceSettings)


MarketplaceSettingsDep = Annotated[MarketplaceSettings, Depends(get_marketplace_settings)]
