"""SQL for stock: conditional UPDATEs that cannot take stock below zero, and the movement ledger.
Every statement filters on ``vendor_id``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.pagination import PageParams
from oja.marketplace.catalog.models import Product, ProductVariant
from oja.marketplace.inventory.models import StockMovement


async def adjust(
    db: AsyncSession,
    vendor_id: uuid.UUID,
    product_id: uuid.UUID,
    variant_id: uuid.UUID,
    delta: int,
) -> tuple[int, int] | None:
    """Add ``delta`` in one conditional UPDATE; ``(stock after, threshold)``, or None when the
    variant is not this store's or the stock would go below zero (nothing changed then)."""
    row = (
        await db.execute(
            update(ProductVariant)
            .where(
                ProductVariant.id == variant_id,
                ProductVariant.vendor_id == vendor_id,
                ProductVariant.product_id == product_id,
                ProductVariant.deleted_at.is_(None),
                ProductVariant.stock + delta >= 0,
            )
            .values(stock=ProductVariant.stock + delta, updated_at=utcnow())
            .returning(ProductVariant.stock, ProductVariant.low_stock_threshold)
            .execution_options(synchronize_session=False)
        )
    ).first()
    return None if row is None else (int(row[0]), int(row[1]))


async def compare_and_set(
    db: AsyncSession, vendor_id: uuid.UUID, variant_id: uuid.UUID, *, expected: int, new: int
) -> bool:
    """Set the stock to ``new`` only if it is still ``expected``."""
    row = (
        await db.execute(
            update(ProductVariant)
            .where(
                ProductVariant.id == variant_id,
                ProductVariant.vendor_id == vendor_id,
                ProductVariant.deleted_at.is_(None),
                ProductVariant.stock == expected,
            )
            .values(stock=new, updated_at=utcnow())
            .returning(ProductVariant.id)
            .execution_options(synchronize_session=False)
        )
    ).first()
    return row is not None


async def stock_of(
    db: AsyncSession, vendor_id: uuid.UUID, product_id: uuid.UUID, variant_id: uuid.UUID
) -> tuple[int, int] | None:
    """``(stock, threshold)`` of this store's variant of this product, or None."""
    row = (
        await db.execute(
            select(ProductVariant.stock, ProductVariant.low_stock_threshold).where(
                ProductVariant.id == variant_id,
                ProductVariant.vendor_id == vendor_id,
                ProductVariant.product_id == product_id,
                ProductVariant.deleted_at.is_(None),
            )
        )
    ).first()
    return None if row is None else (int(row[0]), int(row[1]))


def record_movement(
    db: AsyncSession,
    *,
    vendor_id: uuid.UUID,
    variant_id: uuid.UUID,
    actor_id: uuid.UUID | None,
    reason: str | None,
    before: int,
    after: int,
) -> StockMovement:
    movement = StockMovement(
        vendor_id=vendor_id,
        variant_id=variant_id,
        actor_id=actor_id,
        reason=reason,
        stock_before=before,
        stock_after=after,
        delta=after - before,
    )
    db.add(movement)
    return movement


async def inventory(
    db: AsyncSession, vendor_id: uuid.UUID, paging: PageParams
) -> tuple[Sequence[Row[ProductVariant, str]], int]:
    """This store's variants with their product titles, lowest stock first."""
    where = (ProductVariant.vendor_id == vendor_id, ProductVariant.deleted_at.is_(None))
    total = (await db.execute(select(func.count()).where(*where))).scalar_one()
    rows = (
        await db.execute(
            select(ProductVariant, Product.title)
            .join(Product, Product.id == ProductVariant.product_id)
            .where(*where, Product.vendor_id == vendor_id)
            .order_by(ProductVariant.stock, ProductVariant.sku)
            .offset(paging.offset)
            .limit(paging.per_page)
        )
    ).all()
    return rows, int(total)


async def movements(
    db: AsyncSession, vendor_id: uuid.UUID, variant_id: uuid.UUID
) -> Sequence[StockMovement]:
    query = (
        select(StockMovement)
        .where(StockMovement.vendor_id == vendor_id, StockMovement.variant_id == variant_id)
        .order_by(StockMovement.created_at, StockMovement.id)
    )
    return (await db.scalars(query)).all()
