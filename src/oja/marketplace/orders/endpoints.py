"""Order routes: the buyer's orders, returns and cancellations; the store's fulfilment."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from oja.core.dates import IsoDateTime
from oja.core.dependencies import SessionDep
from oja.core.errors import InvalidRequest, errors
from oja.core.pagination import Page, PageParams, pagination
from oja.core.routing import LeanRoute
from oja.identity.dependencies import USER_ERRORS, UserPrincipal
from oja.marketplace.config import MarketplaceSettingsDep
from oja.marketplace.errors import (
    InvalidOrderTransition,
    InvalidReturnTransition,
    OrderGroupNotFound,
    OrderLineNotFound,
    OrderNotFound,
    ReturnNotFound,
    ReturnQuantityExceeded,
    ReturnWindowClosed,
)
from oja.marketplace.orders import returns, service
from oja.marketplace.orders.models import OrderStatus, ReturnStatus
from oja.marketplace.orders.schemas import (
    CancelRequest,
    NoteRequest,
    OrderGroupOut,
    ReceiveRequest,
    ReturnCreate,
    ReturnOut,
    ShipRequest,
    StoreOrderOut,
    StoreOrderSummary,
    VendorCancelRequest,
)
from oja.marketplace.vendors.dependencies import VENDOR_ERRORS, CurrentVendor

router = APIRouter(tags=["marketplace: orders"])
vendor_router = APIRouter(prefix="/vendors/me", tags=["marketplace: store orders"])

Paging = Annotated[PageParams, Depends(pagination())]
MOVE_ERRORS = (*VENDOR_ERRORS, OrderNotFound, InvalidOrderTransition, InvalidRequest)
RETURN_ERRORS = (*VENDOR_ERRORS, ReturnNotFound, InvalidReturnTransition, InvalidRequest)


# Buyer


@router.get(
    "/orders",
    response_model=Page[OrderGroupOut],
    summary="Your order history: groups with their store orders, newest first",
    responses=errors(*USER_ERRORS, InvalidRequest),
)
async def history(
    principal: UserPrincipal,
    db: SessionDep,
    paging: Paging,
    status: Annotated[
        OrderStatus | None, Query(description="Groups with a store order in this status.")
    ] = None,
) -> Page[OrderGroupOut]:
    return await service.history(db, principal.user_id, status, paging)


async def order_group(
    group_id: uuid.UUID, principal: UserPrincipal, db: SessionDep
) -> OrderGroupOut:
    return await service.buyer_group(db, principal.user_id, group_id)


router.add_api_route(
    "/order-groups/{group_id}",
    order_group,
    methods=["GET"],
    response_model=OrderGroupOut,
    summary="One checkout: its payment and its store orders",
    responses=errors(*USER_ERRORS, OrderGroupNotFound),
    route_class_override=LeanRoute,
)


@router.get(
    "/orders/{order_id}",
    response_model=StoreOrderOut,
    summary="One store order: lines, totals, status history, refunds and returns",
    responses=errors(*USER_ERRORS, OrderNotFound),
)
async def order(order_id: uuid.UUID, principal: UserPrincipal, db: SessionDep) -> StoreOrderOut:
    return await service.detail(db, await service.buyer_order(db, principal.user_id, order_id))


@router.post(
    "/orders/{order_id}/cancel",
    response_model=StoreOrderOut,
    summary="Cancel before shipping: stock goes back, a paid order is refunded",
    responses=errors(*USER_ERRORS, OrderNotFound, InvalidOrderTransition, InvalidRequest),
)
async def cancel(
    order_id: uuid.UUID,
    principal: UserPrincipal,
    db: SessionDep,
    body: CancelRequest | None = None,
) -> StoreOrderOut:
    found = await service.buyer_order(db, principal.user_id, order_id)
    reason = body.reason if body else None
    return await service.cancel(db, found, actor_id=principal.user_id, reason=reason)


@router.post(
    "/orders/{order_id}/returns",
    response_model=ReturnOut,
    status_code=status.HTTP_201_CREATED,
    summary="Ask to return delivered lines, within the return window",
    responses=errors(
        *USER_ERRORS,
        OrderNotFound,
        InvalidOrderTransition,
        ReturnWindowClosed,
        ReturnQuantityExceeded,
        OrderLineNotFound,
        InvalidRequest,
    ),
)
async def request_return(
    order_id: uuid.UUID,
    body: ReturnCreate,
    principal: UserPrincipal,
    db: SessionDep,
    settings: MarketplaceSettingsDep,
) -> ReturnOut:
    found = await service.buyer_order(db, principal.user_id, order_id)
    return await returns.request_return(db, found, body, settings)


# Store


@vendor_router.get(
    "/orders",
    response_model=Page[StoreOrderSummary],
    summary="Your store's orders, newest first",
    responses=errors(*VENDOR_ERRORS, InvalidRequest),
)
async def vendor_orders(
    *,
    vendor: CurrentVendor,
    db: SessionDep,
    paging: Paging,
    status: OrderStatus | None = None,
    created_from: Annotated[IsoDateTime | None, Query(description="Created at or after.")] = None,
    created_to: Annotated[IsoDateTime | None, Query(description="Created before.")] = None,
) -> Page[StoreOrderSummary]:
    return await service.vendor_orders(
        db, vendor, status=status, since=created_from, until=created_to, paging=paging
    )


@vendor_router.get(
    "/orders/{order_id}",
    response_model=StoreOrderOut,
    summary="One of your store's orders",
    responses=errors(*VENDOR_ERRORS, OrderNotFound),
)
async def vendor_order(order_id: uuid.UUID, vendor: CurrentVendor, db: SessionDep) -> StoreOrderOut:
    return await service.detail(db, await service.vendor_order(db, vendor, order_id))


@vendor_router.post(
    "/orders/{order_id}/confirm",
    response_model=StoreOrderOut,
    summary="pending → confirmed",
    responses=errors(*MOVE_ERRORS),
)
async def confirm(order_id: uuid.UUID, vendor: CurrentVendor, db: SessionDep) -> StoreOrderOut:
    return await service.confirm(db, vendor, order_id)


@vendor_router.post(
    "/orders/{order_id}/ship",
    response_model=StoreOrderOut,
    summary="confirmed → shipped, with the carrier and tracking number",
    responses=errors(*MOVE_ERRORS),
)
async def ship(
    order_id: uuid.UUID, body: ShipRequest, vendor: CurrentVendor, db: SessionDep
) -> StoreOrderOut:
    return await service.ship(db, vendor, order_id, body)


@vendor_router.post(
    "/orders/{order_id}/deliver",
    response_model=StoreOrderOut,
    summary="shipped → delivered",
    responses=errors(*MOVE_ERRORS),
)
async def deliver(order_id: uuid.UUID, vendor: CurrentVendor, db: SessionDep) -> StoreOrderOut:
    return await service.deliver(db, vendor, order_id)


@vendor_router.post(
    "/orders/{order_id}/cancel",
    response_model=StoreOrderOut,
    summary="Cancel before shipping, with a reason: stock goes back, the buyer is refunded",
    responses=errors(*MOVE_ERRORS),
)
async def vendor_cancel(
    order_id: uuid.UUID, body: VendorCancelRequest, vendor: CurrentVendor, db: SessionDep
) -> StoreOrderOut:
    found = await service.vendor_order(db, vendor, order_id)
    return await service.cancel(db, found, actor_id=vendor.user_id, reason=body.reason)


@vendor_router.get(
    "/returns",
    response_model=Page[ReturnOut],
    summary="Return requests for your store, newest first",
    responses=errors(*VENDOR_ERRORS, InvalidRequest),
)
async def vendor_returns(
    vendor: CurrentVendor, db: SessionDep, paging: Paging, status: ReturnStatus | None = None
) -> Page[ReturnOut]:
    return await returns.vendor_returns(db, vendor, status, paging)


@vendor_router.post(
    "/returns/{return_id}/approve",
    response_model=ReturnOut,
    summary="requested → approved",
    responses=errors(*RETURN_ERRORS),
)
async def approve_return(
    return_id: uuid.UUID, vendor: CurrentVendor, db: SessionDep, body: NoteRequest | None = None
) -> ReturnOut:
    return await returns.decide(
        db, vendor, return_id, ReturnStatus.approved, body.note if body else None
    )


@vendor_router.post(
    "/returns/{return_id}/reject",
    response_model=ReturnOut,
    summary="requested → rejected (the units may be asked for again)",
    responses=errors(*RETURN_ERRORS),
)
async def reject_return(
    return_id: uuid.UUID, vendor: CurrentVendor, db: SessionDep, body: NoteRequest | None = None
) -> ReturnOut:
    return await returns.decide(
        db, vendor, return_id, ReturnStatus.rejected, body.note if body else None
    )


@vendor_router.post(
    "/returns/{return_id}/receive",
    response_model=ReturnOut,
    summary="approved → received: restock (per line, default yes) and refund the buyer",
    responses=errors(*RETURN_ERRORS),
)
async def receive_return(
    return_id: uuid.UUID, vendor: CurrentVendor, db: SessionDep, body: ReceiveRequest | None = None
) -> ReturnOut:
    return await returns.receive(db, vendor, return_id, body or ReceiveRequest())
