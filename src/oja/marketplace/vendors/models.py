"""Stores, their members and the record of every status change.

Status flow: ``pending`` → ``approved`` | ``rejected``; ``approved`` → ``suspended``;
``suspended`` → ``approved`` (reinstated). The table in :data:`TRANSITIONS` is the only source of
allowed moves; a move is one conditional UPDATE (``WHERE status = :from``), so two admins acting at
once cannot both succeed from the same state.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, PrimaryKeyConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.clock import utcnow
from oja.core.db import Base, IdMixin, TimestampMixin, one_of, status_column
from oja.marketplace.tenancy import VendorOwned


class VendorStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    suspended = "suspended"


class VendorAction(enum.StrEnum):
    approve = "approve"
    reject = "reject"
    suspend = "suspend"


TRANSITIONS: dict[VendorAction, tuple[frozenset[VendorStatus], VendorStatus]] = {
    VendorAction.approve: (
        frozenset({VendorStatus.pending, VendorStatus.suspended}),
        VendorStatus.approved,
    ),
    VendorAction.reject: (frozenset({VendorStatus.pending}), VendorStatus.rejected),
    VendorAction.suspend: (frozenset({VendorStatus.approved}), VendorStatus.suspended),
}
"""action → (states it may start from, state it leads to)."""


class StaffRole(enum.StrEnum):
    owner = "owner"
    manager = "manager"
    staff = "staff"


class Vendor(IdMixin, TimestampMixin, Base):
    """A store. The vendor row is the tenant: its own queries are by ``id`` (or public ``slug``)."""

    __tablename__ = "vendor"
    __table_args__ = (Index("ix_vendor_status_created_at", "status", "created_at"),)

    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    logo_file_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("file.id", ondelete="SET NULL")
    )
    contact_email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = status_column(VendorStatus, default=VendorStatus.pending)
    status_reason: Mapped[str | None] = mapped_column(String(500))
    time_zone: Mapped[str | None] = mapped_column(String(64), default=None)
    """The store's IANA time zone: the calendar days of its sales reports and daily rollups.
    None follows ``OJA_REPORTS_TIME_ZONE`` (so a store that never chose one moves with it)."""
    rollup_time_zone: Mapped[str | None] = mapped_column(String(64), default=None)
    """The zone the store's stored daily rollups were counted in (None: ``OJA_REPORTS_TIME_ZONE``).
    It differs from :attr:`time_zone` between a change of zone and the rollup job's rebuild of the
    store's days; meanwhile its reports are counted live, never from days cut at another
    midnight."""


class VendorMember(VendorOwned, Base):
    """A user's place in a store. A user belongs to one store at most (``user_id`` is unique)."""

    __tablename__ = "vendor_member"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(one_of(StaffRole, name="role_valid", length=16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VendorStatusChange(IdMixin, VendorOwned, Base):
    """One applied status transition: who moved the store, from what, to what, why, when."""

    __tablename__ = "vendor_status_change"

    from_status: Mapped[str] = mapped_column(
        one_of(VendorStatus, name="from_status_valid", length=16)
    )
    to_status: Mapped[str] = mapped_column(one_of(VendorStatus, name="to_status_valid", length=16))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StoreFollow(VendorOwned, Base):
    """A user following a store: told once a day at most of the products it listed that day."""

    __tablename__ = "store_follow"

    __table_args__ = (PrimaryKeyConstraint("vendor_id", "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProductAnnouncement(Base):
    """A product its store's followers were told of: announced once, whenever it became active.

    The daily announcement lists the active products of followed stores changed that day and not
    yet announced, so a product created as a draft and activated days later is announced on the
    day it went live, and an announced product that is edited is not announced again."""

    __tablename__ = "product_announcement"

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("product.id", ondelete="CASCADE"), primary_key=True
    )
    vendor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vendor.id", ondelete="CASCADE"))
    announced_at: Mapped[datetime] = mapped_column(default=utcnow)
