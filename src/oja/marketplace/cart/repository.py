"""SQL for carts. Every statement on ``cart_item`` filters on ``buyer_id``; reads of the catalogue
join a variant to its own store (``vendor_id`` equal on variant, product and vendor)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.ids import uuid7
from oja.marketplace.cart.models import CartItem
from oja.marketplace.catalog.models import Category, Product, ProductStatus, ProductVariant
from oja.marketplace.vendors.models import Vendor, VendorStatus


@dataclass(frozen=True, slots=True)
class Offer:
    """A variant with what prices and shows it — its product, its store, the product's category
    path — as plain columns (no ORM entity is loaded on the cart's paths)."""

    variant_id: uuid.UUID
    sku: str
    options: dict[str, Any]
    price: int
    currency: str
    stock: int
    product_id: uuid.UUID
    title: str
    product_status: str
    vendor_id: uuid.UUID
    vendor_name: str
    vendor_slug: str
    vendor_status: str
    category_path: str | None

    @property
    def on_sale(self) -> bool:
        return self.product_status == ProductStatus.active and (
            self.vendor_status == VendorStatus.approved
        )


@dataclass(frozen=True, slots=True)
class Line:
    """A cart line with its offer."""

    id: uuid.UUID
    quantity: int
    price_seen: int
    currency: str
    """The currency the line was added in (the offer's may have changed since)."""
    added_at: datetime
    offer: Offer


_OFFER = (
    ProductVariant.id,
    ProductVariant.sku,
    ProductVariant.options,
    ProductVariant.price,
    ProductVariant.currency,
    ProductVariant.stock,
    Product.id,
    Product.title,
    Product.status,
    Vendor.id,
    Vendor.name,
    Vendor.slug,
    Vendor.status,
    Category.path,
)
_LINE = (CartItem.id, CartItem.quantity, CartItem.price_seen, CartItem.currency, CartItem.added_at)
_SPLIT = len(_LINE)


def _catalogue(query: Select[Any]) -> Select[Any]:
    return (
        query.join(Product, Product.id == ProductVariant.product_id)
        .join(Vendor, Vendor.id == Product.vendor_id)
        .outerjoin(Category, Category.id == Product.category_id)
        .where(ProductVariant.vendor_id == Vendor.id, Product.vendor_id == Vendor.id)
    )


_LINES = _catalogue(
    select(*_LINE, *_OFFER).join(ProductVariant, ProductVariant.id == CartItem.variant_id)
)
_ONE_OFFER = _catalogue(select(*_OFFER).select_from(ProductVariant))


async def lines(db: AsyncSession, buyer_id: uuid.UUID) -> list[Line]:
    """The buyer's lines, oldest first, each with its offer (one statement)."""
    query = _LINES.where(CartItem.buyer_id == buyer_id).order_by(CartItem.added_at, CartItem.id)
    found = []
    for row in (await db.execute(query)).all():
        line_id, quantity, price_seen, currency, added_at = row[:_SPLIT]
        found.append(Line(line_id, quantity, price_seen, currency, added_at, Offer(*row[_SPLIT:])))
    return found


async def offer(db: AsyncSession, variant_id: uuid.UUID) -> Offer | None:
    row = (await db.execute(_ONE_OFFER.where(ProductVariant.id == variant_id))).first()
    return None if row is None else Offer(*row)


async def add(
    db: AsyncSession,
    buyer_id: uuid.UUID,
    variant_id: uuid.UUID,
    *,
    quantity: int,
    price_seen: int,
    currency: str,
) -> tuple[uuid.UUID, int, datetime]:
    """Insert the line, or add ``quantity`` to the buyer's line of this variant (one statement, so
    two concurrent adds both count); the line's id, quantity and ``added_at`` after it."""
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
    upsert = statement.on_conflict_do_update(
        index_elements=[CartItem.buyer_id, CartItem.variant_id],
        set_={
            "quantity": CartItem.quantity + statement.excluded.quantity,
            "price_seen": statement.excluded.price_seen,
            "currency": statement.excluded.currency,
            "updated_at": now,
        },
    ).returning(CartItem.id, CartItem.quantity, CartItem.added_at)
    line_id, total, added_at = (await db.execute(upsert)).one()
    return line_id, int(total), added_at


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
