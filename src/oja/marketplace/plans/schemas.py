"""Vendor plan bodies: the plans on sale and a store's subscription with its usage."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class VendorPlanOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "vendor_basic_monthly",
                    "name": "Basic Monthly",
                    "interval": "month",
                    "user_limit": 100,
                    "provider": "paystack",
                }
            ]
        }
    )

    code: str = Field(examples=["vendor_basic_monthly"])
    name: str = Field(examples=["Basic Monthly"])
    interval: Literal["month", "year"]
    user_limit: int | None = Field(
        description="Distinct signed-in buyers per period; null means unlimited.", examples=[100]
    )
    provider: str = Field(examples=["paystack"])


class UsageOut(BaseModel):
    users: int = Field(description="Distinct signed-in buyers this period.", examples=[42])
    limit: int | None = Field(description="Null means unlimited.", examples=[100])
    remaining: int | None = Field(examples=[58])
    resets_at: datetime


class SubscriptionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "plan": "free",
                    "status": "free",
                    "interval": "month",
                    "period_start": "2026-12-01T00:00:00Z",
                    "period_end": "2027-01-01T00:00:00Z",
                    "usage": {
                        "users": 18,
                        "limit": 20,
                        "remaining": 2,
                        "resets_at": "2027-01-01T00:00:00Z",
                    },
                }
            ]
        }
    )

    plan: str = Field(
        description="The plan's code, or `free` for a store without a paid plan.",
        examples=["vendor_basic_monthly"],
    )
    status: Literal["active", "free"] = Field(examples=["active"])
    interval: Literal["month", "year"]
    period_start: datetime
    period_end: datetime
    usage: UsageOut
