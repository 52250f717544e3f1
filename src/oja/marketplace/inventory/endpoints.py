"""Stock routes: change a variant's stock (recorded), and the store's inventory."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from oja.core.dependencies import SessionDep
from oja.core.errors import InvalidRequest, errors
from oja.core.pagination import Page, PageParams, pagination
from oja.marketplace.errors import InsufficientStock, StockContended, VariantNotFound
from oja.marketplace.inventory import service
from oja.marketplace.inventory.schemas import InventoryItem, StockChange, StockOut
from oja.marketplace.vendors.dependencies import (
    ACTIVE_VENDOR_ERRORS,
    VENDOR_ERRORS,
    ActiveVendor,
    CurrentVendor,
)

router = APIRouter(tags=["marketplace: inventory"])


@router.post(
    "/products/{product_id}/variants/{variant_id}/stock",
    response_model=StockOut,
    summary="Set or adjust a variant's stock; never below zero",
    responses=errors(
        *ACTIVE_VENDOR_ERRORS, VariantNotFound, InsufficientStock, StockContended, InvalidRequest
    ),
)
async def change_stock(
    product_id: uuid.UUID,
    variant_id: uuid.UUID,
    change: StockChange,
    vendor: ActiveVendor,
    db: SessionDep,
) -> StockOut:
    return await service.change_stock(db, vendor, product_id, variant_id, change)


@router.get(
    "/vendors/me/inventory",
    response_model=Page[InventoryItem],
    summary="Your store's variants with their stock, lowest first",
    responses=errors(*VENDOR_ERRORS, InvalidRequest),
)
async def inventory(
    vendor: CurrentVendor,
    db: SessionDep,
    paging: Annotated[PageParams, Depends(pagination())],
) -> Page[InventoryItem]:
    return await service.inventory(db, vendor, paging)
