"""SQL for carts. Every statement on ``cart_item`` filters on ``buyer_id``; reads of the catalogue
join a variant to its own store (``vendor_id`` equal on variant, product and vendor)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Executable,
    Select,
    Table,
    bindparam,
    delete,
    null,
    select,
    union_all,
    update,
)
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


# Built once, executed with parameters: building a statement per request (its where clause, the
# upsert's VALUES and EXCLUDED columns) was a third of adding a line's CPU, profiled.
_LINES_OF = _LINES.where(CartItem.buyer_id == bindparam("buyer_id")).order_by(
    CartItem.added_at, CartItem.id
)
_NO_LINE: tuple[Any, ...] = tuple(null() for _ in _LINE)
_CART_AND_OFFER = union_all(
    _LINES.where(CartItem.buyer_id == bindparam("buyer_id")),
    _catalogue(select(*_NO_LINE, *_OFFER).select_from(ProductVariant)).where(
        ProductVariant.id == bindparam("variant_id")
    ),
)
_CART = cast(Table, CartItem.__table__)
_UPSERT_COLUMNS = (
    "id",
    "buyer_id",
    "variant_id",
    "quantity",
    "price_seen",
    "currency",
    "added_at",
    "updated_at",
)
_upserts: dict[str, Executable] = {}


def _upsert(dialect: str) -> Executable:
    """``INSERT … ON CONFLICT (buyer_id, variant_id) DO UPDATE … RETURNING`` for ``dialect``."""
    cached = _upserts.get(dialect)
    if cached is not None:
        return cached
    insert = (postgresql if dialect == "postgresql" else sqlite).insert
    columns = _CART.c
    statement = insert(_CART).values(
        {name: bindparam(f"p_{name}", type_=columns[name].type) for name in _UPSERT_COLUMNS}
    )
    upsert: Executable = statement.on_conflict_do_update(
        index_elements=[columns.buyer_id, columns.variant_id],
        set_={
            "quantity": columns.quantity + statement.excluded.quantity,
            "price_seen": statement.excluded.price_seen,
            "currency": statement.excluded.currency,
            "updated_at": statement.excluded.updated_at,
        },
    ).returning(columns.id, columns.quantity, columns.added_at)
    _upserts[dialect] = upsert
    return upsert


async def lines(db: AsyncSession, buyer_id: uuid.UUID) -> list[Line]:
    """The buyer's lines, oldest first, each with its offer (one statement)."""
    found = []
    for row in (await db.execute(_LINES_OF, {"buyer_id": buyer_id})).all():
        line_id, quantity, price_seen, currency, added_at = row[:_SPLIT]
        found.append(Line(line_id, quantity, price_seen, currency, added_at, Offer(*row[_SPLIT:])))
    return found


async def cart_and_offer(
    db: AsyncSession, buyer_id: uuid.UUID, variant_id: uuid.UUID
) -> tuple[list[Line], Offer | None]:
    """The buyer's lines (as :func:`lines`) and the offer of ``variant_id``, in one statement."""
    params = {"buyer_id": buyer_id, "variant_id": variant_id}
    found, offer = [], None
    for row in (await db.execute(_CART_AND_OFFER, params)).all():
        line_id, quantity, price_seen, currency, added_at = row[:_SPLIT]
        if line_id is None:
            offer = Offer(*row[_SPLIT:])
        else:
            found.append(
                Line(line_id, quantity, price_seen, currency, added_at, Offer(*row[_SPLIT:]))
            )
    found.sort(key=lambda line: (line.added_at, line.id))
    return found, offer


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
    values = {
        "p_id": uuid7(),
        "p_buyer_id": buyer_id,
        "p_variant_id": variant_id,
        "p_quantity": quantity,
        "p_price_seen": price_seen,
        "p_currency": currency,
        "p_added_at": now,
        "p_updated_at": now,
    }
    upsert = _upsert(db.get_bind().dialect.name)
    line_id, total, added_at = (await db.execute(upsert, values)).one()
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
