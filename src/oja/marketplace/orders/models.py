"""Order groups, store orders, their lines and transitions, returns and refunds.

A checkout creates one :class:`OrderGroup` (the buyer's single payment) and one :class:`StoreOrder`
per store, each with :class:`OrderLine` snapshots (title, SKU, options and prices as sold: later
catalogue changes never rewrite an order). Store-order status moves only along
:data:`ORDER_TRANSITIONS`, applied as a conditional UPDATE (``WHERE status = :from``) and recorded in
:class:`OrderTransition`; nothing moves backwards and a replayed request changes nothing.

Money is integer minor units in the group's one currency. A refund is unique per source
(a cancellation or a return), so a retried refund job can never pay twice.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.clock import utcnow
from oja.core.db import Base, IdMixin, TimestampMixin, one_of, status_column
from oja.marketplace.tenancy import VendorOwned


class GroupStatus(enum.StrEnum):
    awaiting_payment = "awaiting_payment"
    """Unpaid, its stock reserved; after a failed attempt too (``failure_reason``), until expiry."""
    paid = "paid"
    flagged = "flagged"
    """The provider confirmed a different amount or currency: held for an operator, never confirmed."""
    expired = "expired"
    """Unpaid when the reservation ran out: its orders are canceled and their stock returned."""
    canceled = "canceled"


class OrderStatus(enum.StrEnum):
    pending = "pending"
    confirmed = "confirmed"
    shipped = "shipped"
    delivered = "delivered"
    canceled = "canceled"
    returned = "returned"


ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.pending: frozenset({OrderStatus.confirmed, OrderStatus.canceled}),
    OrderStatus.confirmed: frozenset({OrderStatus.shipped, OrderStatus.canceled}),
    OrderStatus.shipped: frozenset({OrderStatus.delivered}),
    OrderStatus.delivered: frozenset({OrderStatus.returned}),
    OrderStatus.canceled: frozenset(),
    OrderStatus.returned: frozenset(),
}
"""from → the states a store order may move to; the only source of allowed moves."""


class ReturnStatus(enum.StrEnum):
    requested = "requested"
    approved = "approved"
    rejected = "rejected"
    received = "received"


class RefundStatus(enum.StrEnum):
    pending = "pending"
    """Recorded; the refund job has not yet reached the provider."""
    processing = "processing"
    """The provider accepted it; its webhook or verify will say when it is done."""
    processed = "processed"
    failed = "failed"
    needs_attention = "needs_attention"


class RefundSource(enum.StrEnum):
    cancellation = "cancellation"
    return_ = "return"


class OrderGroup(IdMixin, TimestampMixin, Base):
    """One checkout: the buyer's one payment across every store in the cart."""

    __tablename__ = "order_group"
    __table_args__ = (
        UniqueConstraint("buyer_id", "idempotency_key"),
        Index("ix_order_group_buyer_id_created_at", "buyer_id", "created_at"),
        Index("ix_order_group_status_expires_at", "status", "expires_at"),
        CheckConstraint("total >= 0", name="total_not_negative"),
    )

    buyer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="RESTRICT"))
    status: Mapped[str] = status_column(
        GroupStatus, default=GroupStatus.awaiting_payment, length=24
    )
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[int] = mapped_column(BigInteger)
    discount_total: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger)
    shipping_address: Mapped[dict[str, Any]] = mapped_column(default=dict)
    discount_code: Mapped[str | None] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(16))
    payment_reference: Mapped[str | None] = mapped_column(String(100), unique=True)
    authorization_url: Mapped[str | None] = mapped_column(String(1000))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    expires_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    flag_reason: Mapped[str | None] = mapped_column(String(500))
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    """Why the current payment attempt failed (the provider's words); cleared by a new attempt."""


class StoreOrder(IdMixin, TimestampMixin, VendorOwned, Base):
    """One store's part of an order group: what that store must fulfil."""

    __tablename__ = "store_order"
    __table_args__ = (
        UniqueConstraint("group_id", "vendor_id"),
        Index("ix_store_order_vendor_id_status_created_at", "vendor_id", "status", "created_at"),
        Index("ix_store_order_buyer_id_created_at", "buyer_id", "created_at"),
        # A store's cancellations in a time range: the sales reports.
        Index("ix_store_order_vendor_id_canceled_at", "vendor_id", "canceled_at"),
        CheckConstraint("refunded_amount >= 0 AND refunded_amount <= total", name="refund_bounded"),
    )

    group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("order_group.id", ondelete="CASCADE"), index=True
    )
    buyer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="RESTRICT"))
    status: Mapped[str] = status_column(OrderStatus, default=OrderStatus.pending)
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[int] = mapped_column(BigInteger)
    discount_total: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger)
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    carrier: Mapped[str | None] = mapped_column(String(100))
    tracking_number: Mapped[str | None] = mapped_column(String(100))
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    confirmed_at: Mapped[datetime | None]
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    canceled_at: Mapped[datetime | None]


class OrderLine(IdMixin, VendorOwned, Base):
    """A line as sold: a snapshot, so later catalogue changes never rewrite the order."""

    __tablename__ = "order_line"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "returned_quantity >= 0 AND returned_quantity <= quantity", name="returned_bounded"
        ),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("store_order.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("product.id", ondelete="SET NULL")
    )
    variant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("product_variant.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    sku: Mapped[str] = mapped_column(String(64))
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    quantity: Mapped[int]
    unit_price: Mapped[int] = mapped_column(BigInteger)
    """The catalogue price per unit when sold, before discounts."""
    unit_discount: Mapped[int] = mapped_column(BigInteger, default=0)
    tax: Mapped[int] = mapped_column(BigInteger, default=0)
    line_total: Mapped[int] = mapped_column(BigInteger)
    """``quantity × (unit_price − unit_discount) + tax``: what the buyer paid for the line."""
    discount_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("discount.id", ondelete="SET NULL")
    )
    returned_quantity: Mapped[int] = mapped_column(default=0)


class OrderTransition(IdMixin, VendorOwned, Base):
    """Every status change of a store order: who, when, from, to, why."""

    __tablename__ = "order_transition"

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("store_order.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReturnRequest(IdMixin, TimestampMixin, VendorOwned, Base):
    """A buyer's request to send back some delivered lines of one store order."""

    __tablename__ = "return_request"
    __table_args__ = (
        Index("ix_return_request_vendor_id_status", "vendor_id", "status"),
        # A store's received returns in a time range: the sales reports.
        Index("ix_return_request_vendor_id_received_at", "vendor_id", "received_at"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("store_order.id", ondelete="CASCADE"), index=True
    )
    buyer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="RESTRICT"))
    status: Mapped[str] = status_column(ReturnStatus, default=ReturnStatus.requested)
    reason: Mapped[str] = mapped_column(String(1000))
    photos: Mapped[list[Any]] = mapped_column(default=list)
    """File ids of the buyer's photos."""
    decision_note: Mapped[str | None] = mapped_column(String(1000))
    decided_at: Mapped[datetime | None]
    received_at: Mapped[datetime | None]


class ReturnLine(IdMixin, VendorOwned, Base):
    __tablename__ = "return_line"
    __table_args__ = (
        UniqueConstraint("return_id", "order_line_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    return_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("return_request.id", ondelete="CASCADE"), index=True
    )
    order_line_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("order_line.id", ondelete="CASCADE")
    )
    quantity: Mapped[int]
    amount: Mapped[int] = mapped_column(BigInteger)
    """What the buyer paid for these units: the most this line's refund may be."""
    restock: Mapped[bool | None]
    """Set when the goods are received: whether they went back into stock."""


class OrderRefund(IdMixin, TimestampMixin, VendorOwned, Base):
    """Money going back to the buyer for part of a group: unique per cancellation or return."""

    __tablename__ = "order_refund"
    __table_args__ = (
        UniqueConstraint("source", "source_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("store_order.id", ondelete="CASCADE"), index=True
    )
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("order_group.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(one_of(RefundSource, name="source_valid", length=16))
    source_id: Mapped[uuid.UUID]
    """The store order (a cancellation) or the return request this refund pays back."""
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = status_column(RefundStatus, default=RefundStatus.pending, length=24)
    provider: Mapped[str] = mapped_column(String(16))
    provider_refund_id: Mapped[str | None] = mapped_column(String(100))
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    processed_at: Mapped[datetime | None]
