"""The phone one-time codes."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.clock import utcnow
from oja.core.db import Base, IdMixin


class OtpCode(IdMixin, Base):
    """The one live phone code per ``(purpose, mobile)``: a resend overwrites it in place.

    Only an HMAC of the code is stored. ``attempts`` counts submissions checked against it; a
    submission is checked only after a conditional UPDATE has counted it, so however many race, at
    most ``otp_max_attempts`` are ever compared. ``user_id`` is set for ``verify_phone`` codes (the
    confirmation names no number).
    """

    __tablename__ = "otp_code"
    __table_args__ = (
        UniqueConstraint("purpose", "mobile"),
        CheckConstraint(
            "purpose IN ('login', 'password_reset', 'verify_phone')", name="purpose_valid"
        ),
        Index("ix_otp_code_user_id", "user_id"),
    )

    purpose: Mapped[str] = mapped_column(String(32))
    mobile: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    consumed_at: Mapped[datetime | None] = mapped_column()
