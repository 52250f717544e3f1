"""Settings of AliExpress imports and sync (``OJA_ALIEXPRESS_*``); the gateway's own are in
:mod:`oja.marketplace.sources.aliexpress.config`."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from oja.core.config import SettingsSection


class AliExpressImportSettings(SettingsSection):
    aliexpress_calls_per_second: int = Field(default=5, ge=1, le=1000)
    """Calls a second the app key may make, shared by every worker's imports and syncs
    (OJA_ALIEXPRESS_CALLS_PER_SECOND): counted in Redis when OJA_REDIS_URL is set, else in the
    database."""
    aliexpress_fetch_concurrency: int = Field(default=4, ge=1, le=64)
    """Product reads one import or sync keeps in flight (within the calls-a-second budget)."""
    aliexpress_store_currency: str = Field(default="NGN", min_length=3, max_length=3)
    """Currency imported products are priced in unless the price rule names another."""
    aliexpress_currency_rates: dict[str, Decimal] = Field(
        default_factory=lambda: {"USD/NGN": Decimal("1500")}
    )
    """Conversion rates for price rules, ``{"USD/NGN": "1500"}`` (1 USD = 1500 NGN), JSON
    (OJA_ALIEXPRESS_CURRENCY_RATES); the reverse of a listed pair is derived."""
    aliexpress_fallback_category: str | None = None
    """Slug of the category a product goes to when its AliExpress category is mapped neither by
    the store nor by the default map (OJA_ALIEXPRESS_FALLBACK_CATEGORY); none: uncategorised."""
    aliexpress_import_max_products: int = Field(default=500, ge=1, le=5000)
    """Products one `POST /vendors/me/aliexpress/imports` may name."""
    aliexpress_import_batch_products: int = Field(default=50, ge=1, le=1000)
    """Products written and committed together by an import (its checkpoint)."""
    aliexpress_job_timeout: float = Field(default=3600.0, gt=0)
    """Seconds an AliExpress import or sync job may run (read when the worker starts)."""
    aliexpress_sync_interval: float = Field(default=3600.0, gt=0)
    """Seconds between syncs of imported products (read when beat starts)."""
    aliexpress_sync_batch_products: int = Field(default=200, ge=1, le=10_000)
    """Imported products one sync re-reads (the least recently synced first)."""
    aliexpress_price_alert_percent: Decimal = Field(default=Decimal("10"), ge=0)
    """A source cost change beyond this percentage notifies the store."""
    aliexpress_refresh_ahead: float = Field(default=6 * 3600.0, gt=0)
    """Seconds before an access token expires that the refresh job renews it."""
