"""Balance, statement and transaction-history answers. Amounts are integer minor units."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from oja.marketplace.ledger.models import AccountKind, EntryType, TransactionKind


class CurrencyBalance(BaseModel):
    currency: str = Field(examples=["NGN"])
    pending: int = Field(description="Held until delivery and the return window have passed.")
    available: int = Field(description="Payable to the store; negative after an overdrawn refund.")
    frozen: int = Field(
        default=0, description="Held by open disputes: neither released nor paid out."
    )
    paid_out: int = Field(
        default=0,
        description="Reached the store: payouts paid plus shares the provider's split settled.",
    )
    in_transit: int = Field(
        default=0,
        description="Payouts booked and not yet paid (pending, processing or awaiting an OTP).",
    )


class StoreBalanceOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "balances": [
                        {
                            "currency": "NGN",
                            "pending": 3600,
                            "available": 12500,
                            "frozen": 0,
                            "paid_out": 480000,
                            "in_transit": 150000,
                        }
                    ]
                }
            ]
        }
    )

    balances: list[CurrencyBalance] = Field(description="One row per currency the store sold in.")


class LedgerEntryOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "01939a8e-7c1a-7cc4-9d52-4f7f0b0e6c11",
                    "created_at": "2026-12-06T10:00:00Z",
                    "type": "sale",
                    "account": "store_pending",
                    "amount": 3600,
                    "currency": "NGN",
                    "order_id": "01939a8e-7b00-7aa1-8c3e-2b1f4c5d6e7f",
                    "source": "payment:oja_01939a8e7a0070a1",
                }
            ]
        }
    )

    id: uuid.UUID
    created_at: datetime
    type: EntryType
    account: AccountKind
    amount: int = Field(description="Positive when it increases the account as its owner reads it.")
    currency: str
    order_id: uuid.UUID | None
    source: str = Field(
        description="What booked it: payment:<reference>, refund:<id>, release:<order id>."
    )


class StatementFormat(enum.StrEnum):
    json = "json"
    csv = "csv"


class BuyerTransactionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "01939a8e-7c1a-7cc4-9d52-4f7f0b0e6c12",
                    "kind": "payment",
                    "amount": 6997,
                    "currency": "NGN",
                    "reference": "oja_01939a8e7a0070a1",
                    "group_id": "01939a8e-7a00-70a1-8c3e-2b1f4c5d6e70",
                    "order_id": None,
                    "created_at": "2026-12-06T10:00:00Z",
                }
            ]
        }
    )

    id: uuid.UUID
    kind: TransactionKind
    amount: int
    currency: str
    reference: str | None = Field(description="The provider reference of the payment.")
    group_id: uuid.UUID | None = Field(description="GET /order-groups/{group_id}.")
    order_id: uuid.UUID | None = Field(description="GET /orders/{order_id} (refunds).")
    created_at: datetime


CSV_COLUMNS = ("id", "created_at", "type", "account", "amount", "currency", "order_id", "source")


class DisputeOrderOut(BaseModel):
    order_id: uuid.UUID
    vendor_id: uuid.UUID
    frozen: int = Field(description="The store's share frozen by the dispute.")
    commission: int = Field(description="The platform's commission at stake.")


class DisputeOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "01939a8e-7c1a-7cc4-9d52-4f7f0b0e6c12",
                    "provider": "paystack",
                    "provider_dispute_id": "2867",
                    "reference": "oja_01939a8e7a0070a1",
                    "group_id": "01939a8e-7b00-7aa1-8c3e-2b1f4c5d6e70",
                    "status": "open",
                    "provider_status": "awaiting-merchant-feedback",
                    "resolution": None,
                    "amount": 6597,
                    "currency": "NGN",
                    "due_at": "2026-12-13T10:00:00Z",
                    "evidence_id": None,
                    "evidence_at": None,
                    "resolved_at": None,
                    "created_at": "2026-12-06T10:00:00Z",
                    "orders": [
                        {
                            "order_id": "01939a8e-7b00-7aa1-8c3e-2b1f4c5d6e7f",
                            "vendor_id": "01939a8e-7b00-7aa1-8c3e-2b1f4c5d6e71",
                            "frozen": 3240,
                            "commission": 360,
                        }
                    ],
                }
            ]
        }
    )

    id: uuid.UUID
    provider: str
    provider_dispute_id: str
    reference: str = Field(description="The disputed payment's reference.")
    group_id: uuid.UUID
    status: str = Field(description="open, won (released) or lost (reversed).")
    provider_status: str
    resolution: str | None
    amount: int = Field(description="What the buyer disputes, minor units.")
    currency: str
    due_at: datetime | None = Field(description="The provider's deadline for evidence.")
    evidence_id: str | None
    evidence_at: datetime | None
    resolved_at: datetime | None
    created_at: datetime
    orders: list[DisputeOrderOut]


class EvidenceIn(BaseModel):
    """What Paystack's ``POST /dispute/{id}/evidence`` takes."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "customer_email": "ada@example.com",
                    "customer_name": "Ada Obi",
                    "customer_phone": "+2348012345678",
                    "service_details": "Two pairs of sandals, delivered and signed for.",
                    "delivery_address": "12 Allen Avenue, Ikeja",
                    "delivery_date": "2026-12-01",
                }
            ]
        },
    )

    customer_email: EmailStr
    customer_name: str = Field(min_length=1, max_length=200)
    customer_phone: str = Field(pattern=r"^\+?[0-9 ()-]{6,20}$")
    service_details: str = Field(min_length=1, max_length=2000)
    delivery_address: str | None = Field(default=None, max_length=500)
    delivery_date: date | None = None


class Granularity(enum.StrEnum):
    day = "day"
    month = "month"


class RevenuePeriod(BaseModel):
    period: str = Field(description="`YYYY-MM-DD` (day) or `YYYY-MM` (month), UTC.")
    currency: str
    commission: int = Field(description="Commission earned, less commission reversed.")
    fees: int = Field(
        description="Every provider fee charged on payments and on payout transfers (less the "
        "transfer fees given back with a failed or reversed transfer)."
    )
    fees_platform: int = Field(description="The part of `fees` the platform bore.")
    net: int = Field(description="`commission − fees_platform`.")


class RevenueOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "from": "2026-12-01",
                    "to": "2026-12-06",
                    "granularity": "day",
                    "periods": [
                        {
                            "period": "2026-12-06",
                            "currency": "NGN",
                            "commission": 300,
                            "fees": 44,
                            "fees_platform": 44,
                            "net": 256,
                        }
                    ],
                }
            ]
        },
        populate_by_name=True,
    )

    since: date = Field(alias="from")
    until: date = Field(alias="to", description="Inclusive.")
    granularity: Granularity
    periods: list[RevenuePeriod] = Field(
        description="One row per period and currency with any entry, oldest first."
    )
