"""Login sessions and the refresh tokens that keep a session alive.

A session is one login on one device. Every access token names its session (``sid``), and the
session row is the revocation switch: logout, password change and refresh-token reuse set
``revoked_at``, and every token of that session stops working on its next request.

Refresh tokens form a chain per session: each use creates exactly one child (``parent_id`` is
unique). The child's claims are stored so that a refresh presented again within the grace window
can be answered with the very same token pair (HS256 signing is deterministic).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.clock import utcnow
from oja.core.db import Base, IdMixin


class AuthSession(IdMixin, Base):
    """One login. Its id is the ``sid`` claim of every token it issues."""

    __tablename__ = "session"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_refreshed_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_reason: Mapped[str | None] = mapped_column(String(32))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    ip_address: Mapped[str | None] = mapped_column(String(64))


class RefreshToken(Base):
    """One refresh token (its id is the JWT ``jti``) and the access token issued beside it."""

    __tablename__ = "refresh_token"
    __table_args__ = (Index("ix_refresh_token_session_id", "session_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("refresh_token.id", ondelete="CASCADE"), unique=True
    )
    issued_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    access_jti: Mapped[uuid.UUID] = mapped_column()
    access_expires_at: Mapped[datetime] = mapped_column()
    roles: Mapped[list[Any]] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
