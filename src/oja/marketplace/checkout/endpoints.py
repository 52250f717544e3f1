"""``POST /checkout``: the signed-in buyer's cart becomes orders and a payment to make."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from oja.billing.endpoints import BillingSettingsDep, IdempotencyKey
from oja.billing.errors import (
    BillingNotConfigured,
    IdempotencyKeyReused,
    InvalidInput,
    PaymentInitiationFailed,
    ProviderError,
    ProviderUnavailable,
)
from oja.core.dependencies import SessionDep
from oja.core.errors import InvalidRequest, errors
from oja.core.routing import LeanRoute
from oja.identity.dependencies import USER_ERRORS, CurrentUser
from oja.marketplace.checkout import service
from oja.marketplace.checkout.schemas import CheckoutOut, CheckoutRequest, PayAgainRequest
from oja.marketplace.config import MarketplaceSettings, get_marketplace_settings
from oja.marketplace.errors import (
    CartCurrencyMismatch,
    CartEmpty,
    DiscountCodeInvalid,
    DiscountExhausted,
    LinesUnavailable,
    OrderGroupNotFound,
    OutOfStock,
    PaymentNotRetryable,
    StoreSessionEnded,
    StoreTrafficLimit,
)

router = APIRouter(tags=["marketplace: checkout"])


async def checkout(
    body: CheckoutRequest,
    user: CurrentUser,
    db: SessionDep,
    *,
    settings: Annotated[MarketplaceSettings, Depends(get_marketplace_settings)],
    billing: BillingSettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> CheckoutOut:
    return await service.checkout(
        db, user, body, idempotency_key=idempotency_key, settings=settings, billing=billing
    )


router.add_api_route(
    "/checkout",
    checkout,
    methods=["POST"],
    status_code=status.HTTP_201_CREATED,
    response_model=CheckoutOut,
    summary="Turn your cart into one order per store and one payment; stock is reserved",
    responses=errors(
        *USER_ERRORS,
        InvalidRequest,
        InvalidInput,
        CartEmpty,
        LinesUnavailable,
        CartCurrencyMismatch,
        OutOfStock,
        DiscountCodeInvalid,
        DiscountExhausted,
        IdempotencyKeyReused,
        PaymentInitiationFailed,
        ProviderError,
        ProviderUnavailable,
        BillingNotConfigured,
        StoreTrafficLimit,
        StoreSessionEnded,
    ),
    route_class_override=LeanRoute,
)


@router.post(
    "/order-groups/{group_id}/pay",
    status_code=status.HTTP_201_CREATED,
    response_model=CheckoutOut,
    summary="Pay again after a failed payment: a new transaction under a new reference",
    description=(
        "Only while the group is `awaiting_payment`, before `expires_at`, and its current payment "
        "attempt has failed (see `failure_reason` on `GET /order-groups/{group_id}`). The old "
        "reference is never reused; the stock stays reserved until `expires_at`."
    ),
    responses=errors(
        *USER_ERRORS,
        InvalidRequest,
        InvalidInput,
        OrderGroupNotFound,
        PaymentNotRetryable,
        PaymentInitiationFailed,
        ProviderError,
        ProviderUnavailable,
        BillingNotConfigured,
    ),
)
async def pay_again(
    group_id: uuid.UUID,
    user: CurrentUser,
    db: SessionDep,
    billing: BillingSettingsDep,
    body: PayAgainRequest | None = None,
) -> CheckoutOut:
    return await service.pay_again(db, user, group_id, body or PayAgainRequest(), billing=billing)
