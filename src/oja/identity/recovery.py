"""Password recovery: an OTP to the account's mobile or a one-time link to its email.

Asking never reveals whether an account exists: unknown and known recipients get the same answer
(an unknown number even gets a code, which works nowhere), and emails leave in a background task,
after the response. Resetting sets the password and signs out every session.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import structlog
from sqlalchemy import Table, delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.ids import uuid7
from oja.identity import otp, repository, service
from oja.identity.config import IdentitySettings
from oja.identity.digests import keyed_digest, new_link_token, new_otp
from oja.identity.errors import InvalidCode
from oja.identity.models import OneTimeToken, User
from oja.identity.passwords import Passwords
from oja.identity.service import TokenContext

log = structlog.get_logger("oja.identity")

_token = cast(Table, OneTimeToken.__table__)

RESET_REQUESTED = "If an account matches, it has been sent a way to reset its password."
RESET_DONE = "Your password has been changed and every session has been signed out."


def token_digest(secret: str, token: str) -> str:
    return keyed_digest(secret, "link-token", token)


async def issue_link_token(
    db: AsyncSession,
    *,
    user: User,
    email: str,
    purpose: str,
    secret: str,
    ttl: int,
    now: datetime,
) -> str:
    """A new one-time link token; earlier unused ones of the same purpose stop working."""
    await db.execute(
        delete(_token).where(
            _token.c.user_id == user.id, _token.c.purpose == purpose, _token.c.used_at.is_(None)
        )
    )
    token = new_link_token()
    db.add(
        OneTimeToken(
            id=uuid7(),
            user_id=user.id,
            purpose=purpose,
            token_hash=token_digest(secret, token),
            email=email,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
    )
    await db.flush()
    return token


@dataclass(frozen=True)
class SpentToken:
    user_id: uuid.UUID
    email: str


async def spend_link_token(
    db: AsyncSession, *, token: str, purpose: str, secret: str, now: datetime
) -> SpentToken | None:
    """Use a link token once (conditional UPDATE: one winner however many race)."""
    row = (
        await db.execute(
            update(_token)
            .where(
                _token.c.token_hash == token_digest(secret, token),
                _token.c.purpose == purpose,
                _token.c.used_at.is_(None),
                _token.c.expires_at > now,
            )
            .values(used_at=now)
            .returning(_token.c.user_id, _token.c.email)
        )
    ).first()
    return None if row is None else SpentToken(user_id=row.user_id, email=row.email)


async def request_by_mobile(
    db: AsyncSession, *, mobile: str, secret: str, settings: IdentitySettings, now: datetime
) -> tuple[str, bool]:
    """``(code, real)``: a stored code for an active account, else a decoy that works nowhere."""
    user = await repository.user_by_mobile(db, mobile)
    if user is None or not user.is_active:
        return new_otp(), False
    code = await otp.issue(
        db, purpose="password_reset", mobile=mobile, secret=secret, settings=settings, now=now
    )
    return code, True


async def request_by_email(
    db: AsyncSession, *, email: str, secret: str, settings: IdentitySettings, now: datetime
) -> str | None:
    user = await repository.user_by_email(db, email)
    if user is None or not user.is_active:
        return None
    return await issue_link_token(
        db,
        user=user,
        email=email,
        purpose="password_reset",
        secret=secret,
        ttl=settings.reset_token_ttl,
        now=now,
    )


def reset_email_text(public_url: str, token: str, settings: IdentitySettings) -> str:
    minutes = settings.reset_token_ttl // 60
    return (
        "Someone asked to reset the password of your Oja account.\n\n"
        f"To choose a new one, open {public_url.rstrip('/')}/auth/reset-password?token={token}\n"
        "(or send this token to POST /auth/reset-password with your new password).\n\n"
        f"The link works once, for {minutes} minutes. If it was not you, ignore this email."
    )


async def reset_with_otp(
    db: AsyncSession,
    ctx: TokenContext,
    *,
    mobile: str,
    code: str,
    new_password: str,
    passwords: Passwords,
    now: datetime,
) -> otp.Outcome[str]:
    checked = await otp.check(
        db,
        purpose="password_reset",
        mobile=mobile,
        code=code,
        secret=ctx.secret,
        settings=ctx.settings,
        now=now,
    )
    user = await repository.user_by_mobile(db, mobile) if checked.ok else None
    if user is None or not user.is_active:
        return otp.Outcome(
            error=InvalidCode(
                "The code is wrong, used or expired.", details=otp.failure_details(checked)
            )
        )
    if user.mobile_verified_at is None:
        user.mobile_verified_at = now
    await service.set_password(db, user, new_password, passwords, reason="password_reset")
    await _forget_reset_proofs(db, user)
    return otp.Outcome(value=RESET_DONE)


async def reset_with_token(
    db: AsyncSession,
    *,
    token: str,
    new_password: str,
    passwords: Passwords,
    secret: str,
    now: datetime,
) -> str:
    spent = await spend_link_token(
        db, token=token, purpose="password_reset", secret=secret, now=now
    )
    user = await repository.user_by_id(db, spent.user_id) if spent else None
    if spent is None or user is None or not user.is_active or user.email != spent.email:
        raise InvalidCode("The link is wrong, used or expired.")
    if user.email_verified_at is None:
        user.email_verified_at = now
    await service.set_password(db, user, new_password, passwords, reason="password_reset")
    await _forget_reset_proofs(db, user)
    return RESET_DONE


async def _forget_reset_proofs(db: AsyncSession, user: User) -> None:
    """Whichever way the password was reset, the other pending way stops working."""
    await db.execute(
        delete(_token).where(_token.c.user_id == user.id, _token.c.purpose == "password_reset")
    )
    if user.mobile is not None:
        await otp.discard(db, purpose="password_reset", mobile=user.mobile)
