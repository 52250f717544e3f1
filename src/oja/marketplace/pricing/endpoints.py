"""Discount routes of a store."""

from __future__ import annotations

from fastapi import APIRouter, status

from oja.core.dependencies import SessionDep
from oja.core.errors import InvalidRequest, errors
from oja.marketplace.errors import CategoryNotFound, DiscountCodeTaken, ProductNotFound
from oja.marketplace.pricing import service
from oja.marketplace.pricing.schemas import DiscountCreate, DiscountOut
from oja.marketplace.vendors.dependencies import (
    ACTIVE_VENDOR_ERRORS,
    VENDOR_ERRORS,
    ActiveVendor,
    CurrentVendor,
)

router = APIRouter(prefix="/vendors/me/discounts", tags=["marketplace: pricing"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DiscountOut,
    summary="Create a discount on a product, a category or your whole store",
    responses=errors(
        *ACTIVE_VENDOR_ERRORS,
        ProductNotFound,
        CategoryNotFound,
        DiscountCodeTaken,
        InvalidRequest,
    ),
)
async def create_discount(
    data: DiscountCreate, vendor: ActiveVendor, db: SessionDep
) -> DiscountOut:
    return await service.create(db, vendor, data)


@router.get(
    "",
    response_model=list[DiscountOut],
    summary="Your store's discounts, newest first",
    responses=errors(*VENDOR_ERRORS),
)
async def list_discounts(vendor: CurrentVendor, db: SessionDep) -> list[DiscountOut]:
    return await service.list_for(db, vendor)
