"""Ledger tables: accounts, transactions, postings; per store order, what was settled and held.

Every money movement is one :class:`LedgerTransaction` (unique ``source``: one payment, refund or
release books once) with two or more :class:`LedgerPosting` rows whose signed ``amount`` sums to
zero (debits positive, credits negative; checked before anything is written). Postings are never
updated or deleted (a trigger refuses it on both backends); a mistake is corrected by another
transaction. Each :class:`LedgerAccount` keeps its running ``balance``, moved by the same
transaction that writes the postings, so reading a balance is one row, never a SUM.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.clock import utcnow
from oja.core.db import Base, IdMixin, TimestampMixin, one_of
from oja.marketplace.tenancy import VendorOwned


class AccountKind(enum.StrEnum):
    provider_clearing = "provider_clearing"
    """Asset: money the payment provider holds for the platform (in from buyers, out to stores)."""
    platform_revenue = "platform_revenue"
    """Income: commission the platform earned."""
    store_pending = "store_pending"
    """Liability: a store's share held until delivery and the return window have passed."""
    store_available = "store_available"
    """Liability: a store's share it may be paid; negative after a refund it could not cover."""
    store_frozen = "store_frozen"
    """Liability: a store's share held by an open dispute (neither released nor paid out)."""
    provider_fees = "provider_fees"
    """Expense: the payment provider's fees the platform bore."""


STORE_KINDS = frozenset(
    {AccountKind.store_pending, AccountKind.store_available, AccountKind.store_frozen}
)
CREDIT_NORMAL = frozenset({AccountKind.platform_revenue, *STORE_KINDS})
"""Accounts whose balance is shown as ``-balance`` (credits increase them)."""


class EntryType(enum.StrEnum):
    sale = "sale"
    commission = "commission"
    payment = "payment"
    refund = "refund"
    commission_refund = "commission_refund"
    release = "release"
    payout = "payout"
    adjustment = "adjustment"
    dispute = "dispute"
    """A store's share frozen by a dispute, unfrozen when it is won, or reversed when it is lost."""
    commission_dispute = "commission_dispute"
    """The platform's commission reversed by a lost dispute."""
    fee = "fee"
    """The payment provider's fee: the platform's expense, or taken from a store's share."""


class TransactionKind(enum.StrEnum):
    payment = "payment"
    refund = "refund"
    release = "release"
    payout = "payout"
    adjustment = "adjustment"
    dispute = "dispute"
    fee = "fee"


class LedgerAccount(IdMixin, Base):
    """One account per kind, store and currency (the platform's have no store)."""

    __tablename__ = "ledger_account"

    key: Mapped[str] = mapped_column(String(100), unique=True)
    """``<kind>:<vendor id or "platform">:<currency>``: the one name an account is found by."""
    kind: Mapped[str] = mapped_column(one_of(AccountKind, name="kind_valid", length=24))
    vendor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("vendor.id", ondelete="RESTRICT"), index=True
    )
    currency: Mapped[str] = mapped_column(String(3))
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    """Σ of this account's postings (debits positive), kept by every posting transaction."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerTransaction(IdMixin, Base):
    """One balanced movement of money, booked once per ``source``."""

    __tablename__ = "ledger_transaction"
    __table_args__ = (
        Index("ix_ledger_transaction_buyer_id_created_at", "buyer_id", "created_at"),
        # Refunds booked in a time range: the sales reports' rollup.
        Index("ix_ledger_transaction_kind_created_at", "kind", "created_at"),
    )

    source: Mapped[str] = mapped_column(String(150), unique=True)
    """``payment:<reference>``, ``refund:<id>``, ``release:<store order id>``…"""
    kind: Mapped[str] = mapped_column(one_of(TransactionKind, name="kind_valid", length=16))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    """The money that moved (Σ of the debits)."""
    buyer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="RESTRICT"))
    group_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("order_group.id", ondelete="RESTRICT")
    )
    order_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("store_order.id", ondelete="RESTRICT")
    )
    reference: Mapped[str | None] = mapped_column(String(100))
    """The provider's reference of the payment this transaction belongs to."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerPosting(IdMixin, Base):
    """One side of a transaction on one account; immutable."""

    __tablename__ = "ledger_posting"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        Index("ix_ledger_posting_account_id_created_at", "account_id", "created_at"),
        Index("ix_ledger_posting_vendor_id_created_at", "vendor_id", "created_at"),
    )

    transaction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_transaction.id", ondelete="RESTRICT"), index=True
    )
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_account.id", ondelete="RESTRICT")
    )
    vendor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("vendor.id", ondelete="RESTRICT")
    )
    """The account's store, copied so a store's statement is one indexed range."""
    entry_type: Mapped[str] = mapped_column(one_of(EntryType, name="entry_type_valid", length=24))
    amount: Mapped[int] = mapped_column(BigInteger)
    """Signed minor units: a debit is positive, a credit negative."""
    currency: Mapped[str] = mapped_column(String(3))
    order_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SettlementStatus(enum.StrEnum):
    held = "held"
    """The store's share sits in ``store_pending``."""
    released = "released"
    """Moved to ``store_available`` (delivered and the return window passed)."""


class StoreSettlement(IdMixin, TimestampMixin, VendorOwned, Base):
    """How one paid store order was split, and what of it is still held or may still be reversed.

    ``lines`` keeps each line's commission as booked (``{line_id: [line_total, commission]}``), so
    a refund of some lines reverses exactly their share and their commission; ``refunded`` and
    ``commission_refunded`` are what refunds have reversed so far.
    """

    __tablename__ = "store_settlement"
    __table_args__ = (
        UniqueConstraint("order_id"),
        Index("ix_store_settlement_status_created_at", "status", "created_at"),
        # A store's sales in a time range: the sales reports' rollup and live figures.
        Index("ix_store_settlement_vendor_id_created_at", "vendor_id", "created_at"),
        CheckConstraint("commission >= 0 AND commission <= total", name="commission_bounded"),
        CheckConstraint("refunded >= 0 AND refunded <= total", name="refund_bounded"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("store_order.id", ondelete="RESTRICT"))
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("order_group.id", ondelete="RESTRICT"))
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[int] = mapped_column(BigInteger)
    commission: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """The provider's fee taken from this store's share (``OJA_MARKETPLACE_FEE_BEARER=vendor``)."""
    lines: Mapped[dict[str, Any]] = mapped_column(default=dict)
    refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    commission_refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    line_refunds: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """``{line_id: amount refunded}`` so far."""
    status: Mapped[str] = mapped_column(
        one_of(SettlementStatus, name="status_valid", length=16), default=SettlementStatus.held
    )
    released_at: Mapped[datetime | None]


class StorePaidOut(IdMixin, VendorOwned, Base):
    """What reached one store per currency: its ``paid`` payouts plus the shares Paystack's
    native split settled to it directly.

    A running total moved in the same unit of work as what changes it (a payout becoming
    ``paid``, a paid payout ``reversed``, a ``split:<reference>`` booking), so the balance route
    reads one row instead of summing payouts and per-order split postings."""

    __tablename__ = "store_paid_out"
    __table_args__ = (UniqueConstraint("vendor_id", "currency"),)

    currency: Mapped[str] = mapped_column(String(3))
    paid_out: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CommissionRule(IdMixin, TimestampMixin, Base):
    """A commission override: for one store, one category, or one category in one store.

    The most specific rule wins per line (store + category, then store, then category, then the
    platform default ``OJA_MARKETPLACE_COMMISSION_PERCENT``); a rule may set a percentage, a fixed
    amount per line, or both.
    """

    __tablename__ = "commission_rule"
    __table_args__ = (
        UniqueConstraint("vendor_id", "category_id"),
        CheckConstraint("percent_bps >= 0 AND percent_bps <= 10000", name="percent_bounded"),
        CheckConstraint("fixed >= 0", name="fixed_not_negative"),
    )

    vendor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("vendor.id", ondelete="CASCADE"), index=True
    )
    category_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("category.id", ondelete="CASCADE")
    )
    percent_bps: Mapped[int] = mapped_column(default=0)
    """Basis points of the line total (1000 = 10 %)."""
    fixed: Mapped[int] = mapped_column(BigInteger, default=0)
    """Minor units per line, added to the percentage."""


class DisputeStatus(enum.StrEnum):
    open = "open"
    """The stores' shares are frozen (``store_frozen``) until the provider resolves it."""
    won = "won"
    """Resolved in the merchant's favour (``declined``): the shares went back where they were."""
    lost = "lost"
    """Resolved against the merchant (``merchant-accepted``, ``auto-accepted``): the shares and
    the commission were reversed to the provider."""


class Dispute(IdMixin, TimestampMixin, Base):
    """One provider dispute (chargeback) of a paid order group; one row per provider id."""

    __tablename__ = "dispute"
    __table_args__ = (
        UniqueConstraint("provider", "provider_dispute_id"),
        Index("ix_dispute_status_created_at", "status", "created_at"),
    )

    provider: Mapped[str] = mapped_column(String(16))
    provider_dispute_id: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str] = mapped_column(String(100))
    """The disputed payment's reference."""
    group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("order_group.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[str] = mapped_column(
        one_of(DisputeStatus, name="status_valid", length=16), default=DisputeStatus.open
    )
    provider_status: Mapped[str] = mapped_column(String(40))
    resolution: Mapped[str | None] = mapped_column(String(40))
    amount: Mapped[int] = mapped_column(BigInteger)
    """What the buyer disputes (the provider's ``refund_amount``), minor units."""
    currency: Mapped[str] = mapped_column(String(3))
    due_at: Mapped[datetime | None]
    """The provider's deadline for the merchant's evidence."""
    evidence_id: Mapped[str | None] = mapped_column(String(64))
    evidence_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]


class DisputeOrder(IdMixin, VendorOwned, Base):
    """A store order a dispute flags: the share frozen from it and the commission at stake.

    ``frozen + commission + fee`` is the order's part of the disputed amount (the whole order
    when the dispute is for the whole group)."""

    __tablename__ = "dispute_order"
    __table_args__ = (
        UniqueConstraint("dispute_id", "order_id"),
        CheckConstraint("frozen >= 0 AND commission >= 0", name="amounts_not_negative"),
        CheckConstraint("fee >= 0", name="fee_not_negative"),
    )

    dispute_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("dispute.id", ondelete="RESTRICT"), index=True
    )
    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("store_order.id", ondelete="RESTRICT"), index=True
    )
    frozen: Mapped[int] = mapped_column(BigInteger)
    """The store's share moved to ``store_frozen``."""
    commission: Mapped[int] = mapped_column(BigInteger)
    """The platform's commission on it, reversed if the dispute is lost."""
    fee: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """The part of the provider's fee the store bore on it, the platform's expense if lost."""
    from_held: Mapped[bool]
    """The share came from ``store_pending`` (not yet released), so a won dispute returns it there."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
