"""Routes: ``/auth/verify/email/*`` and ``/auth/verify/phone/*``."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks

from oja.core.dependencies import RuntimeDep, SessionDep
from oja.core.errors import error_responses
from oja.identity.dependencies import (
    ClientIp,
    ClockDep,
    CurrentUser,
    MessengerDep,
    TokenContextDep,
)
from oja.identity.otp.schemas import OtpSent
from oja.identity.schemas import LinkSent
from oja.identity.verification import service
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
    responses=error_responses(400, 401, 429, 502),
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
    responses=error_responses(400, 422),
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
    responses=error_responses(400, 401, 422, 429, 502),
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
    responses=error_responses(400, 401, 409, 422),
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
