"""SQL for carts. Every statement on ``cart_item`` filters on ``buyer_id``; reads of the catalogue
join a variant to its own store (``vendor_id`` equal on variant, product and vendor)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TypeVarTuple

from sqlalchemy import Row, Select, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.ids import uuid7
from oja.marketplace.cart.models import CartItem
from oja.marketplace.catalog.models import Category, Product, ProductVariant
from oja.marketplace.vendors.models import Vendor

CartRow = Row[CartItem, ProductVariant, Product, Vendor, str | None]
"""A line with its variant, product, store and the product's category path."""
VariantRow = Row[ProductVariant, Product, Vendor, str | None]
Ts = TypeVarTuple("Ts")


def _catalogue(query: Select[*Ts]) -> Select[*Ts]:
    return (
        query.join(Product, Product.id == ProductVariant.product_id)
        .join(Vendor, Vendor.id == Product.vendor_id)
        .outerjoin(Category, Category.id == Product.category_id)
        .where(ProductVariant.vendor_id == Vendor.id, Product.vendor_id == Vendor.id)
    )


async def lines(db: AsyncSession, buyer_id: uuid.UUID) -> Sequence[CartRow]:
    """The buyer's lines, oldest first, each with what prices it (one statement)."""
    query = _catalogue(
        select(CartItem, ProductVariant, Product, Vendor, Category.path).join(
            ProductVariant, ProductVariant.id == CartItem.variant_id
        )
    ).where(CartItem.buyer_id == buyer_id)
    rows = await db.execute(query.order_by(CartItem.added_at, CartItem.id))
    return rows.all()


async def variant(db: AsyncSession, variant_id: uuid.UUID) -> VariantRow | None:
    query = _catalogue(
        select(ProductVariant, Product, Vendor, Category.path).select_from(ProductVariant)
    ).where(ProductVariant.id == variant_id)
    return (await db.execute(query)).first()


async def other_currency(
    db: AsyncSession, buyer_id: uuid.UUID, variant_id: uuid.UUID, currency: str
) -> str | None:
    """A currency of the buyer's other lines that is not ``currency``, if any."""
    query = select(CartItem.currency).where(
        CartItem.buyer_id == buyer_id,
        CartItem.variant_id != variant_id,
        CartItem.currency != currency,
    )
    return (await db.execute(query.limit(1))).scalar_one_or_none()


async def add(
    db: AsyncSession,
    buyer_id: uuid.UUID,
    variant_id: uuid.UUID,
    *,
    quantity: int,
    price_seen: int,
    currency: str,
) -> None:
    """Insert the line, or add ``quantity`` to the buyer's line of this variant (one statement, so
    two concurrent adds both count)."""
    now = utcnow()
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(CartItem).values(
        id=uuid7(),
        buyer_id=buyer_id,
        variant_id=variant_id,
        quantity=quantity,
        price_seen=price_seen,
        currency=currency,
        added_at=now,
        updated_at=now,
    )
    await db.execute(
        statement.on_conflict_do_update(
            index_elements=[CartItem.buyer_id, CartItem.variant_id],
            set_={
                "quantity": CartItem.quantity + statement.excluded.quantity,
                "price_seen": statement.excluded.price_seen,
                "currency": statement.excluded.currency,
                "updated_at": now,
            },
        )
    )


async def set_quantity(
    db: AsyncSession, buyer_id: uuid.UUID, item_id: uuid.UUID, quantity: int
) -> bool:
    result = await db.execute(
        update(CartItem)
        .where(CartItem.id == item_id, CartItem.buyer_id == buyer_id)
        .values(quantity=quantity, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def remove(db: AsyncSession, buyer_id: uuid.UUID, item_id: uuid.UUID) -> bool:
    result = await db.execute(
        delete(CartItem)
        .where(CartItem.id == item_id, CartItem.buyer_id == buyer_id)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def remove_lines(
    db: AsyncSession, buyer_id: uuid.UUID, item_ids: Sequence[uuid.UUID]
) -> None:
    """Remove the lines a checkout took."""
    await db.execute(
        delete(CartItem)
        .where(CartItem.buyer_id == buyer_id, CartItem.id.in_(item_ids))
        .execution_options(synchronize_session=False)
    )
