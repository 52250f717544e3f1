"""Routes: ``/auth/*``, ``/user/me``, admin ``/users``, and the ``/examples/*`` access demos."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from oja.core.db import unit_of_work
from oja.core.dependencies import RuntimeDep, SessionDep
from oja.core.errors import UnsupportedMediaType, error_responses
from oja.core.pagination import PageParams, pagination
from oja.identity import google_endpoints, mfa_endpoints, otp_endpoints, service
from oja.identity.dependencies import (
    CurrentPrincipal,
    CurrentUser,
    LoginThrottleDep,
    PasswordsDep,
    RequireRole,
    RequireScopes,
    ServicePrincipal,
    SignedInUser,
    TokenContextDep,
    UserPrincipal,
)
from oja.identity.errors import TokenReused
from oja.identity.schemas import (
    ChangePasswordRequest,
    ExampleAnswer,
    LoginRequest,
    MfaChallenge,
    PasswordChanged,
    RefreshRequest,
    SignedIn,
    SignupRequest,
    TokenPair,
    UserOut,
    UserPage,
    login_openapi_body,
)
from oja.identity.scopes import Role

auth_router = APIRouter(prefix="/auth", tags=["auth"])
user_router = APIRouter(tags=["users"])
admin_router = APIRouter(prefix="/users", tags=["admin"], dependencies=[RequireRole("admin")])
examples_router = APIRouter(prefix="/examples", tags=["examples"])

AUTHENTICATED = error_responses(401, 403)


@auth_router.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    summary="Register with an email and/or a mobile number (public)",
    responses=error_responses(409, 422, 429),
)
async def signup(body: SignupRequest, db: SessionDep, passwords: PasswordsDep) -> UserOut:
    return await service.signup(db, body, passwords)


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


@auth_router.post(
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
    responses=error_responses(401, 415, 422, 429),
)
async def login(
    request: Request,
    db: SessionDep,
    ctx: TokenContextDep,
    passwords: PasswordsDep,
    throttle: LoginThrottleDep,
) -> SignedIn | MfaChallenge:
    data = await _login_request(request)
    return await service.login(
        db,
        ctx,
        identifier=data.identifier,
        password=data.password,
        passwords=passwords,
        throttle=throttle,
        ip=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent"),
    )


@auth_router.post(
    "/refresh",
    response_model=TokenPair,
    summary="Exchange a refresh token for a new pair (public)",
    description=(
        "The presented refresh token is spent. Presented again within a few seconds it returns the "
        "same new pair (two tabs); presented later it is treated as stolen: the whole session is "
        "revoked and the answer is 401 `token_reused`."
    ),
    responses=error_responses(401, 422),
)
async def refresh(body: RefreshRequest, runtime: RuntimeDep, ctx: TokenContextDep) -> TokenPair:
    # This route owns its transaction: a detected reuse must commit the revocation and still
    # answer 401, which the request-wide unit of work (rollback on error) cannot do.
    async with unit_of_work(runtime.database) as db:
        outcome = await service.refresh(db, ctx, body.refresh_token)
    if outcome.reused:
        raise TokenReused("This refresh token was already used; the session has been revoked.")
    assert outcome.pair is not None
    return outcome.pair


@auth_router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke the current session",
    responses=AUTHENTICATED,
)
async def logout(principal: UserPrincipal, db: SessionDep) -> Response:
    assert principal.session_id is not None
    await service.logout(db, principal.session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@auth_router.post(
    "/change-password",
    response_model=PasswordChanged,
    summary="Change the password; every other session is signed out",
    responses=error_responses(401, 403, 422, 429),
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


auth_router.include_router(otp_endpoints.router)
auth_router.include_router(google_endpoints.router)
auth_router.include_router(mfa_endpoints.router)


@user_router.get(
    "/user/me", response_model=UserOut, summary="The current user", responses=AUTHENTICATED
)
async def me(user: SignedInUser, principal: UserPrincipal) -> UserOut:
    # The session check read the roles with the user: this route runs no query of its own.
    return service.user_out(user, sorted(principal.current_roles))


@admin_router.get(
    "", response_model=UserPage, summary="List users, newest first (admin)", responses=AUTHENTICATED
)
async def list_users(
    db: SessionDep,
    paging: Annotated[PageParams, Depends(pagination())],
) -> UserPage:
    return await service.list_users(db, page=paging.page, per_page=paging.per_page)


@admin_router.post(
    "/{user_id}/roles/{role}",
    response_model=UserOut,
    summary="Grant a role (admin)",
    responses=error_responses(401, 403, 404, 422),
)
async def grant_role(user_id: uuid.UUID, role: Role, db: SessionDep) -> UserOut:
    return await service.grant_role(db, user_id, role)


@admin_router.delete(
    "/{user_id}/roles/{role}",
    response_model=UserOut,
    summary="Revoke a role (admin)",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def revoke_role(user_id: uuid.UUID, role: Role, db: SessionDep) -> UserOut:
    return await service.revoke_role(db, user_id, role)


@examples_router.get(
    "/user-only",
    response_model=ExampleAnswer,
    summary="Needs a user token; API keys get 403",
    responses=AUTHENTICATED,
)
async def user_only(principal: UserPrincipal) -> ExampleAnswer:
    return ExampleAnswer(
        route="user-only",
        kind=principal.kind,
        user_id=principal.user_id,
        scopes=sorted(principal.scopes),
    )


@examples_router.get(
    "/service-only",
    response_model=ExampleAnswer,
    summary="Needs an API key with scope examples:read; user tokens get 403",
    responses=AUTHENTICATED,
    dependencies=[RequireScopes("examples:read")],
)
async def service_only(principal: ServicePrincipal) -> ExampleAnswer:
    return ExampleAnswer(
        route="service-only",
        kind=principal.kind,
        user_id=principal.user_id,
        scopes=sorted(principal.scopes),
        api_key_id=principal.api_key_id,
    )


@examples_router.get(
    "/either",
    response_model=ExampleAnswer,
    summary="A user token or an API key, with scope examples:read",
    responses=AUTHENTICATED,
    dependencies=[RequireScopes("examples:read")],
)
async def either(principal: CurrentPrincipal) -> ExampleAnswer:
    return ExampleAnswer(
        route="either",
        kind=principal.kind,
        user_id=principal.user_id,
        scopes=sorted(principal.scopes),
        api_key_id=principal.api_key_id,
    )
