"""Stock rules: never below zero, every change recorded, threshold crossings announced.

An adjustment is one conditional UPDATE (``stock + d >= 0``) — never read-then-write — so however
many run at once, exactly as many succeed as the stock allows. A ``set`` is a compare-and-set on
the stock it read, retried a few times under contention. Crossing the low-stock threshold
downward emits ``inventory.low_stock``; coming back above it emits
``inventory.back_in_stock``; both in the request's unit of work (handlers run with it
and roll back with it).
"""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core import events
from oja.core.pagination import Page, PageParams
from oja.marketplace.catalog.schemas import stock_status
from oja.marketplace.errors import InsufficientStock, StockContended, VariantNotFound
from oja.marketplace.inventory import repository
from oja.marketplace.inventory.schemas import (
    InventoryItem,
    StockChange,
    StockMovementOut,
    StockOut,
)
from oja.marketplace.vendors.service import VendorContext

LOW_STOCK = "inventory.low_stock"
BACK_IN_STOCK = "inventory.back_in_stock"
SET_ATTEMPTS = 5
log = structlog.get_logger("oja.marketplace.inventory")


async def _announce(
    ctx: VendorContext,
    product_id: uuid.UUID,
    variant_id: uuid.UUID,
    *,
    before: int,
    after: int,
    threshold: int,
) -> None:
    event = None
    if before > threshold >= after:
        event = LOW_STOCK
    elif before <= threshold < after:
        event = BACK_IN_STOCK
    if event is not None:
        await events.emit(
            event,
            vendor_id=ctx.vendor_id,
            product_id=product_id,
            variant_id=variant_id,
            stock=after,
            threshold=threshold,
        )


async def change_stock(
    db: AsyncSession,
    ctx: VendorContext,
    product_id: uuid.UUID,
    variant_id: uuid.UUID,
    change: StockChange,
) -> StockOut:
    if change.adjust is not None:
        before, after, threshold = await _adjust(db, ctx, product_id, variant_id, change.adjust)
    else:
        assert change.set_to is not None
        before, after, threshold = await _set(db, ctx, product_id, variant_id, change.set_to)
    movement = None
    if after != before:
        repository.record_movement(
            db,
            vendor_id=ctx.vendor_id,
            variant_id=variant_id,
            actor_id=ctx.user_id,
            reason=change.reason,
            before=before,
            after=after,
        )
        movement = StockMovementOut(
            before=before, after=after, delta=after - before, reason=change.reason
        )
        await _announce(
            ctx, product_id, variant_id, before=before, after=after, threshold=threshold
        )
        log.info(
            "marketplace.inventory.changed",
            vendor_id=str(ctx.vendor_id),
            variant_id=str(variant_id),
            before=before,
            after=after,
        )
    return StockOut(
        variant_id=variant_id,
        stock=after,
        low_stock_threshold=threshold,
        stock_status=stock_status(after, threshold),
        movement=movement,
    )


async def _adjust(
    db: AsyncSession, ctx: VendorContext, product_id: uuid.UUID, variant_id: uuid.UUID, delta: int
) -> tuple[int, int, int]:
    done = await repository.adjust(db, ctx.vendor_id, product_id, variant_id, delta)
    if done is None:
        current = await repository.stock_of(db, ctx.vendor_id, product_id, variant_id)
        if current is None:
            raise VariantNotFound("No such variant of this product.")
        raise InsufficientStock(
            f"Only {current[0]} in stock; cannot adjust by {delta}.",
            details={"stock": current[0], "adjust": delta},
        )
    after, threshold = done
    return after - delta, after, threshold


async def _set(
    db: AsyncSession, ctx: VendorContext, product_id: uuid.UUID, variant_id: uuid.UUID, new: int
) -> tuple[int, int, int]:
    for _ in range(SET_ATTEMPTS):
        current = await repository.stock_of(db, ctx.vendor_id, product_id, variant_id)
        if current is None:
            raise VariantNotFound("No such variant of this product.")
        before, threshold = current
        if before == new or await repository.compare_and_set(
            db, ctx.vendor_id, variant_id, expected=before, new=new
        ):
            return before, new, threshold
    raise StockContended("The stock kept changing; try again.")


async def inventory(
    db: AsyncSession, ctx: VendorContext, paging: PageParams
) -> Page[InventoryItem]:
    rows, total = await repository.inventory(db, ctx.vendor_id, paging)
    items = [
        InventoryItem(
            product_id=variant.product_id,
            product_title=title,
            variant_id=variant.id,
            sku=variant.sku,
            options=variant.options,
            stock=variant.stock,
            low_stock_threshold=variant.low_stock_threshold,
            stock_status=stock_status(variant.stock, variant.low_stock_threshold),
        )
        for variant, title in rows
    ]
    return Page[InventoryItem].of(items, total=total, params=paging)
