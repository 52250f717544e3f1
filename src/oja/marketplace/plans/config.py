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

    plan_grace_days: int = Field(default=3, ge=0)
    """Days a store keeps its paid plan after a failed renewal (``invoice.payment_failed``) before
    a periodic job puts it on the free tier; paying again within them keeps the plan."""
    plan_prices: dict[str, int] = Field(
        default_factory=lambda: {
            "vendor_basic_monthly": 500_000,
            "vendor_basic_yearly": 5_000_000,
            "vendor_premium_monthly": 1_500_000,
            "vendor_premium_yearly": 15_000_000,
            "vendor_diamond_monthly": 5_000_000,
            "vendor_diamond_yearly": 50_000_000,
        }
    )
    """Each vendor plan's price in minor units of ``OJA_VENDOR_PLAN_CURRENCY`` (JSON object, plan
    code → amount). The Paystack plan ``oja:<code>`` is created with it on first sale."""
    plan_currency: str = Field(default="NGN", min_length=3, max_length=3)
    """The currency vendor plans are sold in."""
    plan_upgrade_url: str = "http://127.0.0.1:8000/vendor-plans"
    """The upgrade link in a store's usage alerts (``vendor.plan_limit_warning``): the page where
    its owners choose a bigger plan."""
    plan_cache_seconds: float = Field(default=5.0, ge=0)
    """Without Redis: how long a process keeps a store's plan and limit for the traffic check (0:
    never); other processes see a plan change within this time."""
    plan_cache_checked_seconds: float = Field(default=300.0, ge=0)
    """With Redis: how long a process keeps a store's plan and limit for the traffic check (0:
    never). Every check reads the store's plan version with the user's place, and every change
    bumps it before and again after its commit, so a change reaches every process on its next
    check; this bounds only a change whose second bump was lost (a crash between the commit and
    the bump)."""
