"""Vendor plan routes: the plans on sale (public) and the caller's store's plan and usage."""

from __future__ import annotations

from fastapi import APIRouter

from oja.core.dependencies import SessionDep
from oja.core.errors import errors
from oja.marketplace.plans import service
from oja.marketplace.plans.schemas import SubscriptionOut, VendorPlanOut
from oja.marketplace.vendors.dependencies import VENDOR_ERRORS, CurrentVendor

router = APIRouter(tags=["marketplace: plans"])


@router.get(
    "/vendor-plans",
    response_model=list[VendorPlanOut],
    summary="The vendor plans on sale: price interval and distinct users per period",
)
async def vendor_plans() -> list[VendorPlanOut]:
    return service.vendor_plans()


@router.get(
    "/vendors/me/subscription",
    response_model=SubscriptionOut,
    summary="Your store's plan, its period and the distinct users served in it",
    responses=errors(*VENDOR_ERRORS),
)
async def my_subscription(vendor: CurrentVendor, db: SessionDep) -> SubscriptionOut:
    return await service.subscription(db, vendor.vendor_id)
