"""Payout account, payout and hold requests and answers. Amounts are integer minor units."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from oja.marketplace.payouts.models import AccountStatus, PayoutStatus


class PayoutAccountIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"bank_code": "058", "account_number": "0123456789"}]},
    )

    bank_code: str = Field(
        pattern=r"^[0-9A-Za-z]{2,10}$", description="The bank's code (GET the provider's banks)."
    )
    account_number: str = Field(pattern=r"^[0-9]{10}$", description="The 10-digit NUBAN.")


class AccountOut(BaseModel):
    id: uuid.UUID
    bank_code: str
    account_number: str = Field(description="Masked: only the last four digits are shown.")
    account_name: str = Field(description="The holder's name as the provider resolved it.")
    provider: str
    currency: str
    status: AccountStatus
    name_matched: bool = Field(
        description="Whether the resolved name matched the store's registered name."
    )
    created_at: datetime
    activated_at: datetime | None


class PayoutAccountOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "active": {
                        "id": "01939a8e-7c1a-7cc4-9d52-4f7f0b0e6c20",
                        "bank_code": "058",
                        "account_number": "******6789",
                        "account_name": "MAMA PUT FOODS",
                        "provider": "paystack",
                        "currency": "NGN",
                        "status": "active",
                        "name_matched": True,
                        "created_at": "2026-12-06T10:00:00Z",
                        "activated_at": "2026-12-06T10:00:00Z",
                    },
                    "pending": None,
                    "held": False,
                    "hold_reason": None,
                    "held_until": None,
                }
            ]
        }
    )

    active: AccountOut | None = Field(description="Where payouts go.")
    pending: AccountOut | None = Field(
        description="An account whose name did not match the store's, waiting for an admin."
    )
    held: bool = Field(description="An admin holds the store's payouts.")
    hold_reason: str | None
    held_until: datetime | None = Field(
        description="Payouts wait until then after the account changed."
    )


class PayoutOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "01939a8e-7c1a-7cc4-9d52-4f7f0b0e6c21",
                    "vendor_id": "01939a8e-7b00-7aa1-8c3e-2b1f4c5d6e7f",
                    "reference": "payout_01939a8e7b007aa18c3e2b1f4c5d6e7f_20261206_1",
                    "amount": 1250000,
                    "currency": "NGN",
                    "status": "paid",
                    "provider": "paystack",
                    "retry_of": None,
                    "failure_reason": None,
                    "created_at": "2026-12-06T10:00:00Z",
                    "sent_at": "2026-12-06T10:00:01Z",
                    "settled_at": "2026-12-06T10:00:05Z",
                }
            ]
        }
    )

    id: uuid.UUID
    vendor_id: uuid.UUID
    reference: str = Field(description="The transfer's reference at the provider.")
    amount: int
    currency: str
    status: PayoutStatus
    provider: str
    retry_of: uuid.UUID | None = Field(description="The failed payout this one retries.")
    failure_reason: str | None
    created_at: datetime
    sent_at: datetime | None
    settled_at: datetime | None


class HoldIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "Chargebacks under review"}]}
    )

    reason: str = Field(min_length=1, max_length=500, description="Why; kept in the payout log.")


class HoldOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "vendor_id": "01939a8e-7b00-7aa1-8c3e-2b1f4c5d6e7f",
                    "held": True,
                    "reason": "Chargebacks under review",
                    "held_until": None,
                }
            ]
        }
    )

    vendor_id: uuid.UUID
    held: bool
    reason: str | None
    held_until: datetime | None


class StoreAccountOut(AccountOut):
    """A payout account with its store, for the admin's list of accounts awaiting approval."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "01939a8e-7c1a-7cc4-9d52-4f7f0b0e6c22",
                    "vendor_id": "01939a8e-7b00-7aa1-8c3e-2b1f4c5d6e7f",
                    "store_name": "Ada Fabrics",
                    "bank_code": "058",
                    "account_number": "******6789",
                    "account_name": "OBI ADA CHIOMA",
                    "provider": "paystack",
                    "currency": "NGN",
                    "status": "pending_approval",
                    "name_matched": False,
                    "created_at": "2026-12-06T10:00:00Z",
                    "activated_at": None,
                }
            ]
        }
    )

    vendor_id: uuid.UUID
    store_name: str


class DecisionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "The holder is not the store's owner"}]},
    )

    reason: str = Field(min_length=1, max_length=500, description="Why; kept in the payout log.")


class FinalizeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"otp": "123456"}]})

    otp: str = Field(
        pattern=r"^[0-9]{4,8}$",
        description="The OTP the provider sent to the business's phone; never stored or logged.",
    )


class OtpResentOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"payout_id": "01939a8e-7c1a-7cc4-9d52-4f7f0b0e6c21", "status": "otp_required"}
            ]
        }
    )

    payout_id: uuid.UUID
    status: PayoutStatus
