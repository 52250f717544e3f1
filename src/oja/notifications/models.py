"""Stored notifications, their deliveries per channel, preferences and template overrides.

A ``notification`` is one event told to one user (unique per ``event_id`` × ``user_id``: an event
fanned out twice notifies once) and is itself the in-app message. A ``notification_delivery`` is
that notification on one external channel (unique per notification × channel): the send job moves
it ``pending`` → ``sending`` (committed before the provider is called) → ``sent``; provider
callbacks move it on to ``delivered`` or ``failed``. A delivery found ``sending`` by a retry may
have been accepted by the provider before the worker died, so it becomes ``uncertain`` and is never
sent again: late is allowed, twice is not.

Three statuses hold a delivery back without sending it: ``held`` waits for the recipient's daily
promotions digest, ``digested`` was folded into that digest (``digest_id`` names the delivery that
carried it), ``throttled`` was refused by the per-recipient rate limit (the in-app notification
still tells it). ``send_after`` is when a delivery deferred by quiet hours may go.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.clock import utcnow
from oja.core.db import Base, IdMixin, TimestampMixin, one_of, status_column
from oja.notifications.catalogue import Category, Channel


class DeliveryStatus(enum.StrEnum):
    pending = "pending"
    sending = "sending"
    sent = "sent"
    delivered = "delivered"
    failed = "failed"
    uncertain = "uncertain"
    held = "held"
    digested = "digested"
    throttled = "throttled"


STATUS_RANK = {
    DeliveryStatus.pending: 0,
    DeliveryStatus.sending: 1,
    DeliveryStatus.uncertain: 1,
    DeliveryStatus.sent: 2,
    DeliveryStatus.delivered: 3,
    DeliveryStatus.failed: 3,
    DeliveryStatus.held: 0,
    DeliveryStatus.digested: 3,
    DeliveryStatus.throttled: 3,
}
"""Provider callbacks arrive in any order: a status only ever moves to a higher rank."""

_CHANNELS = tuple(c.value for c in Channel)
_CATEGORIES = tuple(c.value for c in Category)


class Notification(IdMixin, Base):
    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("event_id", "user_id"),
        Index("ix_notification_user_id_created_at", "user_id", "created_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    event_id: Mapped[uuid.UUID] = mapped_column()
    event: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(one_of(_CATEGORIES, name="category_valid", length=16))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column()
    read_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationDelivery(IdMixin, TimestampMixin, Base):
    __tablename__ = "notification_delivery"
    __table_args__ = (
        UniqueConstraint("notification_id", "channel"),
        Index("ix_notification_delivery_provider_message_id", "provider_message_id"),
        Index("ix_notification_delivery_status_created_at", "status", "created_at"),
    )

    notification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notification.id", ondelete="CASCADE")
    )
    channel: Mapped[str] = mapped_column(one_of(_CHANNELS, name="channel_valid", length=8))
    status: Mapped[str] = status_column(DeliveryStatus, default=DeliveryStatus.pending)
    address: Mapped[str] = mapped_column(String(320))
    """The email address or E.164 number it goes to, as it was when the event was fanned out."""
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_message_id: Mapped[str | None] = mapped_column(String(128))
    provider_status: Mapped[str | None] = mapped_column(String(32))
    """The provider's last word on it (Twilio ``MessageStatus``, SendGrid ``event``)."""
    last_error: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None] = mapped_column()
    send_after: Mapped[datetime | None] = mapped_column()
    """Not before this time: the end of the recipient's quiet hours when it was fanned out."""
    digest_id: Mapped[uuid.UUID | None] = mapped_column()
    """For a ``digested`` delivery: the digest delivery that carried it."""


class NotificationPreference(Base):
    """A user's choice for one category on one channel; absent rows mean the default."""

    __tablename__ = "notification_preference"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    category: Mapped[str] = mapped_column(
        one_of(_CATEGORIES, name="category_valid", length=16), primary_key=True
    )
    channel: Mapped[str] = mapped_column(
        one_of(_CHANNELS, name="channel_valid", length=8), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class NotificationSetting(Base):
    """A user's quiet hours and digest choice; an absent row means none and no digest."""

    __tablename__ = "notification_setting"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    quiet_start: Mapped[int | None] = mapped_column(SmallInteger)
    """Minutes after local midnight when quiet hours begin (None: no quiet hours)."""
    quiet_end: Mapped[int | None] = mapped_column(SmallInteger)
    """Minutes after local midnight when they end (before ``quiet_start``: they span midnight)."""
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    """IANA name the quiet hours are read in."""
    promotions_digest: Mapped[bool] = mapped_column(Boolean, default=False)
    """Promotion emails wait for one daily digest instead of going one by one."""
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class NotificationTemplate(IdMixin, TimestampMixin, Base):
    """An admin's override of the default template for one event × channel × locale."""

    __tablename__ = "notification_template"
    __table_args__ = (UniqueConstraint("event", "channel", "locale"),)

    event: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(one_of(_CHANNELS, name="channel_valid", length=8))
    locale: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
