"""Password recovery: an OTP to the account's mobile or a one-time link to its email.

Asking never reveals whether an account exists: unknown and known recipients get the same answer
(an unknown number even gets a code, which works nowhere), and messages leave after the response
(:attr:`ResetRequested.send_later`). Resetting sets the password and signs out every session.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.db import Database, own_transaction
from oja.core.ratelimit import RateLimiter
from oja.identity import link_tokens
from oja.identity import repository as users
from oja.identity.config import IdentitySettings
from oja.identity.delivery import Messenger
from oja.identity.digests import new_otp
from oja.identity.errors import InvalidOneTimeCode
from oja.identity.models import User
from oja.identity.otp import service as otp
from oja.identity.passwords import Passwords
from oja.identity.sessions import service as sessions
from oja.identity.tokens import TokenContext

log = structlog.get_logger("oja.identity")

RESET_REQUESTED = "If an account matches, it has been sent a way to reset its password."
RESET_DONE = "Your password has been changed and every session has been signed out."
PURPOSE: Final = "password_reset"


@dataclass(frozen=True)
class ResetRequested:
    """What the answer to a reset request shows, and the message to send once it has left."""

    expires_in: int
    shown_code: str | None = None
    send_later: Callable[[], Awaitable[None]] | None = None


async def request_by_mobile(
    database: Database,
    limiter: RateLimiter,
    messenger: Messenger,
    ctx: TokenContext,
    *,
    mobile: str,
    ip: str,
    now: datetime,
) -> ResetRequested:
    """A code for an active account's number, else a decoy that works nowhere; either is shown in
    the answer in the mocked flow, and only a real one is sent by SMS."""
    await otp.spend_send_budget(limiter, ctx.settings, recipient=mobile, ip=ip)
    async with own_transaction(database) as db:
        user = await users.user_by_mobile(db, mobile)
        real = user is not None and user.is_active
        code = (
            await otp.issue(
                db,
                purpose=PURPOSE,
                mobile=mobile,
                secret=ctx.secret,
                settings=ctx.settings,
                now=now,
            )
            if real
            else new_otp()
        )
    requested = ResetRequested(expires_in=ctx.settings.otp_ttl)
    if otp.otp_in_response(ctx.settings, production=messenger.production):
        return ResetRequested(expires_in=requested.expires_in, shown_code=code)
    if not real:
        return requested
    text = otp.sms_text(code, ctx.settings)

    async def send() -> None:
        await messenger.sms_quietly(mobile, text, event="identity.reset.sms_failed")

    return ResetRequested(expires_in=requested.expires_in, send_later=send)


async def request_by_email(
    database: Database,
    limiter: RateLimiter,
    messenger: Messenger,
    ctx: TokenContext,
    *,
    email: str,
    ip: str,
    now: datetime,
    public_url: str,
) -> ResetRequested:
    await otp.spend_send_budget(limiter, ctx.settings, recipient=email, ip=ip)
    async with own_transaction(database) as db:
        user = await users.user_by_email(db, email)
        token = None
        if user is not None and user.is_active:
            token = await link_tokens.issue(
                db,
                user=user,
                email=email,
                purpose=PURPOSE,
                secret=ctx.secret,
                ttl=ctx.settings.reset_token_ttl,
                now=now,
            )
    requested = ResetRequested(expires_in=ctx.settings.reset_token_ttl)
    if token is None:
        return requested
    text = reset_email_text(public_url, token, ctx.settings)

    async def send() -> None:
        await messenger.email_quietly(
            email, "Reset your Oja password", text, event="identity.reset.email_failed"
        )

    return ResetRequested(expires_in=requested.expires_in, send_later=send)


def reset_email_text(public_url: str, token: str, settings: IdentitySettings) -> str:
    minutes = settings.reset_token_ttl // 60
    return (
        "Someone asked to reset the password of your Oja account.\n\n"
        f"To choose a new one, open {public_url.rstrip('/')}/auth/reset-password?token={token}\n"
        "(or send this token to POST /auth/reset-password with your new password).\n\n"
        f"The link works once, for {minutes} minutes. If it was not you, ignore this email."
    )


async def reset_with_otp(
    database: Database,
    ctx: TokenContext,
    *,
    mobile: str,
    code: str,
    new_password: str,
    passwords: Passwords,
    now: datetime,
) -> None:
    """Reset with a phone code. The attempt is counted in a transaction of its own, committed
    before a refusal is raised."""
    async with own_transaction(database) as db:
        outcome = await _reset_with_otp(
            db,
            ctx,
            mobile=mobile,
            code=code,
            new_password=new_password,
            passwords=passwords,
            now=now,
        )
    outcome.unwrap()


async def _reset_with_otp(
    db: AsyncSession,
    ctx: TokenContext,
    *,
    mobile: str,
    code: str,
    new_password: str,
    passwords: Passwords,
    now: datetime,
) -> otp.Outcome[bool]:
    checked = await otp.check(
        db,
        purpose=PURPOSE,
        mobile=mobile,
        code=code,
        secret=ctx.secret,
        settings=ctx.settings,
        now=now,
    )
    user = await users.user_by_mobile(db, mobile) if checked.ok else None
    if user is None or not user.is_active:
        return otp.Outcome(
            error=InvalidOneTimeCode(
                "The code is wrong, used or expired.", details=otp.failure_details(checked)
            )
        )
    if user.mobile_verified_at is None:
        user.mobile_verified_at = now
    await sessions.set_password(db, user, new_password, passwords, reason=PURPOSE)
    await _forget_reset_proofs(db, user)
    return otp.Outcome(value=True)


async def reset_with_token(
    db: AsyncSession,
    *,
    token: str,
    new_password: str,
    passwords: Passwords,
    secret: str,
    now: datetime,
) -> None:
    spent = await link_tokens.spend(db, token=token, purpose=PURPOSE, secret=secret, now=now)
    user = await users.user_by_id(db, spent.user_id) if spent else None
    if spent is None or user is None or not user.is_active or user.email != spent.email:
        raise InvalidOneTimeCode("The link is wrong, used or expired.")
    if user.email_verified_at is None:
        user.email_verified_at = now
    await sessions.set_password(db, user, new_password, passwords, reason=PURPOSE)
    await _forget_reset_proofs(db, user)


async def _forget_reset_proofs(db: AsyncSession, user: User) -> None:
    """Whichever way the password was reset, the other pending way stops working."""
    await users.drop_link_tokens(db, user.id, PURPOSE)
    if user.mobile is not None:
        await otp.discard(db, purpose=PURPOSE, mobile=user.mobile)
