"""The product-source port: what an import needs from a catalogue outside Oja, normalised.

Invariants: every price that crosses this port is an ``int`` in minor units beside an upper-case
ISO 4217 currency (the provider's string numbers are converted at the adapter's edge); a variant's
``options`` keep the source's labels in the source's order; image lists hold absolute URLs, main
image first. Adapters raise the billing port's provider-call exceptions (refused, unavailable,
rate limited) and :class:`SourceAuthorizationExpired`, nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from oja.billing.providers.port import ProviderCallRefused


class SourceAuthorizationExpired(ProviderCallRefused):
    """The source refused the account's access token (expired or revoked): the vendor must
    reconnect, or a refresh must run, before any further call can succeed."""


class SourceProductGone(ProviderCallRefused):
    """The source no longer sells the product (removed, or not shipped to the asked country)."""


@dataclass(frozen=True, slots=True)
class SourceOption:
    name: str
    """The property's label (``Color``)."""
    value: str
    """The value's label as the seller named it (``Black Green``)."""
    property_id: str
    value_id: str
    image_url: str | None = None


@dataclass(frozen=True, slots=True)
class SourceVariant:
    sku_id: str
    sku_attr: str
    """The source's own spelling of the option set (``14:175#Black;5:361386``), kept verbatim:
    ordering at the source later needs it unchanged."""
    options: tuple[SourceOption, ...]
    price: int
    currency: str
    stock: int
    image_url: str | None = None


@dataclass(frozen=True, slots=True)
class SourceProduct:
    source: str
    source_id: str
    title: str
    description: str
    category_id: str | None
    url: str
    images: tuple[str, ...]
    variants: tuple[SourceVariant, ...]
    available: bool = True
    seller_currency: str | None = None
    """The seller's own currency (often CNY); the variant prices are in the asked currency."""


@dataclass(frozen=True, slots=True)
class SourceListing:
    """One search hit: enough to show a result, not to import it."""

    source_id: str
    title: str
    image_url: str | None
    url: str
    price: int
    currency: str
    category_id: str | None


@dataclass(frozen=True, slots=True)
class SearchPage:
    items: tuple[SourceListing, ...]
    page: int
    per_page: int
    total: int


@dataclass(frozen=True, slots=True)
class SourceCategory:
    source_id: str
    name: str
    parent_id: str | None


@dataclass(frozen=True, slots=True)
class ShippingOption:
    service: str
    fee: int
    currency: str
    min_days: int | None
    max_days: int | None


@dataclass(frozen=True, slots=True)
class SourceToken:
    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime | None
    account_id: str
    account_name: str | None = None


@dataclass(frozen=True, slots=True)
class SearchQuery:
    text: str = ""
    category_id: str | None = None
    sort: str | None = None
    page: int = 1
    per_page: int = 20
    extra: dict[str, str] = field(default_factory=dict)


class ProductSource(Protocol):
    """A catalogue Oja imports from, acting for one connected account (``access_token``)."""

    name: str

    async def search(self, query: SearchQuery, *, access_token: str) -> SearchPage: ...

    async def product(self, source_id: str, *, access_token: str) -> SourceProduct: ...

    async def categories(self, *, access_token: str) -> Sequence[SourceCategory]: ...

    async def shipping(
        self, source_id: str, sku_id: str, *, country: str, access_token: str
    ) -> Sequence[ShippingOption]: ...
