"""SQL for orders. Every statement on a vendor-owned table filters on ``vendor_id``."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oja.marketplace.orders.models import OrderStatus, OrderTransition, StoreOrder
from oja.marketplace.vendors.models import VendorMember

STAMPS: dict[OrderStatus, str] = {
    OrderStatus.confirmed: "confirmed_at",
    OrderStatus.shipped: "shipped_at",
    OrderStatus.delivered: "delivered_at",
    OrderStatus.canceled: "canceled_at",
}
"""The timestamp column a move into each state sets."""


async def store_order(
    db: AsyncSession, vendor_id: uuid.UUID, order_id: uuid.UUID
) -> StoreOrder | None:
    return (
        await db.execute(
            select(StoreOrder).where(StoreOrder.id == order_id, StoreOrder.vendor_id == vendor_id)
        )
    ).scalar_one_or_none()


async def move_status(
    db: AsyncSession,
    vendor_id: uuid.UUID,
    order_id: uuid.UUID,
    *,
    from_status: OrderStatus,
    to_status: OrderStatus,
    at: datetime,
    values: dict[str, object] | None = None,
) -> bool:
    """One conditional UPDATE (``WHERE status = :from``): of two concurrent moves one wins."""
    changes: dict[str, object] = {"status": str(to_status), "updated_at": at, **(values or {})}
    if to_status in STAMPS:
        changes[STAMPS[to_status]] = at
    result = await db.execute(
        update(StoreOrder)
        .where(
            StoreOrder.id == order_id,
            StoreOrder.vendor_id == vendor_id,
            StoreOrder.status == str(from_status),
        )
        .values(**changes)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def record_transition(
    db: AsyncSession,
    vendor_id: uuid.UUID,
    order_id: uuid.UUID,
    *,
    from_status: OrderStatus | None,
    to_status: OrderStatus,
    actor_id: uuid.UUID | None,
    note: str | None,
    at: datetime,
) -> None:
    db.add(
        OrderTransition(
            vendor_id=vendor_id,
            order_id=order_id,
            from_status=None if from_status is None else str(from_status),
            to_status=str(to_status),
            actor_id=actor_id,
            note=note,
            created_at=at,
        )
    )


async def staff_ids(db: AsyncSession, vendor_id: uuid.UUID) -> list[uuid.UUID]:
    """Every member of the store: who hears of its orders."""
    rows = await db.execute(
        select(VendorMember.user_id)
        .where(VendorMember.vendor_id == vendor_id)
        .order_by(VendorMember.user_id)
    )
    return list(rows.scalars())


async def vendor_ids_of_member(db: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    """The stores ``user_id`` works for (tenant resolution, by ``vendor_member.user_id``)."""
    rows = await db.execute(select(VendorMember.vendor_id).where(VendorMember.user_id == user_id))
    return list(rows.scalars())


async def may_watch_order(db: AsyncSession, user_id: uuid.UUID, order_id: uuid.UUID) -> bool:
    """Whether ``user_id`` bought store order ``order_id`` or works for its store (one statement)."""
    member = (
        select(VendorMember.user_id)
        .where(VendorMember.vendor_id == StoreOrder.vendor_id, VendorMember.user_id == user_id)
        .correlate(StoreOrder)
        .exists()
    )
    row = await db.execute(
        select(StoreOrder.id).where(
            StoreOrder.id == order_id, (StoreOrder.buyer_id == user_id) | member
        )
    )
    return row.first() is not None
