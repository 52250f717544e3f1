"""Vendor plan routes: the plans on sale (public), the caller's store's plan and usage, and its
subscription: subscribe, change, cancel (owners and managers); an operator's change of a store's
plan (admin)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from oja.billing.errors import (
    BillingNotConfigured,
    InvalidInput,
    PaymentInitiationFailed,
    ProviderError,
    ProviderUnavailable,
)
from oja.core.dependencies import SessionDep
from oja.core.errors import InvalidRequest, errors
from oja.identity.dependencies import USER_ERRORS, RequireRole, UserPrincipal
from oja.marketplace.errors import (
    NoPaidPlan,
    PlanAlreadyActive,
    PlanUnchanged,
    VendorNotFound,
    VendorRoleRequired,
)
from oja.marketplace.plans import operator, service, subscriptions
from oja.marketplace.plans.schemas import (
    ChangePlanIn,
    OperatorPlanIn,
    SubscribeIn,
    SubscriptionCheckoutOut,
    SubscriptionOut,
    VendorPlanOut,
)
from oja.marketplace.vendors.dependencies import VENDOR_ERRORS, CurrentVendor
from oja.marketplace.vendors.service import require_manager

router = APIRouter(tags=["marketplace: plans"])
admin_router = APIRouter(
    prefix="/admin/vendors", tags=["marketplace: admin"], dependencies=[RequireRole("admin")]
)

PROVIDER_ERRORS = (
    PaymentInitiationFailed,
    ProviderError,
    ProviderUnavailable,
    BillingNotConfigured,
)


@router.get(
    "/vendor-plans",
    response_model=list[VendorPlanOut],
    summary="The vendor plans on sale: price, interval and distinct users per period",
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


@router.post(
    "/vendors/me/subscription",
    status_code=status.HTTP_201_CREATED,
    response_model=SubscriptionCheckoutOut,
    summary="Subscribe your store to a plan: a Paystack checkout; the plan applies once paid",
    responses=errors(
        *VENDOR_ERRORS,
        VendorRoleRequired,
        InvalidRequest,
        InvalidInput,
        PlanAlreadyActive,
        *PROVIDER_ERRORS,
    ),
)
async def subscribe(
    body: SubscribeIn, vendor: CurrentVendor, db: SessionDep
) -> SubscriptionCheckoutOut:
    require_manager(vendor)
    return await subscriptions.start(
        db,
        vendor.vendor_id,
        vendor.user_id,
        body.plan,
        str(body.callback_url) if body.callback_url else None,
    )


@router.post(
    "/vendors/me/subscription/change",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SubscriptionOut,
    summary="Change plan: an upgrade applies once Paystack confirms the charge, a downgrade at "
    "the end of the paid period",
    responses=errors(
        *VENDOR_ERRORS,
        VendorRoleRequired,
        InvalidRequest,
        NoPaidPlan,
        PlanUnchanged,
        *PROVIDER_ERRORS,
    ),
)
async def change_plan(body: ChangePlanIn, vendor: CurrentVendor, db: SessionDep) -> SubscriptionOut:
    require_manager(vendor)
    await subscriptions.change(db, vendor.vendor_id, body.plan)
    return await service.subscription(db, vendor.vendor_id)


@router.post(
    "/vendors/me/subscription/cancel",
    response_model=SubscriptionOut,
    summary="Cancel your store's plan: it holds until the paid period ends, then the free tier",
    responses=errors(*VENDOR_ERRORS, VendorRoleRequired, NoPaidPlan, *PROVIDER_ERRORS),
)
async def cancel_plan(vendor: CurrentVendor, db: SessionDep) -> SubscriptionOut:
    require_manager(vendor)
    await subscriptions.cancel(db, vendor.vendor_id)
    return await service.subscription(db, vendor.vendor_id)


@admin_router.post(
    "/{vendor_id}/plan",
    response_model=SubscriptionOut,
    summary="Set a store's plan at once, with a reason (admin): an upgrade raises its limit now, "
    "a downgrade below its users ends the sessions beyond the new limit",
    responses=errors(*USER_ERRORS, VendorNotFound, PlanUnchanged, InvalidRequest),
)
async def set_store_plan(
    vendor_id: uuid.UUID, body: OperatorPlanIn, admin: UserPrincipal, db: SessionDep
) -> SubscriptionOut:
    await operator.set_plan(db, vendor_id, body.plan, body.reason, actor_id=admin.user_id)
    return await service.subscription(db, vendor_id)
