"""Routes: ``/auth/forgot-password`` and ``/auth/reset-password``."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks

from oja.core.dependencies import RuntimeDep, SessionDep
from oja.core.errors import error_responses
from oja.identity.dependencies import (
    ClientIp,
    ClockDep,
    MessengerDep,
    PasswordsDep,
    TokenContextDep,
)
from oja.identity.otp.schemas import OtpSent
from oja.identity.recovery import service
from oja.identity.recovery.schemas import ForgotPasswordRequest, ResetPasswordRequest
from oja.identity.schemas import LinkSent, Message

router = APIRouter()


@router.post(
    "/forgot-password",
    response_model=OtpSent | LinkSent,
    response_model_exclude_none=True,
    summary="Start a password reset by mobile (OTP) or by email (link) (public)",
    description=(
        "`{mobile}` sends an OTP (returned as `otp` when `OJA_OTP_IN_RESPONSE` is on); `{email}` "
        "emails a one-time link valid for 30 minutes. The answer is the same whether or not an "
        "account exists."
    ),
    responses=error_responses(422, 429, 502),
)
async def forgot_password(
    *,
    body: ForgotPasswordRequest,
    background: BackgroundTasks,
    runtime: RuntimeDep,
    ctx: TokenContextDep,
    messenger: MessengerDep,
    clock: ClockDep,
    ip: ClientIp,
) -> OtpSent | LinkSent:
    if body.mobile is not None:
        requested = await service.request_by_mobile(
            runtime.database,
            runtime.rate_limiter,
            messenger,
            ctx,
            mobile=body.mobile,
            ip=ip,
            now=clock(),
        )
    else:
        assert body.email is not None
        requested = await service.request_by_email(
            runtime.database,
            runtime.rate_limiter,
            messenger,
            ctx,
            email=body.email,
            ip=ip,
            now=clock(),
            public_url=runtime.settings.app.public_url,
        )
    if requested.send_later is not None:  # after the response: timing tells no accounts apart
        background.add_task(requested.send_later)
    if body.mobile is not None:
        return OtpSent(
            message=service.RESET_REQUESTED,
            otp=requested.shown_code,
            expires_in=requested.expires_in,
        )
    return LinkSent(message=service.RESET_REQUESTED, expires_in=requested.expires_in)


@router.post(
    "/reset-password",
    response_model=Message,
    summary="Set a new password with an OTP or a reset link's token (public)",
    description="Every session of the account is signed out.",
    responses=error_responses(400, 422, 429),
)
async def reset_password(
    *,
    body: ResetPasswordRequest,
    db: SessionDep,
    runtime: RuntimeDep,
    ctx: TokenContextDep,
    passwords: PasswordsDep,
    clock: ClockDep,
) -> Message:
    if body.token is not None:
        await service.reset_with_token(
            db,
            token=body.token,
            new_password=body.new_password,
            passwords=passwords,
            secret=ctx.secret,
            now=clock(),
        )
    else:
        assert body.mobile is not None
        assert body.otp is not None
        await service.reset_with_otp(
            runtime.database,
            ctx,
            mobile=body.mobile,
            code=body.otp,
            new_password=body.new_password,
            passwords=passwords,
            now=clock(),
        )
    return Message(message=service.RESET_DONE)
