"""Routes: ``/auth/send-otp`` and ``/auth/verify-otp``, phone OTP login."""

from __future__ import annotations

from fastapi import APIRouter, Request

from oja.channels.errors import DeliveryFailed
from oja.core.dependencies import RuntimeDep
from oja.core.errors import InvalidRequest, TooManyRequests, errors
from oja.identity.dependencies import ClientIp, ClockDep, MessengerDep, TokenContextDep
from oja.identity.errors import AccountDisabled, AccountExists
from oja.identity.otp import service
from oja.identity.otp.errors import InvalidOtp
from oja.identity.otp.schemas import OtpSent, SendOtpRequest, VerifyOtpRequest
from oja.identity.sessions.schemas import MfaChallenge, SignedIn, signed_in_or_challenge

router = APIRouter()

# What sending a code answers: a rate limit spent, or an SMS the provider refused.
SEND_ERRORS = (TooManyRequests, DeliveryFailed)


@router.post(
    "/send-otp",
    response_model=OtpSent,
    response_model_exclude_none=True,
    summary="Send a login OTP to a mobile number (public)",
    description=(
        "A 6-digit code valid for 5 minutes, 5 tries; a new request replaces the previous code. "
        "With `OJA_OTP_IN_RESPONSE` on (default outside production) the code is returned as "
        "`otp` instead of being sent by SMS. At most 5 sends per number and 20 per client IP per "
        "hour (429 with `Retry-After`)."
    ),
    responses=errors(*SEND_ERRORS, InvalidRequest),
)
async def send_otp(
    *,
    body: SendOtpRequest,
    runtime: RuntimeDep,
    ctx: TokenContextDep,
    messenger: MessengerDep,
    clock: ClockDep,
    ip: ClientIp,
) -> OtpSent:
    shown = await service.send_code(
        runtime.database,
        runtime.rate_limiter,
        messenger,
        ctx,
        purpose="login",
        mobile=body.mobile,
        ip=ip,
        now=clock(),
    )
    return OtpSent(message=service.OTP_SENT, otp=shown, expires_in=ctx.settings.otp_ttl)


@router.post(
    "/verify-otp",
    response_model=SignedIn | MfaChallenge,
    summary="Log in with a mobile number and its OTP (public)",
    description=(
        "Answers a token pair and `user` (as `/auth/login`); an unknown number gets an account on its first "
        "verified code. An account with MFA answers `mfa_required` and an `mfa_token` instead."
    ),
    responses=errors(InvalidOtp, AccountDisabled, AccountExists, InvalidRequest),
)
async def verify_otp(
    *,
    body: VerifyOtpRequest,
    request: Request,
    runtime: RuntimeDep,
    ctx: TokenContextDep,
    clock: ClockDep,
    ip: ClientIp,
) -> SignedIn | MfaChallenge:
    result = await service.log_in(
        runtime.database,
        ctx,
        mobile=body.mobile,
        code=body.otp,
        now=clock(),
        ip=ip,
        user_agent=request.headers.get("user-agent"),
        client_id=request.headers.get("x-client-id"),
    )
    return signed_in_or_challenge(result)
