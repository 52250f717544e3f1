"""The realtime outbox (events and the topics they go to) and WebSocket tickets."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.clock import utcnow
from oja.core.db import Base, IdMixin

EventId = BigInteger().with_variant(Integer(), "sqlite")
"""64-bit on PostgreSQL; SQLite autoincrements only an ``INTEGER PRIMARY KEY`` (also 64-bit)."""


class RealtimeEvent(Base):
    """One event, written in the transaction that caused it. ``id`` only grows: it is the
    ``Last-Event-ID``. ``pushed_at`` is set once a push reached the fan-out; a row still without
    it after ``OJA_REALTIME_DRAIN_AFTER`` seconds is pushed by ``realtime.drain``."""

    __tablename__ = "realtime_event"

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    event: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]]
    topics: Mapped[list[Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    pushed_at: Mapped[datetime | None] = mapped_column(index=True)


class RealtimeEventTopic(Base):
    """Which topics an event went to: the index a reconnecting client's replay reads."""

    __tablename__ = "realtime_event_topic"

    topic: Mapped[str] = mapped_column(String(128), primary_key=True)
    event_id: Mapped[int] = mapped_column(
        EventId, ForeignKey("realtime_event.id", ondelete="CASCADE"), primary_key=True
    )


class RealtimeTicket(IdMixin, Base):
    """A single-use WebSocket ticket, stored as a keyed digest (the ticket itself is never kept)."""

    __tablename__ = "realtime_ticket"

    digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
