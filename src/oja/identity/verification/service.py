"""Proving an account's email (a one-time link) and mobile (an OTP) belong to its owner."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.db import Database, own_transaction
from oja.core.ratelimit import RateLimiter
from oja.identity import link_tokens
from oja.identity import repository as users
from oja.identity.config import IdentitySettings
from oja.identity.delivery import Messenger
from oja.identity.errors import AccountExists, InvalidOneTimeCode
from oja.identity.models import User
from oja.identity.otp import service as otp
from oja.identity.tokens import TokenContext
from oja.identity.verification.errors import NoEmail, NoMobile

log = structlog.get_logger("oja.identity")

EMAIL_SENT = "We sent a verification link to your email address."
PHONE_SENT = "We sent a verification code to your mobile number."
EMAIL_PURPOSE = "verify_email"


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
    db: AsyncSession,
    limiter: RateLimiter,
    messenger: Messenger,
    ctx: TokenContext,
    user: User,
    *,
    ip: str,
    now: datetime,
    public_url: str,
) -> Callable[[], Awaitable[None]]:
    """Issue a verification link for the account's address; returns the sending of its email, to
    run once the unit of work has committed and the answer has left."""
    email = email_to_verify(user)
    await otp.spend_send_budget(limiter, ctx.settings, recipient=email, ip=ip)
    token = await link_tokens.issue(
        db,
        user=user,
        email=email,
        purpose=EMAIL_PURPOSE,
        secret=ctx.secret,
        ttl=ctx.settings.email_verification_ttl,
        now=now,
    )
    text = email_text(public_url, token, ctx.settings)

    async def send() -> None:
        await messenger.email_quietly(
            email, "Confirm your email address", text, event="identity.verify.email_failed"
        )

    return send


async def confirm_email(db: AsyncSession, *, token: str, secret: str, now: datetime) -> User:
    spent = await link_tokens.spend(db, token=token, purpose=EMAIL_PURPOSE, secret=secret, now=now)
    user = await users.user_by_id(db, spent.user_id) if spent else None
    if spent is None or user is None or user.email != spent.email:
        raise InvalidOneTimeCode("The link is wrong, used or expired.")
    if user.email_verified_at is None:
        user.email_verified_at = now
    log.info("identity.email.verified", user_id=str(user.id))
    return user


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


async def request_phone(
    database: Database,
    limiter: RateLimiter,
    messenger: Messenger,
    ctx: TokenContext,
    user: User,
    *,
    mobile: str | None,
    ip: str,
    now: datetime,
) -> str | None:
    """Send a code to the account's number (or the one given by an account without); the code
    itself when it is to be shown in the answer."""
    return await otp.send_code(
        database,
        limiter,
        messenger,
        ctx,
        purpose="verify_phone",
        mobile=mobile_to_verify(user, mobile),
        user_id=user.id,
        ip=ip,
        now=now,
    )


async def confirm_phone(
    database: Database, ctx: TokenContext, user: User, *, code: str, now: datetime
) -> User:
    """Confirm the number a code was sent to. The attempt is counted in a transaction of its own,
    committed before a refusal is raised."""
    async with own_transaction(database) as db:
        fresh = await users.user_by_id(db, user.id)
        assert fresh is not None
        outcome = await _confirm_phone(db, ctx, fresh, code=code, now=now)
    return outcome.unwrap()


async def _confirm_phone(
    db: AsyncSession, ctx: TokenContext, user: User, *, code: str, now: datetime
) -> otp.Outcome[User]:
    checked = await otp.check(
        db,
        purpose="verify_phone",
        user_id=user.id,
        code=code,
        secret=ctx.secret,
        settings=ctx.settings,
        now=now,
    )
    if not checked.ok or checked.mobile is None or user.mobile not in (None, checked.mobile):
        return otp.Outcome(
            error=InvalidOneTimeCode(
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
    return otp.Outcome(value=user)
