"""Routes: ``/auth/login``, ``/auth/refresh``, ``/auth/logout``, ``/auth/change-password``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from oja.core.dependencies import RuntimeDep, SessionDep
from oja.core.errors import InvalidRequest, UnsupportedMediaType, errors
from oja.identity.dependencies import (
    USER_ERRORS,
    ClientIp,
    CurrentUser,
    LoginThrottleDep,
    PasswordsDep,
    TokenContextDep,
    UserPrincipal,
)
from oja.identity.errors import (
    AccountDisabled,
    HashingBusy,
    InvalidCredentials,
    InvalidToken,
    LoginLocked,
    SessionRevoked,
    TokenExpired,
)
from oja.identity.sessions import service
from oja.identity.sessions.errors import TokenReused
from oja.identity.sessions.schemas import (
    ChangePasswordRequest,
    LoginRequest,
    MfaChallenge,
    PasswordChanged,
    RefreshRequest,
    SignedIn,
    TokenPair,
    login_openapi_body,
    signed_in_or_challenge,
    token_pair,
)

router = APIRouter()


async def _login_request(request: Request) -> LoginRequest:
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
    try:
        if content_type == "application/x-www-form-urlencoded":
            form = await request.form()
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
            return LoginRequest.model_validate(fields)
        if content_type == "application/json":
            return LoginRequest.model_validate_json(await request.body())
    except ValidationError as exc:
        errors = [
            {**e, "loc": ("body", *e["loc"])}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise RequestValidationError(errors) from None
    raise UnsupportedMediaType(
        "Send JSON or an OAuth2 password form (application/x-www-form-urlencoded)."
    )


@router.post(
    "/login",
    response_model=SignedIn | MfaChallenge,
    summary="Log in with a password; JSON or the OAuth2 password form (public)",
    description=(
        "Give `email`, `mobile` or `username` (an email or a mobile number) with `password`. "
        "An unknown account and a wrong password answer identically. After 10 consecutive "
        "failures for one account or one client IP, logins are refused with 429 and `Retry-After` "
        "for a period that doubles with each further failure. When more logins arrive than the "
        "server can check, the excess is answered at once with 429 `busy` and `Retry-After: 1`. "
        "The tokens come with `user`, as `GET /user/me` answers it. An account with MFA answers "
        "`mfa_required` and an `mfa_token` instead of tokens; finish at `/auth/mfa/verify`."
    ),
    openapi_extra=login_openapi_body(),
    responses=errors(
        InvalidCredentials, UnsupportedMediaType, InvalidRequest, LoginLocked, HashingBusy
    ),
)
async def login(
    *,
    request: Request,
    db: SessionDep,
    ctx: TokenContextDep,
    passwords: PasswordsDep,
    throttle: LoginThrottleDep,
    ip: ClientIp,
) -> SignedIn | MfaChallenge:
    data = await _login_request(request)
    result = await service.login(
        db,
        ctx,
        identifier=data.identifier,
        password=data.password,
        passwords=passwords,
        throttle=throttle,
        ip=ip,
        user_agent=request.headers.get("user-agent"),
        client_id=request.headers.get("x-client-id"),
    )
    return signed_in_or_challenge(result)


@router.post(
    "/refresh",
    response_model=TokenPair,
    summary="Exchange a refresh token for a new pair (public)",
    description=(
        "The presented refresh token is spent. Presented again within a few seconds it returns the "
        "same new pair (two tabs); presented later it is treated as stolen: the whole session is "
        "revoked and the answer is 401 `token_reused`."
    ),
    responses=errors(
        InvalidToken, TokenExpired, SessionRevoked, TokenReused, AccountDisabled, InvalidRequest
    ),
)
async def refresh(body: RefreshRequest, runtime: RuntimeDep, ctx: TokenContextDep) -> TokenPair:
    return token_pair(await service.refresh(runtime.database, ctx, body.refresh_token))


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke the current session",
    responses=errors(*USER_ERRORS),
)
async def logout(principal: UserPrincipal, db: SessionDep) -> Response:
    assert principal.session_id is not None
    await service.logout(db, principal.session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/change-password",
    response_model=PasswordChanged,
    summary="Change the password; every other session is signed out",
    responses=errors(*USER_ERRORS, InvalidCredentials, InvalidRequest, HashingBusy),
)
async def change_password(
    body: ChangePasswordRequest,
    user: CurrentUser,
    principal: UserPrincipal,
    db: SessionDep,
    passwords: PasswordsDep,
) -> PasswordChanged:
    revoked = await service.change_password(
        db,
        user,
        session_id=principal.session_id,
        current_password=body.current_password,
        new_password=body.new_password,
        passwords=passwords,
    )
    return PasswordChanged(message="Password changed.", sessions_revoked=revoked)
