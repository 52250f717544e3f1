"""Store routes: open and edit a store, its staff, the public page, and the admin decisions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from oja.core.dependencies import SessionDep
from oja.core.errors import InvalidRequest, errors
from oja.core.pagination import Page, PageParams, pagination
from oja.identity.dependencies import USER_ERRORS, CurrentUser, RequireRole, UserPrincipal
from oja.marketplace.errors import (
    AlreadyVendorMember,
    InvalidVendorTransition,
    LastOwner,
    LogoNotFound,
    ReasonRequired,
    StaffNotFound,
    StaffUserNotFound,
    VendorNotFound,
    VendorRoleRequired,
    VendorSlugTaken,
)
from oja.marketplace.vendors import service
from oja.marketplace.vendors.dependencies import VENDOR_ERRORS, CurrentVendor
from oja.marketplace.vendors.models import VendorAction, VendorStatus
from oja.marketplace.vendors.schemas import (
    FollowOut,
    PublicVendorOut,
    StaffAdd,
    StaffOut,
    VendorCreate,
    VendorDecision,
    VendorOut,
    VendorUpdate,
)

router = APIRouter(prefix="/vendors", tags=["marketplace: vendors"])
admin_router = APIRouter(
    prefix="/admin/vendors",
    tags=["marketplace: admin"],
    dependencies=[RequireRole("admin")],
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=VendorOut,
    summary="Open a store (pending until an admin approves it)",
    responses=errors(
        *USER_ERRORS, LogoNotFound, VendorSlugTaken, AlreadyVendorMember, InvalidRequest
    ),
)
async def open_store(data: VendorCreate, user: CurrentUser, db: SessionDep) -> VendorOut:
    return await service.open_store(db, user, data)


@router.get(
    "/me",
    response_model=VendorOut,
    summary="The store you belong to",
    responses=errors(*VENDOR_ERRORS, VendorNotFound),
)
async def my_store(vendor: CurrentVendor, db: SessionDep) -> VendorOut:
    return await service.my_store(db, vendor)


@router.patch(
    "/me",
    response_model=VendorOut,
    summary="Edit your store (owners and managers)",
    responses=errors(
        *VENDOR_ERRORS,
        VendorRoleRequired,
        VendorNotFound,
        LogoNotFound,
        VendorSlugTaken,
        InvalidRequest,
    ),
)
async def update_my_store(data: VendorUpdate, vendor: CurrentVendor, db: SessionDep) -> VendorOut:
    return await service.update_store(db, vendor, data)


@router.get(
    "/me/staff",
    response_model=list[StaffOut],
    summary="Your store's members",
    responses=errors(*VENDOR_ERRORS),
)
async def list_staff(vendor: CurrentVendor, db: SessionDep) -> list[StaffOut]:
    return await service.list_staff(db, vendor)


@router.post(
    "/me/staff",
    status_code=status.HTTP_201_CREATED,
    response_model=StaffOut,
    summary="Add an existing user to your store (owners and managers)",
    responses=errors(
        *VENDOR_ERRORS, VendorRoleRequired, StaffUserNotFound, AlreadyVendorMember, InvalidRequest
    ),
)
async def add_staff(data: StaffAdd, vendor: CurrentVendor, db: SessionDep) -> StaffOut:
    return await service.add_staff(db, vendor, data)


@router.delete(
    "/me/staff/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Remove a member from your store (owners and managers; never the last owner)",
    responses=errors(*VENDOR_ERRORS, VendorRoleRequired, StaffNotFound, LastOwner, InvalidRequest),
)
async def remove_staff(user_id: uuid.UUID, vendor: CurrentVendor, db: SessionDep) -> Response:
    await service.remove_staff(db, vendor, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{id_or_slug}",
    response_model=PublicVendorOut,
    summary="An approved store's public page (public)",
    responses=errors(VendorNotFound),
)
async def public_store(id_or_slug: str, db: SessionDep) -> PublicVendorOut:
    return await service.public_store(db, id_or_slug)


@router.post(
    "/{vendor_id}/follow",
    response_model=FollowOut,
    summary="Follow an approved store: hear of its new products, at most once a day",
    responses=errors(*USER_ERRORS, VendorNotFound, InvalidRequest),
)
async def follow(vendor_id: uuid.UUID, user: CurrentUser, db: SessionDep) -> FollowOut:
    return await service.set_following(db, user.id, vendor_id, following=True)


@router.delete(
    "/{vendor_id}/follow",
    response_model=FollowOut,
    summary="Stop following a store",
    responses=errors(*USER_ERRORS, VendorNotFound, InvalidRequest),
)
async def unfollow(vendor_id: uuid.UUID, user: CurrentUser, db: SessionDep) -> FollowOut:
    return await service.set_following(db, user.id, vendor_id, following=False)


@admin_router.get(
    "",
    response_model=Page[VendorOut],
    summary="List stores, newest first, optionally by status (admin)",
    responses=errors(*USER_ERRORS, InvalidRequest),
)
async def list_stores(
    db: SessionDep,
    paging: Annotated[PageParams, Depends(pagination())],
    status: Annotated[VendorStatus | None, Query(description="Only stores in this status.")] = None,
) -> Page[VendorOut]:
    return await service.list_stores(db, status=status, paging=paging)


async def _decide(
    action: VendorAction,
    vendor_id: uuid.UUID,
    decision: VendorDecision,
    admin: UserPrincipal,
    db: SessionDep,
) -> VendorOut:
    return await service.decide(db, vendor_id, action, decision, actor_id=admin.user_id)


@admin_router.post(
    "/{vendor_id}/approve",
    response_model=VendorOut,
    summary="Approve a pending or suspended store; its owners gain the vendor role (admin)",
    responses=errors(*USER_ERRORS, VendorNotFound, InvalidVendorTransition, InvalidRequest),
)
async def approve(
    vendor_id: uuid.UUID,
    admin: UserPrincipal,
    db: SessionDep,
    decision: VendorDecision | None = None,
) -> VendorOut:
    return await _decide(VendorAction.approve, vendor_id, decision or VendorDecision(), admin, db)


@admin_router.post(
    "/{vendor_id}/reject",
    response_model=VendorOut,
    summary="Reject a pending store, with a reason (admin)",
    responses=errors(
        *USER_ERRORS, VendorNotFound, InvalidVendorTransition, ReasonRequired, InvalidRequest
    ),
)
async def reject(
    vendor_id: uuid.UUID, decision: VendorDecision, admin: UserPrincipal, db: SessionDep
) -> VendorOut:
    return await _decide(VendorAction.reject, vendor_id, decision, admin, db)


@admin_router.post(
    "/{vendor_id}/suspend",
    response_model=VendorOut,
    summary="Suspend an approved store, with a reason (admin)",
    responses=errors(
        *USER_ERRORS, VendorNotFound, InvalidVendorTransition, ReasonRequired, InvalidRequest
    ),
)
async def suspend(
    vendor_id: uuid.UUID, decision: VendorDecision, admin: UserPrincipal, db: SessionDep
) -> VendorOut:
    return await _decide(VendorAction.suspend, vendor_id, decision, admin, db)
