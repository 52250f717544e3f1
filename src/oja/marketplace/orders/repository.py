"""SQL for orders, returns and refunds. Every statement on a vendor-owned table filters on
``vendor_id``, except the buyer's own look-ups (by ``buyer_id``) and the refund job's (by id),
which find the vendor first."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.pagination import PageParams
from oja.marketplace.catalog.models import ProductVariant
from oja.marketplace.orders.models import (
    OrderGroup,
    OrderLine,
    OrderRefund,
    OrderStatus,
    OrderTransition,
    RefundStatus,
    ReturnLine,
    ReturnRequest,
    ReturnStatus,
    StoreOrder,
)
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


async def reload_order(db: AsyncSession, order: StoreOrder) -> None:
    """Read the order's row again into ``order`` (a scoped ``session.refresh``)."""
    await db.execute(
        select(StoreOrder)
        .where(StoreOrder.id == order.id, StoreOrder.vendor_id == order.vendor_id)
        .execution_options(populate_existing=True)
    )


async def reload_return(db: AsyncSession, request: ReturnRequest) -> None:
    await db.execute(
        select(ReturnRequest)
        .where(ReturnRequest.id == request.id, ReturnRequest.vendor_id == request.vendor_id)
        .execution_options(populate_existing=True)
    )


async def move_status(
    db: AsyncSession,
    order: StoreOrder,
    *,
    from_status: OrderStatus,
    to_status: OrderStatus,
    at: datetime,
    values: dict[str, object] | None = None,
) -> bool:
    """One conditional UPDATE (``WHERE status = :from``): of two concurrent moves one wins. The
    winner's row comes back into ``order`` (``RETURNING`` with ``populate_existing``: what
    :func:`reload_order` would read, without a second statement); a loser's ``order`` is as it
    was."""
    changes: dict[str, object] = {"status": str(to_status), "updated_at": at, **(values or {})}
    if to_status in STAMPS:
        changes[STAMPS[to_status]] = at
    result = await db.execute(
        update(StoreOrder)
        .where(
            StoreOrder.id == order.id,
            StoreOrder.vendor_id == order.vendor_id,
            StoreOrder.status == str(from_status),
        )
        .values(**changes)
        .returning(StoreOrder)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return result.scalars().first() is not None


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
    """Every member of the store: who hears of its orders (the members :func:`read_staff` read
    for this transaction, if it read that store's)."""
    read = _in_hand(db, _STAFF_IN_HAND, vendor_id)
    if read is not None:
        return list(read)
    rows = await db.execute(
        select(VendorMember.user_id)
        .where(VendorMember.vendor_id == vendor_id)
        .order_by(VendorMember.user_id)
    )
    return list(rows.scalars())


async def read_staff(db: AsyncSession, vendor_ids: Collection[uuid.UUID]) -> None:
    """The members of several stores in one statement, for :func:`staff_ids` in this transaction
    (a payment confirming one order in each: one read, not one per store)."""
    staff: dict[uuid.UUID, list[uuid.UUID]] = {vendor_id: [] for vendor_id in vendor_ids}
    if len(staff) < 2:
        return  # one store: staff_ids' own read is the same one statement
    rows = await db.execute(
        select(VendorMember.vendor_id, VendorMember.user_id)
        .where(VendorMember.vendor_id.in_(list(staff)))
        .order_by(VendorMember.vendor_id, VendorMember.user_id)
    )
    for vendor_id, user_id in rows:
        staff[vendor_id].append(user_id)
    _hand(db, _STAFF_IN_HAND, staff)


def hand_lines(db: AsyncSession, orders: Sequence[StoreOrder], lines: Sequence[OrderLine]) -> None:
    """Hand the lines of ``orders`` (all of them, as read in this transaction) to
    :func:`lines_in_hand`: the ``order.confirmed`` handlers (search sales, recommendations'
    purchases) of a payment's confirmation use them instead of reading them again per order."""
    by_order: dict[uuid.UUID, list[OrderLine]] = {order.id: [] for order in orders}
    for line in lines:
        by_order[line.order_id].append(line)
    _hand(db, _LINES_IN_HAND, by_order)


def lines_in_hand(
    db: AsyncSession, vendor_id: uuid.UUID, order_id: uuid.UUID
) -> list[OrderLine] | None:
    """The store order's lines if :func:`hand_lines` was given them in this transaction, else
    None (then read them). A line's product and quantity never change, so they stay true."""
    lines = _in_hand(db, _LINES_IN_HAND, order_id)
    return None if lines is None else [line for line in lines if line.vendor_id == vendor_id]


_LINES_IN_HAND = "oja.marketplace.order_lines_in_hand"
_STAFF_IN_HAND = "oja.marketplace.staff_in_hand"
"""``session.info`` keys: (transaction, {order id → its lines}) and (transaction, {store id → its
members}) read once for a whole group; only the transaction that read them uses them."""


def _hand(db: AsyncSession, key: str, rows: dict[uuid.UUID, list[Any]]) -> None:
    transaction = db.sync_session.get_transaction()
    held: tuple[object, dict[uuid.UUID, list[Any]]] | None = db.info.get(key)
    if held is None or held[0] is not transaction:
        db.info[key] = held = (transaction, {})
    held[1].update(rows)


def _in_hand(db: AsyncSession, key: str, id_: uuid.UUID) -> list[Any] | None:
    held = db.info.get(key)
    if held is None or held[0] is not db.sync_session.get_transaction():
        return None  # read in a transaction that has ended (committed or rolled back)
    found: list[Any] | None = held[1].get(id_)
    return found


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


# Buyer look-ups: by buyer, never by vendor (the buyer does not act for a store).


async def buyer_order(
    db: AsyncSession, buyer_id: uuid.UUID, order_id: uuid.UUID
) -> StoreOrder | None:
    return (
        await db.execute(
            select(StoreOrder).where(StoreOrder.id == order_id, StoreOrder.buyer_id == buyer_id)
        )
    ).scalar_one_or_none()


async def buyer_group(
    db: AsyncSession, buyer_id: uuid.UUID, group_id: uuid.UUID
) -> OrderGroup | None:
    return (
        await db.execute(
            select(OrderGroup).where(OrderGroup.id == group_id, OrderGroup.buyer_id == buyer_id)
        )
    ).scalar_one_or_none()


async def buyer_group_rows(
    db: AsyncSession,
    buyer_id: uuid.UUID,
    group_id: uuid.UUID,
    group_fields: tuple[str, ...],
    order_fields: tuple[str, ...],
) -> list[Row[Any]]:
    """The buyer's group with its store orders in one statement, plain columns: one row per
    order (oldest first; a single row of NULL order columns when it has none), the group's
    ``group_fields`` then the orders' ``order_fields``; no row when the group is not the
    buyer's."""
    query = _group_with_orders(group_fields, order_fields)
    found = await db.execute(query, {"buyer_id": buyer_id, "group_id": group_id})
    return list(found.all())


@functools.cache
def _group_with_orders(group_fields: tuple[str, ...], order_fields: tuple[str, ...]) -> Select[Any]:
    buyer_id = bindparam("buyer_id", type_=OrderGroup.buyer_id.type)
    return (
        select(
            *(getattr(OrderGroup, name) for name in group_fields),
            *(getattr(StoreOrder, name) for name in order_fields),
        )
        .select_from(OrderGroup)
        .outerjoin(
            StoreOrder,
            and_(StoreOrder.group_id == OrderGroup.id, StoreOrder.buyer_id == buyer_id),
        )
        .where(OrderGroup.id == bindparam("group_id"), OrderGroup.buyer_id == buyer_id)
        .order_by(StoreOrder.created_at, StoreOrder.id)
    )


async def buyer_groups(
    db: AsyncSession, buyer_id: uuid.UUID, status: OrderStatus | None, paging: PageParams
) -> tuple[Sequence[OrderGroup], int]:
    """The buyer's groups, newest first; with ``status``, those with a store order in it."""
    where: list[ColumnElement[bool]] = [OrderGroup.buyer_id == buyer_id]
    if status is not None:
        where.append(
            OrderGroup.id.in_(
                select(StoreOrder.group_id).where(
                    StoreOrder.buyer_id == buyer_id, StoreOrder.status == str(status)
                )
            )
        )
    total = await db.execute(select(func.count()).select_from(OrderGroup).where(*where))
    groups = await db.scalars(
        select(OrderGroup)
        .where(*where)
        .order_by(OrderGroup.created_at.desc(), OrderGroup.id.desc())
        .offset(paging.offset)
        .limit(paging.per_page)
    )
    return groups.all(), int(total.scalar_one())


async def group_orders(
    db: AsyncSession, buyer_id: uuid.UUID, group_ids: Sequence[uuid.UUID]
) -> Sequence[StoreOrder]:
    if not group_ids:
        return []
    return (
        await db.scalars(
            select(StoreOrder)
            .where(StoreOrder.buyer_id == buyer_id, StoreOrder.group_id.in_(group_ids))
            .order_by(StoreOrder.created_at, StoreOrder.id)
        )
    ).all()


async def group(db: AsyncSession, group_id: uuid.UUID) -> OrderGroup | None:
    return await db.get(OrderGroup, group_id)


# Vendor look-ups and the order's parts, always by vendor.


async def vendor_orders(
    db: AsyncSession,
    vendor_id: uuid.UUID,
    *,
    status: OrderStatus | None,
    since: datetime | None,
    until: datetime | None,
    paging: PageParams,
) -> tuple[Sequence[StoreOrder], int]:
    where: list[ColumnElement[bool]] = [StoreOrder.vendor_id == vendor_id]
    if status is not None:
        where.append(StoreOrder.status == str(status))
    if since is not None:
        where.append(StoreOrder.created_at >= since)
    if until is not None:
        where.append(StoreOrder.created_at < until)
    total = await db.execute(select(func.count()).select_from(StoreOrder).where(*where))
    found = await db.scalars(
        select(StoreOrder)
        .where(*where)
        .order_by(StoreOrder.created_at.desc(), StoreOrder.id.desc())
        .offset(paging.offset)
        .limit(paging.per_page)
    )
    return found.all(), int(total.scalar_one())


async def lines(db: AsyncSession, vendor_id: uuid.UUID, order_id: uuid.UUID) -> list[OrderLine]:
    found = await db.scalars(
        select(OrderLine)
        .where(OrderLine.vendor_id == vendor_id, OrderLine.order_id == order_id)
        .order_by(OrderLine.id)
    )
    return list(found)


async def transitions(
    db: AsyncSession, vendor_id: uuid.UUID, order_id: uuid.UUID
) -> list[OrderTransition]:
    found = await db.scalars(
        select(OrderTransition)
        .where(OrderTransition.vendor_id == vendor_id, OrderTransition.order_id == order_id)
        .order_by(OrderTransition.created_at, OrderTransition.id)
    )
    return list(found)


async def refunds(db: AsyncSession, vendor_id: uuid.UUID, order_id: uuid.UUID) -> list[OrderRefund]:
    found = await db.scalars(
        select(OrderRefund)
        .where(OrderRefund.vendor_id == vendor_id, OrderRefund.order_id == order_id)
        .order_by(OrderRefund.created_at, OrderRefund.id)
    )
    return list(found)


async def order_returns(
    db: AsyncSession, vendor_id: uuid.UUID, order_id: uuid.UUID
) -> list[ReturnRequest]:
    found = await db.scalars(
        select(ReturnRequest)
        .where(ReturnRequest.vendor_id == vendor_id, ReturnRequest.order_id == order_id)
        .order_by(ReturnRequest.created_at, ReturnRequest.id)
    )
    return list(found)


async def vendor_returns(
    db: AsyncSession, vendor_id: uuid.UUID, status: ReturnStatus | None, paging: PageParams
) -> tuple[Sequence[ReturnRequest], int]:
    where: list[ColumnElement[bool]] = [ReturnRequest.vendor_id == vendor_id]
    if status is not None:
        where.append(ReturnRequest.status == str(status))
    total = await db.execute(select(func.count()).select_from(ReturnRequest).where(*where))
    found = await db.scalars(
        select(ReturnRequest)
        .where(*where)
        .order_by(ReturnRequest.created_at.desc(), ReturnRequest.id.desc())
        .offset(paging.offset)
        .limit(paging.per_page)
    )
    return found.all(), int(total.scalar_one())


async def return_lines(
    db: AsyncSession, vendor_id: uuid.UUID, return_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[ReturnLine]]:
    by_return: dict[uuid.UUID, list[ReturnLine]] = {rid: [] for rid in return_ids}
    if return_ids:
        found = await db.scalars(
            select(ReturnLine)
            .where(ReturnLine.vendor_id == vendor_id, ReturnLine.return_id.in_(return_ids))
            .order_by(ReturnLine.id)
        )
        for line in found:
            by_return[line.return_id].append(line)
    return by_return


async def return_request(
    db: AsyncSession, vendor_id: uuid.UUID, return_id: uuid.UUID
) -> ReturnRequest | None:
    return (
        await db.execute(
            select(ReturnRequest).where(
                ReturnRequest.id == return_id, ReturnRequest.vendor_id == vendor_id
            )
        )
    ).scalar_one_or_none()


async def move_return(
    db: AsyncSession,
    vendor_id: uuid.UUID,
    return_id: uuid.UUID,
    *,
    from_status: ReturnStatus,
    to_status: ReturnStatus,
    values: dict[str, object],
) -> bool:
    """One conditional UPDATE (``WHERE status = :from``): of two concurrent decisions one wins."""
    result = await db.execute(
        update(ReturnRequest)
        .where(
            ReturnRequest.id == return_id,
            ReturnRequest.vendor_id == vendor_id,
            ReturnRequest.status == str(from_status),
        )
        .values(status=str(to_status), updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def claim_return_units(
    db: AsyncSession, vendor_id: uuid.UUID, order_id: uuid.UUID, line_id: uuid.UUID, quantity: int
) -> tuple[int, int, int] | None:
    """Count ``quantity`` more units of the line as being returned, in one conditional UPDATE that
    cannot pass what was bought: ``(returned after, bought, line_total)``, or None (nothing changed)."""
    row = (
        await db.execute(
            update(OrderLine)
            .where(
                OrderLine.id == line_id,
                OrderLine.vendor_id == vendor_id,
                OrderLine.order_id == order_id,
                OrderLine.returned_quantity + quantity <= OrderLine.quantity,
            )
            .values(returned_quantity=OrderLine.returned_quantity + quantity)
            .returning(OrderLine.returned_quantity, OrderLine.quantity, OrderLine.line_total)
            .execution_options(synchronize_session=False)
        )
    ).first()
    return None if row is None else (int(row[0]), int(row[1]), int(row[2]))


async def release_return_units(
    db: AsyncSession, vendor_id: uuid.UUID, line_id: uuid.UUID, quantity: int
) -> None:
    await db.execute(
        update(OrderLine)
        .where(
            OrderLine.id == line_id,
            OrderLine.vendor_id == vendor_id,
            OrderLine.returned_quantity >= quantity,
        )
        .values(returned_quantity=OrderLine.returned_quantity - quantity)
        .execution_options(synchronize_session=False)
    )


async def mark_restock(
    db: AsyncSession, vendor_id: uuid.UUID, return_line_id: uuid.UUID, restock: bool
) -> None:
    await db.execute(
        update(ReturnLine)
        .where(ReturnLine.id == return_line_id, ReturnLine.vendor_id == vendor_id)
        .values(restock=restock)
        .execution_options(synchronize_session=False)
    )


async def received_units(
    db: AsyncSession, vendor_id: uuid.UUID, order_id: uuid.UUID
) -> dict[uuid.UUID, int]:
    """Units of each line of the order whose return was received."""
    rows = await db.execute(
        select(ReturnLine.order_line_id, func.sum(ReturnLine.quantity))
        .join(ReturnRequest, ReturnRequest.id == ReturnLine.return_id)
        .where(
            ReturnLine.vendor_id == vendor_id,
            ReturnRequest.vendor_id == vendor_id,
            ReturnRequest.order_id == order_id,
            ReturnRequest.status == str(ReturnStatus.received),
        )
        .group_by(ReturnLine.order_line_id)
    )
    return {line_id: int(units) for line_id, units in rows.all()}


async def add_stock(
    db: AsyncSession, vendor_id: uuid.UUID, variant_id: uuid.UUID, quantity: int
) -> int | None:
    """Put ``quantity`` units back in one conditional increment; the stock after, or None when the
    variant is gone."""
    row = (
        await db.execute(
            update(ProductVariant)
            .where(ProductVariant.id == variant_id, ProductVariant.vendor_id == vendor_id)
            .values(stock=ProductVariant.stock + quantity, updated_at=utcnow())
            .returning(ProductVariant.stock)
            .execution_options(synchronize_session=False)
        )
    ).first()
    return None if row is None else int(row[0])


# Refunds


async def reserve_refund(
    db: AsyncSession, vendor_id: uuid.UUID, order_id: uuid.UUID, amount: int
) -> bool:
    """Count ``amount`` as refunded in one conditional increment that cannot pass the order's
    total (the ``refund_bounded`` CHECK backs it)."""
    result = await db.execute(
        update(StoreOrder)
        .where(
            StoreOrder.id == order_id,
            StoreOrder.vendor_id == vendor_id,
            StoreOrder.refunded_amount + amount <= StoreOrder.total,
        )
        .values(refunded_amount=StoreOrder.refunded_amount + amount, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def refund_by_id(db: AsyncSession, refund_id: uuid.UUID) -> OrderRefund | None:
    return await db.get(OrderRefund, refund_id, populate_existing=True)


async def refund_by_provider_id(db: AsyncSession, provider_refund_id: str) -> OrderRefund | None:
    return (
        await db.execute(
            select(OrderRefund).where(OrderRefund.provider_refund_id == provider_refund_id)
        )
    ).scalar_one_or_none()


async def move_refund(
    db: AsyncSession,
    vendor_id: uuid.UUID,
    refund_id: uuid.UUID,
    *,
    from_statuses: Sequence[RefundStatus],
    to_status: RefundStatus,
    values: dict[str, object] | None = None,
) -> bool:
    result = await db.execute(
        update(OrderRefund)
        .where(
            OrderRefund.id == refund_id,
            OrderRefund.vendor_id == vendor_id,
            OrderRefund.status.in_([str(s) for s in from_statuses]),
        )
        .values(status=str(to_status), updated_at=utcnow(), **(values or {}))
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def refunds_in_flight(db: AsyncSession, before: datetime, limit: int) -> list[str]:
    """Provider ids of refunds the provider accepted before ``before`` and has not finished."""
    found = await db.scalars(
        select(OrderRefund.provider_refund_id)
        .where(
            OrderRefund.status == str(RefundStatus.processing),
            OrderRefund.provider_refund_id.is_not(None),
            OrderRefund.updated_at < before,
        )
        .order_by(OrderRefund.updated_at)
        .limit(limit)
    )
    return [str(provider_id) for provider_id in found]
