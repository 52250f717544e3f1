"""Cart bodies. Money is integer minor units of the cart's one currency."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_QUANTITY = 1000


class CartItemAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variant_id: uuid.UUID
    quantity: int = Field(default=1, ge=1, le=MAX_QUANTITY)
    """Added to the line's quantity when the variant is already in the cart."""


class CartItemUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quantity: int = Field(ge=0, le=MAX_QUANTITY)
    """The line's new quantity; 0 removes it."""


class CartVendor(BaseModel):
    id: uuid.UUID
    name: str
    slug: str


class CartLine(BaseModel):
    id: uuid.UUID
    variant_id: uuid.UUID
    product_id: uuid.UUID
    title: str
    sku: str
    options: dict[str, Any]
    quantity: int
    unit_price: int = Field(description="The catalogue price per unit now, before discounts.")
    unit_discount: int = Field(description="The saving per unit the discounts running now give.")
    line_total: int = Field(description="`quantity × (unit_price − unit_discount)`.")
    currency: str
    discount_ids: list[uuid.UUID]
    price_seen: int = Field(description="The unit price (discounts included) when it was added.")
    price_changed: bool = Field(description="What a unit costs now differs from `price_seen`.")
    stock: int
    stock_changed: bool = Field(description="Some stock is left, but less than `quantity`.")
    out_of_stock: bool
    unavailable: bool = Field(
        description="The product is no longer sold (withdrawn, or its store closed): the line is "
        "left out of the totals and checkout refuses it until removed."
    )
    added_at: datetime


class CartStore(BaseModel):
    vendor: CartVendor
    lines: list[CartLine]
    subtotal: int = Field(description="Before discounts, available lines only.")
    discount_total: int
    total: int


class CartChanges(BaseModel):
    """Ids of the lines with each flag: what to tell the buyer before checkout."""

    price_changed: list[uuid.UUID]
    stock_changed: list[uuid.UUID]
    out_of_stock: list[uuid.UUID]
    unavailable: list[uuid.UUID]


class CartOut(BaseModel):
    stores: list[CartStore]
    subtotal: int
    discount_total: int
    total: int
    currency: str | None = Field(description="The cart's one currency; null while it is empty.")
    item_count: int
    changes: CartChanges
