"""The Paystack fake's records, constants and signature (see :mod:`oja.sandbox.paystack`)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

DEFAULT_SECRET_KEY = "sk_test_oja_sandbox_paystack"  # noqa: S105 (a fake's public test value)
SUPPORTED_CURRENCIES = frozenset({"NGN", "GHS", "ZAR", "KES", "USD"})
SANDBOX_OTP = "123456"
DEFAULT_BALANCE = 1_000_000_000  # ₦10,000,000.00 in kobo
BANKS = (
    ("044", "Access Bank", "access-bank"),
    ("011", "First Bank of Nigeria", "first-bank-of-nigeria"),
    ("058", "Guaranty Trust Bank", "guaranty-trust-bank"),
    ("033", "United Bank For Africa", "united-bank-for-africa"),
    ("057", "Zenith Bank", "zenith-bank"),
)
BANK_NAMES = {code: name for code, name, _ in BANKS}
RATE_LIMITED_BODY = {
    "status": False,
    "message": "Rate limit exceeded!",
    "type": "api_error",
    "code": "rate_limited",
}


def sign(secret_key: str, body: bytes) -> str:
    return hmac.new(secret_key.encode(), body, hashlib.sha512).hexdigest()


def transfer_fee(amount: int) -> int:
    """Paystack's NGN transfer fee: ₦10 up to ₦5,000, ₦25 up to ₦50,000, ₦50 above (kobo)."""
    return 1000 if amount <= 500_000 else 2500 if amount <= 5_000_000 else 5000


def timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Transaction:
    id: int
    reference: str
    access_code: str
    amount: int
    currency: str
    email: str
    metadata: dict[str, Any]
    callback_url: str | None
    status: str = "abandoned"
    gateway_response: str = "The transaction was not completed"
    paid_at: str | None = None
    created_at: str = field(default_factory=timestamp)
    refunded: int = 0
    split_code: str | None = None
    subaccount: str | None = None
    split_request: dict[str, Any] | None = None
    """The dynamic ``split`` initialize received, exactly as sent."""


@dataclass
class RefundRecord:
    id: int
    transaction: Transaction
    amount: int
    status: str = "pending"
    merchant_note: str | None = None
    created_at: str = field(default_factory=timestamp)


@dataclass
class SubaccountRecord:
    id: int
    code: str
    business_name: str
    bank_code: str
    account_number: str
    percentage_charge: float
    active: bool = True
    email: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "subaccount_code": self.code,
            "business_name": self.business_name,
            "account_name": f"{self.business_name.upper()}",
            "account_number": self.account_number,
            "settlement_bank": BANK_NAMES.get(self.bank_code, self.bank_code),
            "currency": "NGN",
            "percentage_charge": self.percentage_charge,
            "settlement_schedule": "AUTO",
            "is_verified": False,
            "active": self.active,
            "primary_contact_email": self.email,
            "domain": "test",
        }


@dataclass
class SplitRecord:
    id: int
    code: str
    name: str
    type: str
    currency: str
    shares: dict[str, int]
    bearer_type: str
    bearer_subaccount: str | None
    active: bool = True
    dynamic: bool = False
    """Sent with a transaction's initialize rather than created with ``POST /split``."""


@dataclass
class TransferRecord:
    id: int
    code: str
    reference: str
    amount: int
    currency: str
    recipient: str
    reason: str
    fee: int
    status: str = "pending"
    created_at: str = field(default_factory=timestamp)


@dataclass
class DisputeRecord:
    id: int
    transaction: Transaction
    refund_amount: int
    status: str = "awaiting-merchant-feedback"
    resolution: str | None = None
    evidence: dict[str, Any] | None = None
    due_at: str = field(
        default_factory=lambda: (
            (datetime.now(UTC) + timedelta(days=7))
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )
    )
