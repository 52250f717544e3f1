"""AliExpress connection bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict


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
