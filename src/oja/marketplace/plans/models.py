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

from sqlalchemy import (
    Boolean,
    ForeignKey,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.clock import utcnow
from oja.core.db import Base, IdMixin, TimestampMixin, status_column
from oja.marketplace.tenancy import VendorOwned


class SubscriptionStatus(enum.StrEnum):
    active = "active"
    canceled = "canceled"


class VendorSubscription(IdMixin, TimestampMixin, VendorOwned, Base):
    """The store's paid plan; a store without an active one is on the free tier.

    One row per store, moved only by verified Paystack subscriptions (webhook inbox), the store's
    own cancel and downgrade (which give value back, never take it), and the periodic job that
    applies what falls due (period end, grace end, a scheduled downgrade)."""

    __tablename__ = "vendor_subscription"
    __table_args__ = (UniqueConstraint("vendor_id"),)

    plan: Mapped[str] = mapped_column(String(64))
    """A vendor plan's code (``oja.billing.plans.VENDOR_PLANS``)."""
    status: Mapped[str] = status_column(SubscriptionStatus, default=SubscriptionStatus.active)
    customer_email: Mapped[str | None] = mapped_column(String(320), default=None)
    """The email the store paid with: how a new Paystack subscription is matched to the store."""
    subscription_code: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    authorization_code: Mapped[str | None] = mapped_column(String(64), default=None)
    current_period_end: Mapped[datetime | None] = mapped_column(default=None)
    """Paid through (Paystack's ``next_payment_date``); a renewal moves it."""
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    grace_until: Mapped[datetime | None] = mapped_column(default=None)
    """Set by a failed renewal: the store keeps its plan until then, then falls to the free tier."""
    pending_plan: Mapped[str | None] = mapped_column(String(64), default=None)
    """A plan change waiting: an upgrade until Paystack confirms it, a downgrade until
    ``pending_at``."""
    pending_subscription_code: Mapped[str | None] = mapped_column(
        String(64), default=None, index=True
    )
    pending_at: Mapped[datetime | None] = mapped_column(default=None)
    """When a downgrade takes effect (the current period's end); None for an upgrade."""


class StoreVisitor(VendorOwned, Base):
    """A distinct signed-in buyer of a store in the plan period starting at ``period_start``."""

    __tablename__ = "store_visitor"
    __table_args__ = (PrimaryKeyConstraint("vendor_id", "period_start", "user_id"),)

    period_start: Mapped[datetime]
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ordinal: Mapped[int | None] = mapped_column(default=None)
    """The user's place in the period's admissions (1 = first): a store over its limit keeps
    serving places 1..limit; the others' sessions with it end (``store_session_ended``)."""


class StorePlanAlert(VendorOwned, Base):
    """A usage alert sent to the store: at most one per threshold (percent) and period."""

    __tablename__ = "store_plan_alert"
    __table_args__ = (PrimaryKeyConstraint("vendor_id", "period_start", "threshold"),)

    period_start: Mapped[datetime]
    threshold: Mapped[int] = mapped_column(SmallInteger)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)


class VendorPlanChange(IdMixin, VendorOwned, Base):
    """An operator's change of a store's plan: who, from what, to what, why, when."""

    __tablename__ = "vendor_plan_change"

    from_plan: Mapped[str] = mapped_column(String(64))
    """The plan the store was on (``free`` without an active paid plan)."""
    to_plan: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
