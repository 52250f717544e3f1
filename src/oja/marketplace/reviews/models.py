"""Reviews, the per-subject rating summary kept in the same transaction, votes, flags and
moderation decisions.

A review rates a product (``subject = product``, one per order line) or a store (``subject = store``,
one per store order): ``source_id`` names that line or order, unique per subject kind. Only
``published`` reviews count in :class:`ReviewSummary`; every status or rating change moves the
summary with atomic increments in the same unit of work.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.clock import utcnow
from oja.core.db import Base, IdMixin, TimestampMixin, one_of, status_column
from oja.marketplace.tenancy import VendorOwned


class ReviewSubject(enum.StrEnum):
    product = "product"
    store = "store"


class ReviewStatus(enum.StrEnum):
    published = "published"
    pending = "pending"
    """Held by the automatic screening until an admin decides."""
    hidden = "hidden"


class Review(IdMixin, TimestampMixin, VendorOwned, Base):
    """``vendor_id`` is the store reviewed, or the store selling the product reviewed."""

    __tablename__ = "review"
    __table_args__ = (
        UniqueConstraint("subject", "source_id"),
        Index("ix_review_subject_id_status_created_at", "subject_id", "status", "created_at"),
        Index("ix_review_status_open_flags", "status", "open_flags"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
    )

    subject: Mapped[str] = mapped_column(one_of(ReviewSubject, name="subject_valid", length=16))
    subject_id: Mapped[uuid.UUID]
    """The product's id, or the store's (then equal to ``vendor_id``)."""
    source_id: Mapped[uuid.UUID]
    """The order line (product review) or the store order (store review) that verifies the buyer."""
    author_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    rating: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    photos: Mapped[list[Any]] = mapped_column(default=list)
    photo_count: Mapped[int] = mapped_column(default=0)
    verified: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = status_column(ReviewStatus, default=ReviewStatus.published)
    screening: Mapped[str | None] = mapped_column(String(200))
    """Why the automatic screening held or hid it (None when it passed)."""
    helpful_count: Mapped[int] = mapped_column(default=0)
    open_flags: Mapped[int] = mapped_column(default=0)
    """Flags since the last admin decision: > 0 puts it in the ``flagged`` queue."""
    reply: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[datetime | None]
    replied_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))


class ReviewSummary(Base):
    """Count, rating total and histogram of a subject's published reviews."""

    __tablename__ = "review_summary"
    __table_args__ = (CheckConstraint("count >= 0", name="count_not_negative"),)

    subject_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(one_of(ReviewSubject, name="subject_valid", length=16))
    count: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    r1: Mapped[int] = mapped_column(default=0)
    r2: Mapped[int] = mapped_column(default=0)
    r3: Mapped[int] = mapped_column(default=0)
    r4: Mapped[int] = mapped_column(default=0)
    r5: Mapped[int] = mapped_column(default=0)

    @property
    def average(self) -> float | None:
        """The shown average (two decimals), the one search filters and sorts by; None unrated."""
        return round(self.total / self.count, 2) if self.count else None


class ReviewVote(Base):
    """One "helpful" vote per user and review."""

    __tablename__ = "review_vote"

    review_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("review.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewFlag(Base):
    """One flag per user and review, with the reason."""

    __tablename__ = "review_flag"

    review_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("review.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewDecision(IdMixin, Base):
    """An admin's publish or hide, with the reason (the moderation record)."""

    __tablename__ = "review_decision"

    review_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("review.id", ondelete="CASCADE"), index=True
    )
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
