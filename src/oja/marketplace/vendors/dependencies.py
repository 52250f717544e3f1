"""``CurrentVendor``: the store the signed-in caller belongs to, for every vendor route."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from oja.core.dependencies import SessionDep
from oja.core.errors import OjaError
from oja.identity.dependencies import (
    AUTH_ERRORS,
    USER_ERRORS,
    OptionalPrincipal,
    UserPrincipal,
)
from oja.marketplace.errors import NotAVendorMember, VendorSuspended
from oja.marketplace.vendors import repository
from oja.marketplace.vendors.models import StaffRole, VendorStatus
from oja.marketplace.vendors.service import VendorContext

VENDOR_ERRORS: tuple[type[OjaError], ...] = (*USER_ERRORS, NotAVendorMember)
"""What :data:`CurrentVendor` answers: :data:`USER_ERRORS`, and 403 for a caller in no store."""
OPTIONAL_VENDOR_ERRORS: tuple[type[OjaError], ...] = AUTH_ERRORS
"""What :data:`OptionalVendor` answers: bad credentials are still a 401."""


async def get_current_vendor(principal: UserPrincipal, db: SessionDep) -> VendorContext:
    found = await repository.membership_of(db, principal.user_id)
    if found is None:
        raise NotAVendorMember("You belong to no store; open one with POST /vendors.")
    member, vendor = found
    return VendorContext(
        vendor_id=vendor.id,
        user_id=principal.user_id,
        role=StaffRole(member.role),
        status=VendorStatus(vendor.status),
    )


CurrentVendor = Annotated[VendorContext, Depends(get_current_vendor)]

FROZEN_STATUSES = frozenset({VendorStatus.suspended, VendorStatus.rejected})
"""Stores whose catalogue cannot change. A pending store may prepare its catalogue: nothing of it
is public until approval."""
ACTIVE_VENDOR_ERRORS: tuple[type[OjaError], ...] = (*VENDOR_ERRORS, VendorSuspended)
"""What :data:`ActiveVendor` answers: :data:`VENDOR_ERRORS`, and 403 for a frozen store."""


async def get_active_vendor(ctx: CurrentVendor) -> VendorContext:
    if ctx.status in FROZEN_STATUSES:
        raise VendorSuspended(
            f"Your store is {ctx.status}: its catalogue cannot change.",
            details={"status": str(ctx.status)},
        )
    return ctx


ActiveVendor = Annotated[VendorContext, Depends(get_active_vendor)]
"""The caller's store on a route that changes its catalogue (products, variants, images, stock,
discounts): :data:`CurrentVendor`, refused with ``vendor_suspended`` when the store is frozen."""


async def get_optional_vendor(principal: OptionalPrincipal, db: SessionDep) -> VendorContext | None:
    """The caller's store on a public route that shows its own members more (drafts): None for
    anonymous callers, API keys and users without a store; bad credentials are still a 401."""
    if principal is None or principal.kind != "user":
        return None
    found = await repository.place_of(db, principal.user_id)
    if found is None:
        return None
    vendor_id, role, vendor_status = found
    return VendorContext(
        vendor_id=vendor_id,
        user_id=principal.user_id,
        role=StaffRole(role),
        status=VendorStatus(vendor_status),
    )


OptionalVendor = Annotated[VendorContext | None, Depends(get_optional_vendor)]
