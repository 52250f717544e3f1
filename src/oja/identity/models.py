"""Users, their roles, login sessions and the refresh tokens that keep a session alive.

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
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.clock import utcnow
from oja.core.db import Base, IdMixin, TimestampMixin, one_of


class User(IdMixin, TimestampMixin, Base):
    """A person, reachable by email, mobile (E.164) or both; the password is optional (OTP)."""

    __tablename__ = "user"
    __table_args__ = (
        CheckConstraint("email IS NOT NULL OR mobile IS NOT NULL", name="email_or_mobile"),
    )

    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    mobile: Mapped[str | None] = mapped_column(String(20), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    avatar_url: Mapped[str | None] = mapped_column(String(2048))
    locale: Mapped[str | None] = mapped_column(String(35))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    email_verified_at: Mapped[datetime | None] = mapped_column()
    mobile_verified_at: Mapped[datetime | None] = mapped_column()
    password_changed_at: Mapped[datetime | None] = mapped_column()


class UserRole(Base):
    __tablename__ = "user_role"
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(
        one_of(("buyer", "vendor", "admin"), name="role_valid", length=16), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


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
        Index("ix_otp_code_user_id", "user_id"),
    )

    purpose: Mapped[str] = mapped_column(
        one_of(("login", "password_reset", "verify_phone"), name="purpose_valid", length=32)
    )
    mobile: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    consumed_at: Mapped[datetime | None] = mapped_column()


class OneTimeToken(IdMixin, Base):
    """An emailed link token (password reset, address verification); only its HMAC is stored.

    ``email`` is the address the link was sent to: verifying it after the account's address changed
    verifies nothing.
    """

    __tablename__ = "one_time_token"
    __table_args__ = (Index("ix_one_time_token_user_id", "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(
        one_of(("password_reset", "verify_email"), name="purpose_valid", length=32)
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()


class OAuthState(IdMixin, Base):
    """A started external sign-in: what the callback must find again, server-side, once.

    The ``state`` itself is stored as an HMAC; the nonce and PKCE verifier are needed in clear to
    finish the flow and die with the row (single use, short expiry).
    """

    __tablename__ = "oauth_state"

    provider: Mapped[str] = mapped_column(String(32))
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    redirect_uri: Mapped[str] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()


class UserIdentity(IdMixin, Base):
    """An external account (OpenID Connect ``iss`` + ``sub``) that signs in as a user."""

    __tablename__ = "user_identity"
    __table_args__ = (
        UniqueConstraint("issuer", "subject"),
        Index("ix_user_identity_user_id", "user_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(32))
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column()


class UserMfa(Base):
    """A user's TOTP authenticator: pending until ``enabled_at`` is set.

    ``secret_encrypted`` is AES-GCM under a key derived from the app secret. ``last_used_step`` is
    the TOTP time step of the last accepted code; a code is accepted only for a later step, so no
    code works twice.
    """

    __tablename__ = "user_mfa"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    secret_encrypted: Mapped[str] = mapped_column(String(255))
    enabled_at: Mapped[datetime | None] = mapped_column()
    last_used_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MfaRecoveryCode(IdMixin, Base):
    """One single-use recovery code (HMAC only), shown once when MFA is enabled."""

    __tablename__ = "mfa_recovery_code"
    __table_args__ = (Index("ix_mfa_recovery_code_user_id", "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column()
