"""Routes: ``/auth/verify/email/*`` and ``/auth/verify/phone/*``."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks

from oja.channels.errors import DeliveryFailed
from oja.core.dependencies import RuntimeDep, SessionDep
from oja.core.errors import InvalidRequest, TooManyRequests, errors
from oja.identity.dependencies import (
    USER_ERRORS,
    ClientIp,
    ClockDep,
    CurrentUser,
    MessengerDep,
    TokenContextDep,
)
from oja.identity.errors import AccountExists, InvalidOneTimeCode
from oja.identity.otp.schemas import OtpSent
from oja.identity.schemas import LinkSent
from oja.identity.verification import service
from oja.identity.verification.errors import NoEmail, NoMobile
from oja.identity.verification.schemas import (
    ConfirmEmailRequest,
    ConfirmPhoneRequest,
    PhoneVerificationRequest,
    Verified,
)

router = APIRouter()


@router.post(
    "/verify/email/request",
    response_model=LinkSent,
    summary="Email a one-time link that verifies the account's address",
    responses=errors(*USER_ERRORS, NoEmail, TooManyRequests),
)
async def request_email_verification(
    *,
    user: CurrentUser,
    db: SessionDep,
    background: BackgroundTasks,
    runtime: RuntimeDep,
    ctx: TokenContextDep,
    messenger: MessengerDep,
    clock: ClockDep,
    ip: ClientIp,
) -> LinkSent:
    send = await service.request_email(
        db,
        runtime.rate_limiter,
        messenger,
        ctx,
        user,
        ip=ip,
        now=clock(),
        public_url=runtime.settings.app.public_url,
    )
    background.add_task(send)
    return LinkSent(message=service.EMAIL_SENT, expires_in=ctx.settings.email_verification_ttl)


@router.post(
    "/verify/email/confirm",
    response_model=Verified,
    summary="Confirm an email address with the link's token (public: the token is the proof)",
    responses=errors(InvalidOneTimeCode, InvalidRequest),
)
async def confirm_email(
    body: ConfirmEmailRequest, db: SessionDep, ctx: TokenContextDep, clock: ClockDep
) -> Verified:
    user = await service.confirm_email(db, token=body.token, secret=ctx.secret, now=clock())
    return Verified.of(user)


@router.post(
    "/verify/phone/request",
    response_model=OtpSent,
    response_model_exclude_none=True,
    summary="Send an OTP that verifies the account's mobile number",
    description="An account without a number gives one as `mobile`; it is set once confirmed.",
    responses=errors(*USER_ERRORS, NoMobile, InvalidRequest, TooManyRequests, DeliveryFailed),
)
async def request_phone_verification(
    *,
    user: CurrentUser,
    runtime: RuntimeDep,
    ctx: TokenContextDep,
    messenger: MessengerDep,
    clock: ClockDep,
    ip: ClientIp,
    body: PhoneVerificationRequest | None = None,
) -> OtpSent:
    shown = await service.request_phone(
        runtime.database,
        runtime.rate_limiter,
        messenger,
        ctx,
        user,
        mobile=body.mobile if body else None,
        ip=ip,
        now=clock(),
    )
    return OtpSent(message=service.PHONE_SENT, otp=shown, expires_in=ctx.settings.otp_ttl)


@router.post(
    "/verify/phone/confirm",
    response_model=Verified,
    summary="Confirm the mobile number with its OTP",
    responses=errors(*USER_ERRORS, InvalidOneTimeCode, AccountExists, InvalidRequest),
)
async def confirm_phone(
    *,
    body: ConfirmPhoneRequest,
    user: CurrentUser,
    runtime: RuntimeDep,
    ctx: TokenContextDep,
    clock: ClockDep,
) -> Verified:
    confirmed = await service.confirm_phone(runtime.database, ctx, user, code=body.otp, now=clock())
    return Verified.of(confirmed)
