"""Routes: ``/auth/signup``, ``/user/me``, admin ``/users``, the ``/examples/*`` access demos, and
``/auth`` assembled from the sub-domains' routers."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from oja.core.dependencies import SessionDep
from oja.core.errors import InvalidRequest, errors
from oja.core.pagination import Page, PageParams, pagination
from oja.core.routing import LeanRoute
from oja.identity import service
from oja.identity.dependencies import (
    SCOPED_ERRORS,
    SERVICE_ERRORS,
    USER_ERRORS,
    CurrentPrincipal,
    PasswordsDep,
    RequireRole,
    RequireScopes,
    ServicePrincipal,
    UserPrincipal,
    signed_in_user,
)
from oja.identity.errors import AccountExists, HashingBusy, LastAdmin, UserNotFound
from oja.identity.google import endpoints as google_endpoints
from oja.identity.mfa import endpoints as mfa_endpoints
from oja.identity.otp import endpoints as otp_endpoints
from oja.identity.recovery import endpoints as recovery_endpoints
from oja.identity.schemas import ExampleAnswer, SignupRequest, UserOut
from oja.identity.scopes import Role
from oja.identity.sessions import endpoints as sessions_endpoints
from oja.identity.verification import endpoints as verification_endpoints

auth_router = APIRouter(prefix="/auth", tags=["auth"])
user_router = APIRouter(tags=["users"])
admin_router = APIRouter(prefix="/users", tags=["admin"], dependencies=[RequireRole("admin")])
examples_router = APIRouter(prefix="/examples", tags=["examples"])

# The admin router's RequireRole answers what a user route does.
ADMIN_ERRORS = USER_ERRORS


@auth_router.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    summary="Register with an email and/or a mobile number (public)",
    responses=errors(AccountExists, InvalidRequest, HashingBusy),
)
async def signup(body: SignupRequest, db: SessionDep, passwords: PasswordsDep) -> UserOut:
    created = await service.signup(db, body, passwords)
    return UserOut.of(created.user, created.roles)


# In this order: it is the order of the OpenAPI document's paths.
auth_router.include_router(sessions_endpoints.router)
auth_router.include_router(otp_endpoints.router)
auth_router.include_router(recovery_endpoints.router)
auth_router.include_router(verification_endpoints.router)
auth_router.include_router(google_endpoints.router)
auth_router.include_router(mfa_endpoints.router)


async def me(principal: UserPrincipal) -> UserOut:
    # The session check read the user and its roles: this route runs no query of its own. One
    # dependency, not `SignedInUser` beside it: each is a node FastAPI solves on every request.
    return UserOut.of(signed_in_user(principal), principal.current_roles)


# `LeanRoute`: its tree (the principal, the two schemes) is solved without FastAPI's general
# solver; the same route, answers and OpenAPI otherwise.
user_router.add_api_route(
    "/user/me",
    me,
    methods=["GET"],
    response_model=UserOut,
    summary="The current user",
    responses=errors(*USER_ERRORS),
    route_class_override=LeanRoute,
)


@admin_router.get(
    "",
    response_model=Page[UserOut],
    summary="List users, newest first (admin)",
    responses=errors(*ADMIN_ERRORS, InvalidRequest),
)
async def list_users(
    db: SessionDep,
    paging: Annotated[PageParams, Depends(pagination())],
) -> Page[UserOut]:
    accounts, total = await service.list_users(db, paging)
    items = [UserOut.of(a.user, a.roles) for a in accounts]
    return Page[UserOut].of(items, total=total, params=paging)


@admin_router.post(
    "/{user_id}/roles/{role}",
    response_model=UserOut,
    summary="Grant a role (admin)",
    responses=errors(*ADMIN_ERRORS, UserNotFound, InvalidRequest),
)
async def grant_role(user_id: uuid.UUID, role: Role, db: SessionDep) -> UserOut:
    granted = await service.grant_role(db, user_id, role)
    return UserOut.of(granted.user, granted.roles)


@admin_router.delete(
    "/{user_id}/roles/{role}",
    response_model=UserOut,
    summary="Revoke a role (admin)",
    responses=errors(*ADMIN_ERRORS, UserNotFound, LastAdmin, InvalidRequest),
)
async def revoke_role(user_id: uuid.UUID, role: Role, db: SessionDep) -> UserOut:
    revoked = await service.revoke_role(db, user_id, role)
    return UserOut.of(revoked.user, revoked.roles)


@examples_router.get(
    "/user-only",
    response_model=ExampleAnswer,
    summary="Needs a user token; API keys get 403",
    responses=errors(*USER_ERRORS),
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
    responses=errors(*SCOPED_ERRORS, *SERVICE_ERRORS),
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
    responses=errors(*SCOPED_ERRORS),
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
