"""Request and response bodies of the discount routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from oja.core.dates import IsoAwareDateTime
from oja.marketplace.catalog.schemas import Currency
from oja.marketplace.pricing.models import DiscountScope, DiscountType

_ID = "01938f6e-7b1a-7c3e-9a55-3f1f0c2d4e5f"


class DiscountCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "type": "percentage",
                    "value": 15,
                    "scope": "category",
                    "target_id": _ID,
                    "starts_at": "2026-12-24T00:00:00Z",
                    "ends_at": "2026-12-27T00:00:00Z",
                }
            ]
        },
    )

    type: DiscountType
    value: int = Field(gt=0, le=10**15, description="Whole percent (1–100), or minor units.")
    currency: Currency = Field(default="NGN", description="For a fixed discount.")
    scope: DiscountScope
    target_id: uuid.UUID | None = Field(
        default=None, description="The product or category; none for the whole store."
    )
    starts_at: IsoAwareDateTime | None = Field(default=None, description="Default: now.")
    ends_at: IsoAwareDateTime | None = None
    code: str | None = Field(default=None, pattern=r"^[A-Z0-9-]{3,32}$")
    usage_limit: int | None = Field(default=None, ge=1, le=10**9)
    per_customer_limit: int | None = Field(default=None, ge=1, le=10**9)
    stackable: bool = False

    @model_validator(mode="after")
    def consistent(self) -> Self:
        if self.type == DiscountType.percentage and self.value > 100:
            raise ValueError("a percentage is at most 100")
        if (self.scope == DiscountScope.store) != (self.target_id is None):
            raise ValueError("target_id names the product or category; none for the store")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class DiscountOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    "type": "fixed",
                    "value": 50000,
                    "currency": "NGN",
                    "scope": "store",
                    "target_id": None,
                    "starts_at": "2026-12-06T08:00:00Z",
                    "ends_at": None,
                    "code": "WELCOME",
                    "usage_limit": 100,
                    "per_customer_limit": 1,
                    "used_count": 0,
                    "stackable": False,
                }
            ]
        }
    )

    id: uuid.UUID
    type: DiscountType
    value: int
    currency: str
    scope: DiscountScope
    target_id: uuid.UUID | None
    starts_at: datetime
    ends_at: datetime | None
    code: str | None
    usage_limit: int | None
    per_customer_limit: int | None
    used_count: int
    stackable: bool
