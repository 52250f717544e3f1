"""Vendor plan bodies: the plans on sale and a store's subscription with its usage."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

VendorPlanCode = Literal[
    "vendor_basic_monthly",
    "vendor_basic_yearly",
    "vendor_premium_monthly",
    "vendor_premium_yearly",
    "vendor_diamond_monthly",
    "vendor_diamond_yearly",
]
"""The codes of ``oja.billing.plans.VENDOR_PLANS`` (a test keeps the two equal)."""


class VendorPlanOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "vendor_basic_monthly",
                    "name": "Basic Monthly",
                    "interval": "month",
                    "user_limit": 100,
                    "price": 500000,
                    "currency": "NGN",
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
    price: int = Field(description="Per interval, in minor units of `currency`.", examples=[500000])
    currency: str = Field(examples=["NGN"])
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
                    "paid_through": None,
                    "cancel_at_period_end": False,
                    "pending_plan": None,
                    "pending_at": None,
                    "grace_until": None,
                }
            ]
        }
    )

    plan: str = Field(
        description="The plan's code, or `free` for a store without a paid plan.",
        examples=["vendor_basic_monthly"],
    )
    status: Literal["active", "past_due", "free"] = Field(
        description="`past_due`: a renewal failed; the plan holds until `grace_until`.",
        examples=["active"],
    )
    interval: Literal["month", "year"]
    period_start: datetime = Field(description="The traffic period (UTC calendar month or year).")
    period_end: datetime
    usage: UsageOut
    paid_through: datetime | None = Field(
        default=None, description="The paid plan's next renewal (Paystack's next payment date)."
    )
    cancel_at_period_end: bool = False
    pending_plan: str | None = Field(
        default=None,
        description="A plan change waiting: an upgrade until Paystack confirms the payment, a "
        "downgrade until `pending_at`.",
    )
    pending_at: datetime | None = None
    grace_until: datetime | None = None


class SubscribeIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"plan": "vendor_premium_monthly"}]}
    )

    plan: VendorPlanCode
    callback_url: AnyHttpUrl | None = Field(
        default=None, description="Where Paystack sends the vendor back after paying."
    )


class ChangePlanIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"plan": "vendor_diamond_monthly"}]}
    )

    plan: VendorPlanCode


class OperatorPlanIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "plan": "vendor_premium_monthly",
                    "reason": "Paid by bank transfer, ref. 20261206.",
                }
            ]
        },
    )

    plan: VendorPlanCode | Literal["free"] = Field(
        description="The store's plan from now on; `free` puts it on the free tier."
    )
    reason: str = Field(min_length=1, max_length=500, description="Why; recorded and logged.")


class SubscriptionCheckoutOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "plan": "vendor_premium_monthly",
                    "reference": "oja_0193a5b2c4d57e8f9a0b1c2d3e4f5a6b",
                    "authorization_url": "https://checkout.paystack.com/0peioxfhpn",
                }
            ]
        }
    )

    plan: VendorPlanCode
    reference: str = Field(description="The Paystack transaction reference of the first payment.")
    authorization_url: str = Field(description="Paystack's checkout page: send the vendor there.")
