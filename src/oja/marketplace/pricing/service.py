"""Discount rules: a store creates discounts on its own products, on categories, or storewide."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.marketplace.catalog import categories
from oja.marketplace.catalog import repository as catalog_repository
from oja.marketplace.errors import DiscountCodeTaken, ProductNotFound
from oja.marketplace.pricing import repository
from oja.marketplace.pricing.models import Discount, DiscountScope
from oja.marketplace.pricing.schemas import DiscountCreate, DiscountOut
from oja.marketplace.search import service as search
from oja.marketplace.search.jobs import reindex_store
from oja.marketplace.vendors.service import VendorContext


def discount_out(discount: Discount) -> DiscountOut:
    return DiscountOut.model_validate(discount, from_attributes=True)


async def create(db: AsyncSession, ctx: VendorContext, data: DiscountCreate) -> DiscountOut:
    if data.scope == DiscountScope.product:
        assert data.target_id is not None
        if await catalog_repository.vendor_product(db, ctx.vendor_id, data.target_id) is None:
            raise ProductNotFound("No such product in your store.")
    elif data.scope == DiscountScope.category:
        assert data.target_id is not None
        await categories.exists(db, data.target_id)
    if data.code is not None and await repository.code_taken(db, ctx.vendor_id, data.code):
        raise DiscountCodeTaken(f"Your store already has the code {data.code!r}.")
    discount = Discount(
        vendor_id=ctx.vendor_id,
        type=data.type,
        value=data.value,
        currency=data.currency,
        scope=data.scope,
        target_id=data.target_id,
        starts_at=data.starts_at or utcnow(),
        ends_at=data.ends_at,
        code=data.code,
        usage_limit=data.usage_limit,
        per_customer_limit=data.per_customer_limit,
        stackable=data.stackable,
        used_count=0,
    )
    db.add(discount)
    await db.flush()
    if data.code is None:  # an automatic discount moves the prices search indexes
        if data.scope == DiscountScope.product:
            assert data.target_id is not None
            await search.index_products(db, ctx.vendor_id, [data.target_id])
        else:
            reindex_store.enqueue(db, vendor_id=ctx.vendor_id)
    return discount_out(discount)


async def list_for(db: AsyncSession, ctx: VendorContext) -> list[DiscountOut]:
    return [discount_out(d) for d in await repository.vendor_discounts(db, ctx.vendor_id)]
