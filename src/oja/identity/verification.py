"""Proving an account's email (a one-time link) and mobile (an OTP) belong to its owner."""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from oja.identity import otp, recovery, repository
from oja.identity.config import IdentitySettings
from oja.identity.errors import AccountExists, InvalidCode, NoEmail, NoMobile
from oja.identity.models import User
from oja.identity.schemas import Verified

log = structlog.get_logger("oja.identity")

EMAIL_SENT = "We sent a verification link to your email address."
PHONE_SENT = "We sent a verification code to your mobile number."


def verified(user: User) -> Verified:
    return Verified(
        user_id=user.id,
        email_verified=user.email_verified_at is not None,
        mobile_verified=user.mobile_verified_at is not None,
    )


def email_text(public_url: str, token: str, settings: IdentitySettings) -> str:
    hours = max(1, settings.email_verification_ttl // 3600)
    return (
        "Please confirm that this address belongs to your Oja account.\n\n"
        f"Open {public_url.rstrip('/')}/auth/verify/email/confirm?token={token}\n"
        "(or send this token to POST /auth/verify/email/confirm).\n\n"
        f"The link works once, for {hours} hours."
    )


def email_to_verify(user: User) -> str:
    if user.email is None:
        raise NoEmail("This account has no email address.")
    return user.email


async def request_email(
    db: AsyncSession, user: User, *, secret: str, settings: IdentitySettings, now: datetime
) -> str:
    return await recovery.issue_link_token(
        db,
        user=user,
        email=email_to_verify(user),
        purpose="verify_email",
        secret=secret,
        ttl=settings.email_verification_ttl,
        now=now,
    )


async def confirm_email(db: AsyncSession, *, token: str, secret: str, now: datetime) -> Verified:
    spent = await recovery.spend_link_token(
        db, token=token, purpose="verify_email", secret=secret, now=now
    )
    user = await repository.user_by_id(db, spent.user_id) if spent else None
    if spent is None or user is None or user.email != spent.email:
        raise InvalidCode("The link is wrong, used or expired.")
    if user.email_verified_at is None:
        user.email_verified_at = now
    log.info("identity.email.verified", user_id=str(user.id))
    return verified(user)


def mobile_to_verify(user: User, requested: str | None) -> str:
    """The account's number; a number may be given only by an account that has none yet."""
    if user.mobile is not None:
        if requested is not None and requested != user.mobile:
            raise NoMobile(
                "This account already has a mobile number; verify that one.",
                details={"mobile": "mismatch"},
            )
        return user.mobile
    if requested is None:
        raise NoMobile("This account has no mobile number: give one as `mobile`.")
    return requested


async def confirm_phone(
    db: AsyncSession,
    user: User,
    *,
    code: str,
    secret: str,
    settings: IdentitySettings,
    now: datetime,
) -> otp.Outcome[Verified]:
    checked = await otp.check(
        db,
        purpose="verify_phone",
        user_id=user.id,
        code=code,
        secret=secret,
        settings=settings,
        now=now,
    )
    if not checked.ok or checked.mobile is None or user.mobile not in (None, checked.mobile):
        return otp.Outcome(
            error=InvalidCode(
                "The code is wrong, used or expired.", details=otp.failure_details(checked)
            )
        )
    if user.mobile is None:
        user.mobile = checked.mobile
    user.mobile_verified_at = now
    try:
        await db.flush()
    except IntegrityError as exc:
        raise AccountExists(
            "Another account uses this mobile number.", details={"fields": ["mobile"]}
        ) from exc
    log.info("identity.mobile.verified", user_id=str(user.id))
    return otp.Outcome(value=verified(user))
