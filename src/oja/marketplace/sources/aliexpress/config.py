"""AliExpress settings (``OJA_ALIEXPRESS_*``): a section of the runtime's
:class:`~oja.core.config.Settings`."""

from __future__ import annotations

from pydantic import Field

from oja.core.config import SettingsSection


class AliExpressSettings(SettingsSection):
    aliexpress_base_url: str = "https://api-sg.aliexpress.com"
    """The Open Platform gateway (OJA_ALIEXPRESS_BASE_URL): business APIs at ``/sync``, token
    APIs at ``/rest/auth/token/*``."""
    aliexpress_authorize_url: str = "https://api-sg.aliexpress.com/oauth/authorize"
    """Where a vendor is sent to connect an AliExpress account (OJA_ALIEXPRESS_AUTHORIZE_URL)."""
    aliexpress_app_key: str | None = None
    """The Drop Shipping app's key (OJA_ALIEXPRESS_APP_KEY); AliExpress import is off without it."""
    aliexpress_app_secret: str | None = None
    """The app's secret (OJA_ALIEXPRESS_APP_SECRET): signs every call, never sent."""
    aliexpress_ship_to_country: str = Field(default="NG", min_length=2, max_length=2)
    """Country the product detail, stock and shipping estimate are asked for when a store has none."""
    aliexpress_target_currency: str = Field(default="USD", min_length=3, max_length=3)
    """Currency AliExpress is asked to price SKUs in (converted to the store's by the price rule)."""
    aliexpress_target_language: str = "en"
    """Language of titles and descriptions asked of AliExpress."""
