"""Routes for phone OTP login, password recovery and email/phone verification (under ``/auth``).

The routes that check a code own their unit of work: a wrong guess must stay counted although the
request fails, so they commit first and raise after (see :mod:`oja.identity.otp`). Sends happen after
the commit, so no transaction waits on an SMS or email provider.
"""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request

from oja.core.db import unit_of_work
from oja.core.dependencies import RuntimeDep, SessionDep
from oja.core.errors import error_responses
from oja.identity import otp, passwordless, recovery, verification
from oja.identity.dependencies import (
    ClientIp,
    ClockDep,
    CurrentUser,
    MessengerDep,
    PasswordsDep,
    TokenContextDep,
)
from oja.identity.schemas import (
    ConfirmEmailRequest,
    ConfirmPhoneRequest,
    ForgotPasswordRequest,
    LinkSent,
    Message,
    MfaChallenge,
    OtpSent,
    PhoneVerificationRequest,
    ResetPasswordRequest,
    SendOtpRequest,
    SignedIn,
    Verified,
    VerifyOtpRequest,
)

router = APIRouter()

SEND_ERRORS = error_responses(422, 429, 502)


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
    responses=SEND_ERRORS,
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
    await otp.spend_send_budget(runtime.rate_limiter, ctx.settings, recipient=body.mobile, ip=ip)
    async with unit_of_work(runtime.database) as db:
        code = await otp.issue(
            db,
            purpose="login",
            mobile=body.mobile,
            secret=ctx.secret,
            settings=ctx.settings,
            now=clock(),
        )
    return await passwordless.deliver(
        messenger, ctx.settings, mobile=body.mobile, code=code, purpose="login"
    )


@router.post(
    "/verify-otp",
    response_model=SignedIn | MfaChallenge,
    summary="Log in with a mobile number and its OTP (public)",
    description=(
        "Answers a token pair and `user` (as `/auth/login`); an unknown number gets an account on its first "
        "verified code. An account with MFA answers `mfa_required` and an `mfa_token` instead."
    ),
    responses=error_responses(401, 422),
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
    async with unit_of_work(runtime.database) as db:
        outcome = await passwordless.verify(
            db,
            ctx,
            mobile=body.mobile,
            code=body.otp,
            now=clock(),
            ip=ip,
            user_agent=request.headers.get("user-agent"),
        )
    return outcome.unwrap()


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
    responses=SEND_ERRORS,
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
    recipient = body.mobile or body.email
    assert recipient is not None
    await otp.spend_send_budget(runtime.rate_limiter, ctx.settings, recipient=recipient, ip=ip)
    if body.mobile is not None:
        async with unit_of_work(runtime.database) as db:
            code, real = await recovery.request_by_mobile(
                db, mobile=body.mobile, secret=ctx.secret, settings=ctx.settings, now=clock()
            )
        sent = OtpSent(message=recovery.RESET_REQUESTED, expires_in=ctx.settings.otp_ttl)
        if passwordless.otp_in_response(ctx.settings, production=messenger.production):
            return sent.model_copy(update={"otp": code})
        if real:  # after the response, so timing does not tell known numbers apart
            text = passwordless.sms_text(code, ctx.settings)
            background.add_task(
                messenger.sms_quietly, body.mobile, text, event="identity.reset.sms_failed"
            )
        return sent
    assert body.email is not None
    async with unit_of_work(runtime.database) as db:
        token = await recovery.request_by_email(
            db, email=body.email, secret=ctx.secret, settings=ctx.settings, now=clock()
        )
    if token is not None:
        text = recovery.reset_email_text(runtime.settings.app.public_url, token, ctx.settings)
        background.add_task(
            messenger.email_quietly,
            body.email,
            "Reset your Oja password",
            text,
            event="identity.reset.email_failed",
        )
    return LinkSent(message=recovery.RESET_REQUESTED, expires_in=ctx.settings.reset_token_ttl)


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
    runtime: RuntimeDep,
    ctx: TokenContextDep,
    passwords: PasswordsDep,
    clock: ClockDep,
) -> Message:
    async with unit_of_work(runtime.database) as db:
        if body.token is not None:
            message = await recovery.reset_with_token(
                db,
                token=body.token,
                new_password=body.new_password,
                passwords=passwords,
                secret=ctx.secret,
                now=clock(),
            )
            return Message(message=message)
        assert body.mobile is not None
        assert body.otp is not None
        outcome = await recovery.reset_with_otp(
            db,
            ctx,
            mobile=body.mobile,
            code=body.otp,
            new_password=body.new_password,
            passwords=passwords,
            now=clock(),
        )
    return Message(message=outcome.unwrap())


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
    email = verification.email_to_verify(user)
    await otp.spend_send_budget(runtime.rate_limiter, ctx.settings, recipient=email, ip=ip)
    token = await verification.request_email(
        db, user, secret=ctx.secret, settings=ctx.settings, now=clock()
    )
    text = verification.email_text(runtime.settings.app.public_url, token, ctx.settings)
    background.add_task(
        messenger.email_quietly,
        email,
        "Confirm your email address",
        text,
        event="identity.verify.email_failed",
    )
    return LinkSent(message=verification.EMAIL_SENT, expires_in=ctx.settings.email_verification_ttl)


@router.post(
    "/verify/email/confirm",
    response_model=Verified,
    summary="Confirm an email address with the link's token (public: the token is the proof)",
    responses=error_responses(400, 422),
)
async def confirm_email(
    body: ConfirmEmailRequest, db: SessionDep, ctx: TokenContextDep, clock: ClockDep
) -> Verified:
    return await verification.confirm_email(db, token=body.token, secret=ctx.secret, now=clock())


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
    mobile = verification.mobile_to_verify(user, body.mobile if body else None)
    await otp.spend_send_budget(runtime.rate_limiter, ctx.settings, recipient=mobile, ip=ip)
    async with unit_of_work(runtime.database) as db:
        code = await otp.issue(
            db,
            purpose="verify_phone",
            mobile=mobile,
            user_id=user.id,
            secret=ctx.secret,
            settings=ctx.settings,
            now=clock(),
        )
    return await passwordless.deliver(
        messenger,
        ctx.settings,
        mobile=mobile,
        code=code,
        purpose="verify_phone",
        message=verification.PHONE_SENT,
    )


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
    async with unit_of_work(runtime.database) as db:
        fresh = await db.get(type(user), user.id)
        assert fresh is not None
        outcome = await verification.confirm_phone(
            db, fresh, code=body.otp, secret=ctx.secret, settings=ctx.settings, now=clock()
        )
    return outcome.unwrap()
