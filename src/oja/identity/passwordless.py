"""Mobile OTP login (``/auth/send-otp``, ``/auth/verify-otp``): the first verified code for an
unknown number creates its account."""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.identity import otp, repository, service
from oja.identity.config import IdentitySettings
from oja.identity.delivery import Messenger
from oja.identity.errors import AccountDisabled, InvalidOtp
from oja.identity.schemas import MfaChallenge, OtpSent, SignedIn
from oja.identity.service import TokenContext

log = structlog.get_logger("oja.identity")

OTP_SENT = "OTP sent."


def otp_in_response(settings: IdentitySettings, *, production: bool) -> bool:
    return settings.otp_in_response if settings.otp_in_response is not None else not production


def sms_text(code: str, settings: IdentitySettings) -> str:
    minutes = max(1, settings.otp_ttl // 60)
    return f"Your Oja code is {code}. It expires in {minutes} minutes. Never share it."


async def deliver(
    messenger: Messenger,
    settings: IdentitySettings,
    *,
    mobile: str,
    code: str,
    purpose: str,
    message: str = OTP_SENT,
) -> OtpSent:
    """The code in the body (mocked flow) or by SMS; an SMS the provider refuses answers 502."""
    if otp_in_response(settings, production=messenger.production):
        return OtpSent(message=message, otp=code, expires_in=settings.otp_ttl)
    await messenger.sms(mobile, sms_text(code, settings))
    log.info("identity.otp.sent", purpose=purpose)
    return OtpSent(message=message, expires_in=settings.otp_ttl)


async def verify(
    db: AsyncSession,
    ctx: TokenContext,
    *,
    mobile: str,
    code: str,
    now: datetime,
    ip: str,
    user_agent: str | None,
) -> otp.Outcome[SignedIn | MfaChallenge]:
    checked = await otp.check(
        db,
        purpose="login",
        mobile=mobile,
        code=code,
        secret=ctx.secret,
        settings=ctx.settings,
        now=now,
    )
    if not checked.ok:
        log.info("identity.otp.rejected", purpose="login")
        return otp.Outcome(
            error=InvalidOtp(
                "The code is wrong, used or expired.", details=otp.failure_details(checked)
            )
        )
    user = await repository.user_by_mobile(db, mobile)
    if user is None:
        user = await service.create_user(db, mobile=mobile, mobile_verified_at=now)
    elif not user.is_active:
        return otp.Outcome(error=AccountDisabled("This account is disabled."))
    elif user.mobile_verified_at is None:
        user.mobile_verified_at = now
    result = await service.first_factor_passed(
        db, ctx, user, method="otp", ip=ip, user_agent=user_agent
    )
    return otp.Outcome(value=result)
