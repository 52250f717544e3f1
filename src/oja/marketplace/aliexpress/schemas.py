"""AliExpress connection bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class AuthorizeUrlOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "authorize_url": "https://api-sg.aliexpress.com/oauth/authorize?response_type=code"
                "&force_auth=true&client_id=500100&redirect_uri=https%3A%2F%2Foja.example%2F"
                "integrations%2Faliexpress%2Fcallback&state=…",
                "expires_in": 600,
            }
        }
    )

    authorize_url: str
    expires_in: int
    """Seconds the signed ``state`` in the URL stays valid."""


class ConnectionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "status": "connected",
                "account_id": "2200000001",
                "account_name": "ds_buyer_0001",
                "access_expires_at": "2026-12-07T10:00:00Z",
                "refresh_expires_at": "2026-12-08T10:00:00Z",
            }
        }
    )

    status: Literal["connected", "expired", "not_connected"]
    """``expired``: the access token has lapsed and cannot be refreshed — reconnect."""
    account_id: str | None = None
    account_name: str | None = None
    access_expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None


class OptionOut(BaseModel):
    name: str
    value: str
    image_url: str | None = None


class VariantOut(BaseModel):
    sku_id: str
    options: list[OptionOut]
    price: int
    """Minor units of ``currency``."""
    currency: str
    stock: int
    image_url: str | None = None


class ShippingOut(BaseModel):
    service: str
    fee: int
    currency: str
    min_days: int | None = None
    max_days: int | None = None


class SourceProductOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "ae_id": "1005000000000001",
                "title": "Kitchen item 1",
                "description": "<p>…</p>",
                "url": "https://www.aliexpress.com/item/1005000000000001.html",
                "category_id": "200000002",
                "images": ["https://ae01.alicdn.com/kf/1.jpg"],
                "variants": [
                    {
                        "sku_id": "100500000000000100",
                        "options": [{"name": "Color", "value": "Black", "image_url": None}],
                        "price": 399,
                        "currency": "USD",
                        "stock": 100,
                        "image_url": None,
                    }
                ],
                "shipping": [
                    {
                        "service": "CAINIAO_STANDARD",
                        "fee": 250,
                        "currency": "USD",
                        "min_days": 10,
                        "max_days": 20,
                    }
                ],
            }
        }
    )

    ae_id: str
    title: str
    description: str
    url: str
    category_id: str | None
    images: list[str]
    variants: list[VariantOut]
    shipping: list[ShippingOut]
    """Services to the store's country for the first variant, cheapest first; empty when
    AliExpress does not ship there."""
    imported_product_id: uuid.UUID | None = None
    """The store's product imported from this one, if any (a new import updates it)."""


class ListingOut(BaseModel):
    ae_id: str
    title: str
    image_url: str | None
    url: str
    price: int
    currency: str
    category_id: str | None


class SearchOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "items": [
                    {
                        "ae_id": "1005000000000001",
                        "title": "Kitchen item 1",
                        "image_url": "https://ae01.alicdn.com/kf/1.jpg",
                        "url": "https://www.aliexpress.com/item/1005000000000001.html",
                        "price": 399,
                        "currency": "USD",
                        "category_id": "200000002",
                    }
                ],
                "page": 1,
                "per_page": 20,
                "total": 1,
            }
        }
    )

    items: list[ListingOut]
    page: int
    per_page: int
    total: int


AeId = Annotated[str, Field(pattern=r"^\d{1,32}$", examples=["1005000000000001"])]


class PriceRuleIn(BaseModel):
    """The store price of each variant: the source cost converted to ``currency`` with the
    configured rate, times ``multiplier``, plus ``markup``, then raised to the next price ending
    in ``ending``."""

    model_config = ConfigDict(extra="forbid")

    multiplier: Decimal = Field(default=Decimal(1), gt=0, le=1000, max_digits=12)
    markup: int = Field(default=0, ge=0, le=10**12, description="Minor units of `currency`.")
    currency: str | None = Field(
        default=None,
        pattern="^[A-Z]{3}$",
        description="The store price's currency; default OJA_ALIEXPRESS_STORE_CURRENCY.",
    )
    ending: Decimal | None = Field(
        default=None,
        ge=0,
        max_digits=12,
        description="Major units: `0.99` ends every price in .99, `9.99` in 9.99, `0` rounds up "
        "to whole units.",
    )


ProductStatusIn = Literal["draft", "active"]


class ImportProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ae_id: AeId
    category_id: uuid.UUID | None = Field(
        default=None, description="Local category; default the import's, then the maps."
    )
    price_rule: PriceRuleIn | None = None
    status: ProductStatusIn | None = None
    sku_ids: list[Annotated[str, Field(pattern=r"^\d{1,40}$")]] | None = Field(
        default=None, max_length=200, description="Variants to include; default all."
    )


class AliExpressImportIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "products": [
                    "1005000000000001",
                    {"ae_id": "1005000000000002", "sku_ids": ["100500000000000200"]},
                ],
                "price_rule": {"multiplier": "1.5", "markup": 50000, "ending": "0.99"},
                "status": "draft",
            }
        },
    )

    products: list[AeId | ImportProductIn] = Field(min_length=1, max_length=5000)
    """AliExpress product ids, or objects naming one with its own settings."""
    category_id: uuid.UUID | None = None
    """Local category of every product that names none; default the category maps."""
    price_rule: PriceRuleIn = Field(default_factory=PriceRuleIn)
    status: ProductStatusIn | None = None
    """Status a new product is created with (default ``draft``); a re-import changes an existing
    product's status only when one is given."""


class CategoryMappingIn(BaseModel):
    source_category_id: Annotated[str, Field(pattern=r"^\d{1,32}$")]
    category_id: uuid.UUID


class CategoryMapIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "mappings": [
                    {
                        "source_category_id": "200000002",
                        "category_id": "01938f6e-7b1a-7c3e-9a55-3f1f0c2d4e5f",
                    }
                ]
            }
        },
    )

    mappings: list[CategoryMappingIn] = Field(max_length=2000)
    """The whole map: what it does not list is removed."""


class CategoryMappingOut(BaseModel):
    source_category_id: str
    category_id: uuid.UUID


class UnmappedCategoryOut(BaseModel):
    source_category_id: str
    products: int
    """Imported products of this store in that AliExpress category."""


class CategoryMapOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "mappings": [
                    {
                        "source_category_id": "200000002",
                        "category_id": "01938f6e-7b1a-7c3e-9a55-3f1f0c2d4e5f",
                    }
                ],
                "unmapped": [{"source_category_id": "200000005", "products": 3}],
            }
        }
    )

    mappings: list[CategoryMappingOut]
    unmapped: list[UnmappedCategoryOut] = Field(default_factory=list)
    """AliExpress categories of imported products that neither this map nor the default maps
    (they went to the fallback category): fix them here."""
