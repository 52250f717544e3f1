"""SQL for checkout, payment confirmation and expiry.

Stock moves by conditional UPDATEs batched into one statement per checkout (``stock >= wanted`` per
row, ``CASE`` on the variant id), never read-then-write. Statements on vendor-owned tables filter on
``vendor_id``; the system paths (a payment verified, a reservation expired) read a group's store
orders by ``group_id``, the group being the buyer's.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, case, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.db import insert_ignore
from oja.marketplace.catalog.models import ProductVariant
from oja.marketplace.checkout.models import DiscountRedemption
from oja.marketplace.inventory.models import StockMovement
from oja.marketplace.orders.models import (
    GroupStatus,
    OrderGroup,
    OrderLine,
    OrderTransition,
    StoreOrder,
)
from oja.marketplace.pricing.models import Discount

Wanted = Mapping[uuid.UUID, tuple[uuid.UUID, int]]
"""variant id → (its store, quantity)."""


async def group_by_key(
    db: AsyncSession, buyer_id: uuid.UUID, idempotency_key: str
) -> OrderGroup | None:
    query = select(OrderGroup).where(
        OrderGroup.buyer_id == buyer_id, OrderGroup.idempotency_key == idempotency_key
    )
    return (await db.execute(query)).scalar_one_or_none()


async def group_by_reference(db: AsyncSession, reference: str) -> OrderGroup | None:
    query = select(OrderGroup).where(OrderGroup.payment_reference == reference)
    return (await db.execute(query)).scalar_one_or_none()


async def insert_group(db: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert the group unless the buyer's idempotency key is taken (a concurrent twin won)."""
    statement = insert_ignore(db, OrderGroup.__table__).values(**values).returning(OrderGroup.id)
    return (await db.execute(statement)).scalar_one_or_none() is not None


async def insert_orders(
    db: AsyncSession,
    orders: Sequence[dict[str, Any]],
    lines: Sequence[dict[str, Any]],
    transitions: Sequence[dict[str, Any]],
    movements: Sequence[dict[str, Any]],
) -> None:
    """A checkout's store orders, their line snapshots and first transitions, and its stock
    movements: one multi-row INSERT each, the orders first (the lines and transitions reference
    them), through Core: no ORM unit of work for rows the request never reads back."""
    written = (
        (StoreOrder, orders),
        (OrderLine, lines),
        (OrderTransition, transitions),
        (StockMovement, movements),
    )
    for model, rows in written:
        await db.execute(insert(cast(Table, model.__table__)), list(rows))


async def move_stock(db: AsyncSession, wanted: Wanted, *, sign: int) -> dict[uuid.UUID, int]:
    """Add ``sign × quantity`` to each variant's stock in one UPDATE; a decrement only where the
    stock covers it. Returns the stock after, per variant changed."""
    if not wanted:
        return {}
    quantity = case(
        {variant_id: q for variant_id, (_, q) in wanted.items()}, value=ProductVariant.id
    )
    conditions: list[ColumnElement[bool]] = [
        ProductVariant.id.in_(list(wanted)),
        ProductVariant.vendor_id.in_({vendor_id for vendor_id, _ in wanted.values()}),
    ]
    if sign < 0:
        conditions.append(ProductVariant.stock >= quantity)
    rows = await db.execute(
        update(ProductVariant)
        .where(*conditions)
        .values(stock=ProductVariant.stock + sign * quantity, updated_at=utcnow())
        .returning(ProductVariant.id, ProductVariant.stock)
        .execution_options(synchronize_session=False)
    )
    return {variant_id: int(stock) for variant_id, stock in rows.all()}


async def stock_levels(db: AsyncSession, wanted: Wanted) -> dict[uuid.UUID, int]:
    rows = await db.execute(
        select(ProductVariant.id, ProductVariant.stock).where(
            ProductVariant.id.in_(list(wanted)),
            ProductVariant.vendor_id.in_({vendor_id for vendor_id, _ in wanted.values()}),
        )
    )
    return {variant_id: int(stock) for variant_id, stock in rows.all()}


async def use_discounts(
    db: AsyncSession, discounts: Mapping[uuid.UUID, uuid.UUID]
) -> set[uuid.UUID]:
    """Count one use of each discount (id → store) whose usage limit allows it; the ids counted.

    The UPDATE also locks each discount row until commit, so per-customer counts read after it
    see every earlier redemption of these discounts.
    """
    rows = await db.execute(
        update(Discount)
        .where(
            Discount.id.in_(list(discounts)),
            Discount.vendor_id.in_(set(discounts.values())),
            (Discount.usage_limit.is_(None)) | (Discount.used_count < Discount.usage_limit),
        )
        .values(used_count=Discount.used_count + 1)
        .returning(Discount.id)
        .execution_options(synchronize_session=False)
    )
    return set(rows.scalars())


async def redemptions(
    db: AsyncSession, buyer_id: uuid.UUID, discounts: Mapping[uuid.UUID, uuid.UUID]
) -> dict[uuid.UUID, int]:
    """How many order groups of this buyer redeemed each discount (id → store)."""
    rows = await db.execute(
        select(DiscountRedemption.discount_id, func.count())
        .where(
            DiscountRedemption.discount_id.in_(list(discounts)),
            DiscountRedemption.vendor_id.in_(set(discounts.values())),
            DiscountRedemption.buyer_id == buyer_id,
        )
        .group_by(DiscountRedemption.discount_id)
    )
    return {discount_id: int(n) for discount_id, n in rows.all()}


async def release_discounts(db: AsyncSession, group_id: uuid.UUID) -> int:
    """Give back the uses a group counted: its redemptions deleted, each discount's count lowered
    once per deleted row (so a second release gives back nothing)."""
    released = (
        await db.execute(
            delete(DiscountRedemption)
            .where(DiscountRedemption.group_id == group_id)
            .returning(DiscountRedemption.discount_id, DiscountRedemption.vendor_id)
            .execution_options(synchronize_session=False)
        )
    ).all()
    if released:
        await db.execute(
            update(Discount)
            .where(
                Discount.id.in_([discount_id for discount_id, _ in released]),
                Discount.vendor_id.in_({vendor_id for _, vendor_id in released}),
                Discount.used_count > 0,
            )
            .values(used_count=Discount.used_count - 1)
            .execution_options(synchronize_session=False)
        )
    return len(released)


async def move_group(
    db: AsyncSession,
    group_id: uuid.UUID,
    *,
    from_status: GroupStatus,
    to_status: GroupStatus,
    values: dict[str, Any] | None = None,
    expired_by: datetime | None = None,
) -> bool:
    """One conditional UPDATE (``WHERE status = :from``): of a payment and an expiry, one wins."""
    conditions = [OrderGroup.id == group_id, OrderGroup.status == str(from_status)]
    if expired_by is not None:
        conditions.append(OrderGroup.expires_at <= expired_by)
    result = await db.execute(
        update(OrderGroup)
        .where(*conditions)
        .values(**{"status": str(to_status), "updated_at": utcnow(), **(values or {})})
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def record_failure(
    db: AsyncSession, reference: str, reason: str
) -> tuple[uuid.UUID, uuid.UUID, int, str] | None:
    """Note why the group's current attempt failed, if the group is still unpaid and this is news;
    the group's (id, buyer, total, currency) when noted."""
    result = await db.execute(
        update(OrderGroup)
        .where(
            OrderGroup.payment_reference == reference,
            OrderGroup.status == str(GroupStatus.awaiting_payment),
            OrderGroup.failure_reason.is_(None),
        )
        .values(failure_reason=reason[:500], updated_at=utcnow())
        .returning(OrderGroup.id, OrderGroup.buyer_id, OrderGroup.total, OrderGroup.currency)
        .execution_options(synchronize_session=False)
    )
    row = result.one_or_none()
    return None if row is None else (row[0], row[1], int(row[2]), str(row[3]))


async def replace_attempt(
    db: AsyncSession,
    group_id: uuid.UUID,
    *,
    old_reference: str | None,
    reference: str,
    authorization_url: str,
    now: datetime,
) -> bool:
    """Make ``reference`` the unpaid, unexpired group's current attempt, if ``old_reference``
    still is (of two concurrent retries, one wins)."""
    result = await db.execute(
        update(OrderGroup)
        .where(
            OrderGroup.id == group_id,
            OrderGroup.payment_reference == old_reference,
            OrderGroup.status == str(GroupStatus.awaiting_payment),
            OrderGroup.expires_at > now,
        )
        .values(
            payment_reference=reference,
            authorization_url=authorization_url,
            failure_reason=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def due_groups(db: AsyncSession, now: datetime, limit: int) -> list[uuid.UUID]:
    query = (
        select(OrderGroup.id)
        .where(OrderGroup.status == str(GroupStatus.awaiting_payment), OrderGroup.expires_at <= now)
        .order_by(OrderGroup.expires_at)
        .limit(limit)
    )
    return list((await db.execute(query)).scalars())


async def group_orders(db: AsyncSession, group_id: uuid.UUID) -> Sequence[StoreOrder]:
    query = select(StoreOrder).where(StoreOrder.group_id == group_id).order_by(StoreOrder.id)
    return (await db.execute(query)).scalars().all()


async def group_lines(db: AsyncSession, orders: Sequence[StoreOrder]) -> Sequence[OrderLine]:
    query = select(OrderLine).where(
        OrderLine.order_id.in_([o.id for o in orders]),
        OrderLine.vendor_id.in_({o.vendor_id for o in orders}),
    )
    return (await db.execute(query.order_by(OrderLine.id))).scalars().all()
