"""``CurrentVendor``: the store the signed-in caller belongs to, for every vendor route."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from oja.core.dependencies import SessionDep
from oja.identity.dependencies import UserPrincipal
from oja.marketplace.errors import NotAVendorMember
from oja.marketplace.vendors import repository
from oja.marketplace.vendors.service import VendorContext


async def get_current_vendor(principal: UserPrincipal, db: SessionDep) -> VendorContext:
    found = await repository.membership_of(db, principal.user_id)
    if found is None:
        raise NotAVendorMember("You belong to no store; open one with POST /vendors.")
    member, vendor = found
    return VendorContext(
        vendor_id=vendor.id, user_id=principal.user_id, role=member.role, status=vendor.status
    )


CurrentVendor = Annotated[VendorContext, Depends(get_current_vendor)]
