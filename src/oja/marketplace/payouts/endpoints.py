"""Payout routes: a store's payout account and payouts; the admin's accounts awaiting approval
(approve, reject), holds, list, retries and OTP finalize / resend."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from oja.billing.endpoints import BillingSettingsDep
from oja.billing.errors import (
    BillingNotConfigured,
    ProviderError,
    ProviderRateLimited,
    ProviderUnavailable,
)
from oja.core.dependencies import SessionDep
from oja.core.errors import InvalidRequest, errors
from oja.core.pagination import Page, PageParams, pagination
from oja.identity.dependencies import USER_ERRORS, RequireRole, UserPrincipal
from oja.marketplace.config import MarketplaceSettingsDep
from oja.marketplace.errors import (
    NoPendingPayoutAccount,
    PayoutAccountUnresolved,
    PayoutNotAwaitingOtp,
    PayoutNotFound,
    PayoutNotRetryable,
    PayoutOtpRejected,
    VendorNotFound,
    VendorRoleRequired,
)
from oja.marketplace.payouts import service
from oja.marketplace.payouts.models import AccountStatus, PayoutStatus
from oja.marketplace.payouts.schemas import (
    DecisionIn,
    FinalizeIn,
    HoldIn,
    HoldOut,
    OtpResentOut,
    PayoutAccountIn,
    PayoutAccountOut,
    PayoutOut,
    StoreAccountOut,
)
from oja.marketplace.vendors.dependencies import VENDOR_ERRORS, CurrentVendor

vendor_router = APIRouter(prefix="/vendors/me", tags=["marketplace: payouts"])
admin_router = APIRouter(
    prefix="/admin", tags=["marketplace: admin"], dependencies=[RequireRole("admin")]
)

Paging = Annotated[PageParams, Depends(pagination())]


@vendor_router.get(
    "/payout-account",
    response_model=PayoutAccountOut,
    summary="Your store's payout account, one waiting for approval, and any payout hold",
    responses=errors(*VENDOR_ERRORS),
)
async def payout_account(vendor: CurrentVendor, db: SessionDep) -> PayoutAccountOut:
    return await service.payout_account(db, vendor.vendor_id)


@vendor_router.put(
    "/payout-account",
    response_model=PayoutAccountOut,
    summary="Set your store's payout account (owners): resolved by the provider; a name unlike "
    "the store's waits for an admin; a change holds payouts for 24 hours",
    responses=errors(
        *VENDOR_ERRORS,
        VendorRoleRequired,
        VendorNotFound,
        PayoutAccountUnresolved,
        ProviderUnavailable,
        ProviderRateLimited,
        ProviderError,
        BillingNotConfigured,
        InvalidRequest,
    ),
)
async def set_payout_account(
    data: PayoutAccountIn,
    vendor: CurrentVendor,
    db: SessionDep,
    market: MarketplaceSettingsDep,
    billing: BillingSettingsDep,
) -> PayoutAccountOut:
    return await service.set_account(db, vendor, data, market, billing)


@vendor_router.get(
    "/payouts",
    response_model=Page[PayoutOut],
    summary="Your store's payouts, newest first",
    responses=errors(*VENDOR_ERRORS, InvalidRequest),
)
async def my_payouts(
    vendor: CurrentVendor,
    db: SessionDep,
    paging: Paging,
    status: Annotated[
        PayoutStatus | None, Query(description="Only payouts in this status.")
    ] = None,
) -> Page[PayoutOut]:
    return await service.list_payouts(db, vendor_id=vendor.vendor_id, status=status, paging=paging)


@admin_router.get(
    "/payouts",
    response_model=Page[PayoutOut],
    summary="Every store's payouts, newest first, by status and store (admin)",
    responses=errors(*USER_ERRORS, InvalidRequest),
)
async def all_payouts(
    db: SessionDep,
    paging: Paging,
    status: Annotated[
        PayoutStatus | None, Query(description="Only payouts in this status.")
    ] = None,
    vendor_id: Annotated[uuid.UUID | None, Query(description="Only this store's.")] = None,
) -> Page[PayoutOut]:
    return await service.list_payouts(db, vendor_id=vendor_id, status=status, paging=paging)


@admin_router.post(
    "/payouts/{payout_id}/retry",
    response_model=PayoutOut,
    summary="Retry a failed payout under a new reference (<reference>-r1); sent at once (admin)",
    responses=errors(*USER_ERRORS, PayoutNotFound, PayoutNotRetryable, InvalidRequest),
)
async def retry_payout(payout_id: uuid.UUID, admin: UserPrincipal, db: SessionDep) -> PayoutOut:
    return await service.retry(db, payout_id, admin.user_id)


@admin_router.post(
    "/vendors/{vendor_id}/payout-account/approve",
    response_model=PayoutAccountOut,
    summary="Approve a store's payout account whose name did not match the store's (admin)",
    responses=errors(*USER_ERRORS, VendorNotFound, NoPendingPayoutAccount, InvalidRequest),
)
async def approve_payout_account(
    vendor_id: uuid.UUID, admin: UserPrincipal, db: SessionDep, market: MarketplaceSettingsDep
) -> PayoutAccountOut:
    return await service.approve_account(db, vendor_id, admin.user_id, market)


@admin_router.post(
    "/vendors/{vendor_id}/payout-hold",
    response_model=HoldOut,
    summary="Hold a store's payouts until released, with a reason (admin)",
    responses=errors(*USER_ERRORS, VendorNotFound, InvalidRequest),
)
async def hold_payouts(
    vendor_id: uuid.UUID, data: HoldIn, admin: UserPrincipal, db: SessionDep
) -> HoldOut:
    return await service.set_hold(
        db, vendor_id, held=True, reason=data.reason, actor_id=admin.user_id
    )


@admin_router.post(
    "/vendors/{vendor_id}/payout-release",
    response_model=HoldOut,
    summary="Release a store's payout hold, with a reason (admin)",
    responses=errors(*USER_ERRORS, VendorNotFound, InvalidRequest),
)
async def release_payouts(
    vendor_id: uuid.UUID, data: HoldIn, admin: UserPrincipal, db: SessionDep
) -> HoldOut:
    return await service.set_hold(
        db, vendor_id, held=False, reason=data.reason, actor_id=admin.user_id
    )


@admin_router.get(
    "/payout-accounts",
    response_model=Page[StoreAccountOut],
    summary="Every store's payout accounts, oldest first, by status: pending_approval lists those "
    "waiting for an admin (admin)",
    responses=errors(*USER_ERRORS, InvalidRequest),
)
async def payout_accounts(
    db: SessionDep,
    paging: Paging,
    status: Annotated[
        AccountStatus | None, Query(description="Only accounts in this status.")
    ] = None,
) -> Page[StoreAccountOut]:
    return await service.list_accounts(db, status=status, paging=paging)


@admin_router.post(
    "/vendors/{vendor_id}/payout-account/reject",
    response_model=PayoutAccountOut,
    summary="Reject a store's payout account waiting for approval, with a reason (admin)",
    responses=errors(*USER_ERRORS, VendorNotFound, NoPendingPayoutAccount, InvalidRequest),
)
async def reject_payout_account(
    vendor_id: uuid.UUID, data: DecisionIn, admin: UserPrincipal, db: SessionDep
) -> PayoutAccountOut:
    return await service.reject_account(db, vendor_id, data.reason, admin.user_id)


OTP_ERRORS = (
    *USER_ERRORS,
    PayoutNotFound,
    PayoutNotAwaitingOtp,
    ProviderUnavailable,
    ProviderRateLimited,
    ProviderError,
    BillingNotConfigured,
    InvalidRequest,
)


@admin_router.post(
    "/payouts/{payout_id}/finalize",
    response_model=PayoutOut,
    summary="Finalize a payout waiting for its transfer's OTP (Paystack OTP approval on); a "
    "refused OTP changes nothing (admin)",
    responses=errors(*OTP_ERRORS, PayoutOtpRejected),
)
async def finalize_payout(
    payout_id: uuid.UUID,
    data: FinalizeIn,
    admin: UserPrincipal,
    db: SessionDep,
    billing: BillingSettingsDep,
) -> PayoutOut:
    return await service.finalize(db, payout_id, data.otp, admin.user_id, billing)


@admin_router.post(
    "/payouts/{payout_id}/resend-otp",
    response_model=OtpResentOut,
    summary="Have the provider send a waiting payout's OTP to the business's phone again (admin)",
    responses=errors(*OTP_ERRORS),
)
async def resend_payout_otp(
    payout_id: uuid.UUID, admin: UserPrincipal, db: SessionDep, billing: BillingSettingsDep
) -> OtpResentOut:
    return await service.resend_otp(db, payout_id, admin.user_id, billing)
