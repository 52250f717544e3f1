"""Routes: ``/auth/mfa/*``, TOTP setup, enable, verify (the login's second step) and disable."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Request, Response, status

from oja.core.dependencies import RuntimeDep, SessionDep
from oja.core.errors import InvalidRequest, TooManyRequests, errors
from oja.identity.dependencies import (
    USER_ERRORS,
    ClientIp,
    ClockDep,
    CurrentUser,
    IdentitySettingsDep,
    PasswordsDep,
    TokenContextDep,
)
from oja.identity.errors import (
    AccountDisabled,
    HashingBusy,
    InvalidCredentials,
    InvalidToken,
    TokenExpired,
)
from oja.identity.mfa import service
from oja.identity.mfa.errors import MfaAlreadyEnabled, MfaInvalidCode, MfaNotEnabled, MfaNotSetUp
from oja.identity.mfa.schemas import (
    MfaCodeRequest,
    MfaDisableRequest,
    MfaEnabled,
    MfaSetup,
    MfaVerifyRequest,
)
from oja.identity.sessions.schemas import SignedIn, signed_in

router = APIRouter(prefix="/mfa")


@router.post(
    "/setup",
    response_model=MfaSetup,
    summary="Start TOTP setup: a secret, its otpauth:// URI and a QR code (pending until enabled)",
    responses=errors(*USER_ERRORS, MfaAlreadyEnabled),
)
async def setup(
    user: CurrentUser, db: SessionDep, ctx: TokenContextDep, settings: IdentitySettingsDep
) -> MfaSetup:
    pending = await service.setup(db, user, secret=ctx.secret, issuer=settings.totp_issuer)
    return MfaSetup(
        secret=pending.secret,
        otpauth_uri=pending.otpauth_uri,
        qr_png_base64=base64.b64encode(pending.qr_png).decode("ascii"),
    )


@router.post(
    "/enable",
    response_model=MfaEnabled,
    summary="Enable TOTP with a first code; answers 10 single-use recovery codes, shown once",
    responses=errors(
        *USER_ERRORS,
        MfaInvalidCode,
        MfaNotSetUp,
        MfaAlreadyEnabled,
        InvalidRequest,
        TooManyRequests,
    ),
)
async def enable(
    *,
    body: MfaCodeRequest,
    user: CurrentUser,
    db: SessionDep,
    runtime: RuntimeDep,
    ctx: TokenContextDep,
    clock: ClockDep,
) -> MfaEnabled:
    await service.spend_attempt(runtime.rate_limiter, ctx.settings.mfa_verify_rate, user.id)
    codes = await service.enable(db, user, body.code, secret=ctx.secret, now=clock())
    return MfaEnabled(recovery_codes=codes)


@router.post(
    "/verify",
    response_model=SignedIn,
    summary="Finish a login that answered mfa_required: a TOTP code or a recovery code (public)",
    description=(
        "Answers a token pair and `user` (as `/auth/login`). A TOTP code works once; so does each "
        "recovery code. 5 attempts per 5 minutes."
    ),
    responses=errors(
        InvalidToken,
        TokenExpired,
        AccountDisabled,
        MfaInvalidCode,
        MfaNotEnabled,
        InvalidRequest,
        TooManyRequests,
    ),
)
async def verify(
    *,
    body: MfaVerifyRequest,
    request: Request,
    db: SessionDep,
    runtime: RuntimeDep,
    ctx: TokenContextDep,
    clock: ClockDep,
    ip: ClientIp,
) -> SignedIn:
    result = await service.verify(
        db,
        ctx,
        mfa_token=body.mfa_token,
        code=body.code,
        recovery_code=body.recovery_code,
        limiter=runtime.rate_limiter,
        now=clock(),
        ip=ip,
        user_agent=request.headers.get("user-agent"),
        client_id=request.headers.get("x-client-id"),
    )
    return signed_in(result)


@router.post(
    "/disable",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Disable TOTP with the password and a current code",
    responses=errors(
        *USER_ERRORS,
        InvalidCredentials,
        MfaInvalidCode,
        MfaNotEnabled,
        InvalidRequest,
        TooManyRequests,
        HashingBusy,
    ),
)
async def disable(
    *,
    body: MfaDisableRequest,
    user: CurrentUser,
    db: SessionDep,
    runtime: RuntimeDep,
    ctx: TokenContextDep,
    passwords: PasswordsDep,
    clock: ClockDep,
) -> Response:
    await service.spend_attempt(runtime.rate_limiter, ctx.settings.mfa_verify_rate, user.id)
    await service.disable(
        db,
        user,
        password=body.password,
        code=body.code,
        passwords=passwords,
        secret=ctx.secret,
        now=clock(),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
