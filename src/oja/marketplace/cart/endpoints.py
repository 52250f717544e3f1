"""Cart routes: the signed-in buyer's own cart."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from oja.core.dependencies import SessionDep
from oja.core.errors import InvalidRequest, errors
from oja.core.routing import LeanRoute
from oja.identity.dependencies import USER_ERRORS, CurrentUser
from oja.marketplace.cart import service
from oja.marketplace.cart.schemas import CartItemAdd, CartItemUpdate, CartOut
from oja.marketplace.errors import (
    CartCurrencyMismatch,
    CartItemNotFound,
    StoreSessionEnded,
    StoreTrafficLimit,
    VariantNotFound,
)

router = APIRouter(prefix="/cart", tags=["marketplace: cart"])


async def get_cart(user: CurrentUser, db: SessionDep) -> CartOut:
    return await service.view(db, user.id)


router.add_api_route(
    "",
    get_cart,
    methods=["GET"],
    response_model=CartOut,
    summary="Your cart by store, priced now, with what changed since you added each line",
    responses=errors(*USER_ERRORS),
    route_class_override=LeanRoute,
)


async def add_item(data: CartItemAdd, user: CurrentUser, db: SessionDep) -> CartOut:
    return await service.add(db, user.id, data)


router.add_api_route(
    "/items",
    add_item,
    methods=["POST"],
    status_code=status.HTTP_201_CREATED,
    response_model=CartOut,
    summary="Add a variant (again: its quantity adds up); answers the whole cart",
    responses=errors(
        *USER_ERRORS,
        VariantNotFound,
        CartCurrencyMismatch,
        InvalidRequest,
        StoreTrafficLimit,
        StoreSessionEnded,
    ),
    route_class_override=LeanRoute,
)


@router.patch(
    "/items/{item_id}",
    response_model=CartOut,
    summary="Change a line's quantity (0 removes it); answers the whole cart",
    responses=errors(*USER_ERRORS, CartItemNotFound, InvalidRequest),
)
async def update_item(
    item_id: uuid.UUID, data: CartItemUpdate, user: CurrentUser, db: SessionDep
) -> CartOut:
    return await service.update(db, user.id, item_id, data)


@router.delete(
    "/items/{item_id}",
    response_model=CartOut,
    summary="Remove a line; answers the whole cart",
    responses=errors(*USER_ERRORS, CartItemNotFound, InvalidRequest),
)
async def remove_item(item_id: uuid.UUID, user: CurrentUser, db: SessionDep) -> CartOut:
    return await service.remove(db, user.id, item_id)
