"""Payout accounts, payouts, a store's payout hold and the record of every payout decision.

A :class:`Payout` is one transfer of a store's available money. It is created ``pending`` with its
deterministic ``reference`` in the same transaction that books ``payout:<id>`` in the ledger
(``store_available`` → ``provider_clearing``); at most one payout per store and currency is in
flight (``pending``, ``processing`` or ``otp_required``: a partial unique index, on both
backends). The transfer is sent after that commit, always under the row's reference, so a re-sent transfer is refused by the
provider as a duplicate and the row adopts the provider's answer instead. ``failed`` and
``reversed`` give the money back once (``payout-return:<id>``).
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.clock import utcnow
from oja.core.db import Base, IdMixin, TimestampMixin, one_of, status_column
from oja.marketplace.tenancy import VendorOwned


class AccountStatus(enum.StrEnum):
    active = "active"
    """The account payouts go to (one per store at most)."""
    pending_approval = "pending_approval"
    """Its resolved name did not match the store's: it waits for an admin."""
    replaced = "replaced"
    """Was active, or waited, until a newer account took its place."""
    rejected = "rejected"
    """Waited for an admin, who refused it (the reason is in the payout log)."""


class PayoutStatus(enum.StrEnum):
    pending = "pending"
    """Booked in the ledger; the transfer has not been accepted by the provider yet."""
    processing = "processing"
    """The provider accepted the transfer; its outcome comes by webhook or verify."""
    otp_required = "otp_required"
    """The provider holds the transfer for an OTP (Paystack ``status: otp``): an admin finalizes
    it with the OTP the business's phone received (``POST /admin/payouts/{id}/finalize``)."""
    paid = "paid"
    failed = "failed"
    reversed = "reversed"


IN_FLIGHT = (PayoutStatus.pending, PayoutStatus.processing, PayoutStatus.otp_required)
SETTLED = frozenset({PayoutStatus.paid, PayoutStatus.failed, PayoutStatus.reversed})
RETURNED = frozenset({PayoutStatus.failed, PayoutStatus.reversed})
"""Outcomes whose money goes back to the store's available balance."""


class PayoutAction(enum.StrEnum):
    account_set = "account_set"
    account_changed = "account_changed"
    account_awaiting_approval = "account_awaiting_approval"
    account_approved = "account_approved"
    hold = "hold"
    release = "release"
    retry = "retry"
    account_rejected = "account_rejected"
    otp_finalized = "otp_finalized"
    otp_resent = "otp_resent"


class PayoutAccount(IdMixin, TimestampMixin, VendorOwned, Base):
    """A bank account a store gave for its payouts, as the provider resolved it."""

    __tablename__ = "payout_account"
    __table_args__ = (
        Index(
            "uq_payout_account_vendor_id_active",
            "vendor_id",
            unique=True,
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
    )

    provider: Mapped[str] = mapped_column(String(16))
    bank_code: Mapped[str] = mapped_column(String(16))
    account_number: Mapped[str] = mapped_column(String(20))
    account_name: Mapped[str] = mapped_column(String(200))
    """The holder's name as the provider resolved it."""
    recipient_code: Mapped[str] = mapped_column(String(64))
    """The provider's transfer recipient (Paystack ``RCP_…``)."""
    currency: Mapped[str] = mapped_column(String(3))
    name_matched: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = status_column(AccountStatus, default=AccountStatus.pending_approval)
    set_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    approved_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL")
    )
    activated_at: Mapped[datetime | None]


class PayoutHold(IdMixin, VendorOwned, Base):
    """A store's payout hold: an admin's (until released) and an account change's (24 h)."""

    __tablename__ = "payout_hold"
    __table_args__ = (UniqueConstraint("vendor_id"),)

    held: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str | None] = mapped_column(String(500))
    held_until: Mapped[datetime | None]
    """Payouts wait until then after the payout account changed (account-takeover defence)."""
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Payout(IdMixin, TimestampMixin, VendorOwned, Base):
    __tablename__ = "payout"
    __table_args__ = (
        UniqueConstraint("reference"),
        UniqueConstraint("retry_of"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index(
            "uq_payout_vendor_id_currency_in_flight",
            "vendor_id",
            "currency",
            unique=True,
            postgresql_where=text("status IN ('pending', 'processing', 'otp_required')"),
            sqlite_where=text("status IN ('pending', 'processing', 'otp_required')"),
        ),
        Index("ix_payout_status_updated_at", "status", "updated_at"),
        Index("ix_payout_vendor_id_created_at", "vendor_id", "created_at"),
    )

    reference: Mapped[str] = mapped_column(String(100))
    """``payout_<store>_<yyyymmdd>_<n>`` (a retry: ``…-r1``); sent to the provider as is."""
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = status_column(PayoutStatus, default=PayoutStatus.pending)
    provider: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("payout_account.id", ondelete="RESTRICT")
    )
    recipient_code: Mapped[str] = mapped_column(String(64))
    run_date: Mapped[date]
    sequence: Mapped[int] = mapped_column(default=1)
    retry_of: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payout.id", ondelete="RESTRICT"))
    transfer_code: Mapped[str | None] = mapped_column(String(64))
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None]
    settled_at: Mapped[datetime | None]


class PayoutLog(IdMixin, VendorOwned, Base):
    """Every payout decision: accounts set, changed and approved, holds, releases, retries."""

    __tablename__ = "payout_log"
    __table_args__ = (Index("ix_payout_log_vendor_id_created_at", "vendor_id", "created_at"),)

    action: Mapped[str] = mapped_column(one_of(PayoutAction, name="action_valid", length=32))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(String(500))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StoreSubaccount(IdMixin, TimestampMixin, VendorOwned, Base):
    """A store's Paystack subaccount (``OJA_MARKETPLACE_SETTLEMENT=provider_split``): one per
    store and currency, made for its active payout account, named in checkout's dynamic split
    from ``active_from`` (the account-change hold applies to it as to transfers)."""

    __tablename__ = "store_subaccount"
    __table_args__ = (UniqueConstraint("vendor_id", "currency"),)

    provider: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(64))
    """Paystack ``ACCT_…``."""
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("payout_account.id", ondelete="RESTRICT")
    )
    """The payout account it settles to."""
    currency: Mapped[str] = mapped_column(String(3))
    active_from: Mapped[datetime]
