"""Billing tables. Money is integer minor units (kobo, cents) beside an ISO 4217 currency.

State changes of ``payment`` and ``subscription`` rows are conditional UPDATEs (see
:mod:`oja.billing.states`), so a replayed or reordered event can never move a row backwards. Value is
granted through ``ledger_entry`` whose ``source`` is unique: one payment credits at most once.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from oja.billing.states import PAYMENT_STATUSES
from oja.core.clock import utcnow
from oja.core.db import Base, IdMixin, StatusMixin, TimestampMixin, status_column


class Payment(IdMixin, StatusMixin, Base):
    """One Paystack transaction started by a user."""

    __tablename__ = "payment"
    statuses = PAYMENT_STATUSES
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "amount_refunded >= 0 AND amount_refunded <= amount", name="refund_within_amount"
        ),
        Index("ix_payment_status_created_at", "status", "created_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(16), default="paystack")
    reference: Mapped[str] = mapped_column(String(100), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    amount_refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    email: Mapped[str] = mapped_column(String(320))
    authorization_url: Mapped[str] = mapped_column(String(2048))
    access_code: Mapped[str] = mapped_column(String(100))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    flag: Mapped[str | None] = mapped_column(String(32))
    """Why the payment needs a human (``amount_mismatch``): never credited while set."""
    gateway_response: Mapped[str | None] = mapped_column(String(500))
    channel: Mapped[str | None] = mapped_column(String(50))
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    paid_at: Mapped[datetime | None] = mapped_column()
    verified_at: Mapped[datetime | None] = mapped_column()


class Refund(IdMixin, StatusMixin, Base):
    """A full or partial refund of a successful payment."""

    __tablename__ = "refund"
    statuses = ("pending", "processing", "processed", "failed")
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    payment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("payment.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    provider_refund_id: Mapped[str | None] = mapped_column(String(100), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str | None] = mapped_column(String(64))


class LedgerEntry(IdMixin, Base):
    """Value granted or taken back; ``source`` (``payment:<ref>``, ``refund:<id>``) is unique."""

    __tablename__ = "ledger_entry"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(150), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    """Signed: positive for a payment, negative for a refund."""
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookEvent(IdMixin, Base):
    """The inbox: every authentic webhook delivery, once per ``(provider, event_id)``."""

    __tablename__ = "webhook_event"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    provider: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(255))
    event_type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[str] = status_column(
        ("received", "processed", "ignored", "failed"), default="received"
    )
    outcome: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column()


class BillingCustomer(Base):
    """The Stripe customer that stands for a user."""

    __tablename__ = "billing_customer"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    stripe_customer_id: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Subscription(IdMixin, TimestampMixin, Base):
    """A user's subscription as last fetched from the provider (the provider is the truth)."""

    __tablename__ = "subscription"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(16), default="stripe")
    provider_subscription_id: Mapped[str] = mapped_column(String(100), unique=True)
    plan_code: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(32))
    current_period_end: Mapped[datetime | None] = mapped_column()
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    canceled_at: Mapped[datetime | None] = mapped_column()
    synced_at: Mapped[datetime | None] = mapped_column()


class QuotaCounter(Base):
    """Units used of ``metric`` by ``subject`` in the window starting at ``window_start``."""

    __tablename__ = "quota_counter"

    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    metric: Mapped[str] = mapped_column(String(100), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    used: Mapped[int] = mapped_column(default=0)


class QuotaReservation(Base):
    """One reserved unit; ``reserved → committed | refunded``, each transition at most once."""

    __tablename__ = "quota_reservation"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(String(100))
    window_start: Mapped[datetime] = mapped_column()
    status: Mapped[str] = status_column(("reserved", "committed", "refunded"), default="reserved")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
