"""Balance, statement and transaction-history answers. Amounts are integer minor units."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from oja.marketplace.ledger.models import AccountKind, EntryType, TransactionKind


class CurrencyBalance(BaseModel):
    currency: str = Field(examples=["NGN"])
    pending: int = Field(description="Held until delivery and the return window have passed.")
    available: int = Field(description="Payable to the store; negative after an overdrawn refund.")


class StoreBalanceOut(BaseModel):
    balances: list[CurrencyBalance] = Field(description="One row per currency the store sold in.")


class LedgerEntryOut(BaseModel):
    id: uuid.UUID
    created_at: datetime
    type: EntryType
    account: AccountKind
    amount: int = Field(description="Positive when it increases the account as its owner reads it.")
    currency: str
    order_id: uuid.UUID | None
    source: str = Field(description="What booked it: payment:<reference>, refund:<id>, release:<order id>.")


class StatementFormat(enum.StrEnum):
    json = "json"
    csv = "csv"


class BuyerTransactionOut(BaseModel):
    id: uuid.UUID
    kind: TransactionKind
    amount: int
    currency: str
    reference: str | None = Field(description="The provider reference of the payment.")
    group_id: uuid.UUID | None = Field(description="GET /order-groups/{group_id}.")
    order_id: uuid.UUID | None = Field(description="GET /orders/{order_id} (refunds).")
    created_at: datetime


CSV_COLUMNS = ("id", "created_at", "type", "account", "amount", "currency", "order_id", "source")
