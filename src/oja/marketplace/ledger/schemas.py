"""Balance, statement and transaction-history answers. Amounts are integer minor units."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from oja.marketplace.ledger.models import AccountKind, EntryType, TransactionKind


class CurrencyBalance(BaseModel):
    currency: str = Field(examples=["NGN"])
    pending: int = Field(description="Held until delivery and the return window have passed.")
    available: int = Field(description="Payable to the store; negative after an overdrawn refund.")


class StoreBalanceOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"balances": [{"currency": "NGN", "pending": 3600, "available": 12500}]}]
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
