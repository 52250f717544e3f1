"""Checkout bodies. Money is integer minor units of the group's one currency."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator


class ShippingAddress(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=120)
    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    state: str | None = Field(default=None, max_length=100)
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2, e.g. `NG`.")
    postal_code: str | None = Field(default=None, max_length=20)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9 ()-]{6,20}$")

    @field_validator("country")
    @classmethod
    def _upper(cls, value: str) -> str:
        if not value.isalpha():
            raise ValueError("country is a two-letter ISO code")
        return value.upper()


class CheckoutRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "shipping_address": {
                        "name": "Ada Obi",
                        "line1": "12 Allen Avenue",
                        "city": "Ikeja",
                        "state": "Lagos",
                        "country": "NG",
                        "phone": "+2348012345678",
                    },
                    "discount_code": "WELCOME",
                    "provider": "paystack",
                }
            ]
        },
    )

    shipping_address: ShippingAddress
    discount_code: str | None = Field(default=None, min_length=3, max_length=32)
    """A store's discount code; it applies to that store's lines it covers."""
    provider: Literal["paystack", "flutterwave"] = "paystack"
    """Who takes the payment: Paystack, or Flutterwave Standard (hosted checkout either way)."""
    callback_url: HttpUrl | None = None
    """Where the provider sends the buyer back after paying."""

    @field_validator("discount_code")
    @classmethod
    def _code_upper(cls, value: str | None) -> str | None:
        return None if value is None else value.strip().upper()


class PayAgainRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"callback_url": "https://shop.example/paid"}]},
    )

    callback_url: HttpUrl | None = None
    """Where the provider sends the buyer back after paying."""


class OrderLineOut(BaseModel):
    id: uuid.UUID
    variant_id: uuid.UUID | None
    title: str
    sku: str
    options: dict[str, Any]
    quantity: int
    unit_price: int
    unit_discount: int
    tax: int
    line_total: int
    discount_id: uuid.UUID | None


class StoreOrderOut(BaseModel):
    id: uuid.UUID
    vendor_id: uuid.UUID
    status: str
    subtotal: int
    discount_total: int
    total: int
    lines: list[OrderLineOut]


class PaymentOut(BaseModel):
    provider: str
    reference: str
    authorization_url: str


class CheckoutOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "order_group_id": "01938f6e-7b1a-7c3e-9a55-3f1f0c2d4e5f",
                    "status": "awaiting_payment",
                    "subtotal": 1500000,
                    "discount_total": 0,
                    "total": 1500000,
                    "currency": "NGN",
                    "expires_at": "2026-12-06T18:30:00Z",
                    "orders": [
                        {
                            "id": "01938f6e-8c2b-7d4f-8b66-4a2a1d3e5f60",
                            "vendor_id": "01938f6e-9d3c-7e5a-9c77-5b3b2e4f6a71",
                            "status": "pending",
                            "subtotal": 1500000,
                            "discount_total": 0,
                            "total": 1500000,
                            "lines": [
                                {
                                    "id": "01938f6e-ae4d-7f6b-8d88-6c4c3f5a7b82",
                                    "variant_id": "01938f6e-bf5e-7a7c-9e99-7d5d4a6b8c93",
                                    "title": "Adire indigo wrap",
                                    "sku": "ADIRE-M",
                                    "options": {"size": "M"},
                                    "quantity": 1,
                                    "unit_price": 1500000,
                                    "unit_discount": 0,
                                    "tax": 0,
                                    "line_total": 1500000,
                                    "discount_id": None,
                                }
                            ],
                        }
                    ],
                    "payment": {
                        "provider": "paystack",
                        "reference": "oja_01938f6ec06f7b8d",
                        "authorization_url": "https://checkout.paystack.com/0peioxfhpn",
                    },
                }
            ]
        }
    )

    order_group_id: uuid.UUID
    status: str
    subtotal: int
    discount_total: int
    total: int
    currency: str
    expires_at: datetime = Field(
        description="Unpaid by then, the group expires and its stock returns."
    )
    orders: list[StoreOrderOut]
    payment: PaymentOut
