"""Request and response bodies of the stock routes."""

from __future__ import annotations

import uuid
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from oja.marketplace.catalog.schemas import StockStatus

_ID = "01938f6e-7b1a-7c3e-9a55-3f1f0c2d4e5f"
_ID2 = "01938f6e-8c2b-7d4f-8b66-4a2a1d3e5f60"


class StockChange(BaseModel):
    """Either ``set`` the stock to a count, or ``adjust`` it by a signed amount."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "examples": [{"adjust": -2, "reason": "damaged in transit"}, {"set": 40}]
        },
    )

    set_to: int | None = Field(default=None, alias="set", ge=0, le=10**9)
    adjust: int | None = Field(default=None, ge=-(10**9), le=10**9)
    reason: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def one_change(self) -> Self:
        if (self.set_to is None) == (self.adjust is None):
            raise ValueError("give exactly one of set or adjust")
        if self.adjust == 0:
            raise ValueError("adjust must not be zero")
        return self


class StockMovementOut(BaseModel):
    before: int
    after: int
    delta: int
    reason: str | None


class StockOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "variant_id": _ID,
                    "stock": 38,
                    "low_stock_threshold": 5,
                    "stock_status": "in_stock",
                    "movement": {"before": 40, "after": 38, "delta": -2, "reason": "damaged"},
                }
            ]
        }
    )

    variant_id: uuid.UUID
    stock: int
    low_stock_threshold: int
    stock_status: StockStatus
    movement: StockMovementOut | None = Field(description="Null when a set changed nothing.")


class InventoryItem(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "product_id": _ID,
                    "product_title": "Zobo, 1 litre",
                    "variant_id": _ID2,
                    "sku": "ZOBO-1L",
                    "options": {},
                    "stock": 3,
                    "low_stock_threshold": 5,
                    "stock_status": "low",
                }
            ]
        }
    )

    product_id: uuid.UUID
    product_title: str
    variant_id: uuid.UUID
    sku: str
    options: dict[str, object]
    stock: int
    low_stock_threshold: int
    stock_status: StockStatus
