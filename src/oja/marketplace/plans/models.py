"""A store's plan, and the buyers it served in each plan period.

:class:`StoreVisitor` is the exact set of distinct users of a store in one period: one row per
(store, period, user), written the first time the user is seen — never once per page view. The
count the limit is checked against lives in billing's ``quota_counter`` (one row per store and
period), moved in the same transaction as the visitor's insert.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, PrimaryKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.clock import utcnow
from oja.core.db import Base, IdMixin, TimestampMixin, status_column
from oja.marketplace.tenancy import VendorOwned


class SubscriptionStatus(enum.StrEnum):
    active = "active"
    canceled = "canceled"


class VendorSubscription(IdMixin, TimestampMixin, VendorOwned, Base):
    """The store's paid plan; a store without an active one is on the free tier."""

    __tablename__ = "vendor_subscription"
    __table_args__ = (UniqueConstraint("vendor_id"),)

    plan: Mapped[str] = mapped_column(String(64))
    """A vendor plan's code (``oja.billing.plans.VENDOR_PLANS``)."""
    status: Mapped[str] = status_column(SubscriptionStatus, default=SubscriptionStatus.active)


class StoreVisitor(VendorOwned, Base):
    """A distinct signed-in buyer of a store in the plan period starting at ``period_start``."""

    __tablename__ = "store_visitor"
    __table_args__ = (PrimaryKeyConstraint("vendor_id", "period_start", "user_id"),)

    period_start: Mapped[datetime]
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
