"""The order lifecycle for buyers and stores: history, detail, and every status move.

Every move goes through :func:`oja.marketplace.orders.transitions.move` (the allowed-moves table,
a conditional UPDATE, a transition record, events). What a move brings with it happens only when
the move itself happened, so a replayed request changes nothing: a cancellation puts each line's
units back in stock (one conditional increment each, a ``stock_movement`` with reason
``order_canceled``) and, when the group was paid, records a refund of the order's total and
enqueues its job.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.pagination import Page, PageParams
from oja.marketplace.errors import OrderGroupNotFound, OrderNotFound
from oja.marketplace.inventory import repository as inventory
from oja.marketplace.orders import refunds, repository, transitions
from oja.marketplace.orders.jobs import issue_refund
from oja.marketplace.orders.models import (
    OrderGroup,
    OrderLine,
    OrderStatus,
    RefundSource,
    StoreOrder,
)
from oja.marketplace.orders.schemas import (
    OrderGroupOut,
    ReturnOut,
    ShipRequest,
    StoreOrderOut,
    StoreOrderSummary,
)
from oja.marketplace.vendors.service import VendorContext

log = structlog.get_logger("oja.marketplace.orders")

CANCELED_STOCK_REASON = "order_canceled"


# Reading


async def detail(db: AsyncSession, order: StoreOrder) -> StoreOrderOut:
    vendor_id, order_id = order.vendor_id, order.id
    requests = await repository.order_returns(db, vendor_id, order_id)
    by_return = await repository.return_lines(db, vendor_id, [r.id for r in requests])
    return StoreOrderOut.build(
        order,
        await repository.lines(db, vendor_id, order_id),
        await repository.transitions(db, vendor_id, order_id),
        await repository.refunds(db, vendor_id, order_id),
        [ReturnOut.build(r, by_return[r.id]) for r in requests],
    )


async def buyer_order(db: AsyncSession, buyer_id: uuid.UUID, order_id: uuid.UUID) -> StoreOrder:
    order = await repository.buyer_order(db, buyer_id, order_id)
    if order is None:
        raise OrderNotFound("No such order.")
    return order


async def vendor_order(db: AsyncSession, ctx: VendorContext, order_id: uuid.UUID) -> StoreOrder:
    order = await repository.store_order(db, ctx.vendor_id, order_id)
    if order is None:
        raise OrderNotFound("No such order in your store.")
    return order


async def history(
    db: AsyncSession, buyer_id: uuid.UUID, status: OrderStatus | None, paging: PageParams
) -> Page[OrderGroupOut]:
    groups, total = await repository.buyer_groups(db, buyer_id, status, paging)
    orders = await repository.group_orders(db, buyer_id, [g.id for g in groups])
    by_group: dict[uuid.UUID, list[StoreOrder]] = {g.id: [] for g in groups}
    for order in orders:
        by_group[order.group_id].append(order)
    items = [OrderGroupOut.build(g, by_group[g.id]) for g in groups]
    return Page[OrderGroupOut].of(items, total=total, params=paging)


_GROUP_FIELDS = tuple(name for name in OrderGroupOut.model_fields if name != "orders")
_ORDER_FIELDS = tuple(StoreOrderSummary.model_fields)
_SPLIT = len(_GROUP_FIELDS)


async def buyer_group(db: AsyncSession, buyer_id: uuid.UUID, group_id: uuid.UUID) -> OrderGroupOut:
    """One statement, plain columns: the group and its orders (no ORM entity loaded). Built with
    ``model_construct``: the values come typed from the database, and the route's
    ``response_model`` serialises them as :meth:`OrderGroupOut.build` would."""
    rows = await repository.buyer_group_rows(db, buyer_id, group_id, _GROUP_FIELDS, _ORDER_FIELDS)
    if not rows:
        raise OrderGroupNotFound("No such order group.")
    orders = [
        StoreOrderSummary.model_construct(**dict(zip(_ORDER_FIELDS, row[_SPLIT:], strict=True)))
        for row in rows
        if row[_SPLIT] is not None  # the outer join's row of a group without orders
    ]
    group = dict(zip(_GROUP_FIELDS, rows[0][:_SPLIT], strict=True))
    return OrderGroupOut.model_construct(**group, orders=orders)


async def vendor_orders(
    db: AsyncSession,
    ctx: VendorContext,
    *,
    status: OrderStatus | None,
    since: datetime | None,
    until: datetime | None,
    paging: PageParams,
) -> Page[StoreOrderSummary]:
    orders, total = await repository.vendor_orders(
        db, ctx.vendor_id, status=status, since=since, until=until, paging=paging
    )
    items = [StoreOrderSummary.model_validate(o) for o in orders]
    return Page[StoreOrderSummary].of(items, total=total, params=paging)


# Moving


async def confirm(db: AsyncSession, ctx: VendorContext, order_id: uuid.UUID) -> StoreOrderOut:
    order = await vendor_order(db, ctx, order_id)
    await transitions.move(db, order, OrderStatus.confirmed, actor_id=ctx.user_id)
    return await detail(db, order)


async def ship(
    db: AsyncSession, ctx: VendorContext, order_id: uuid.UUID, body: ShipRequest
) -> StoreOrderOut:
    order = await vendor_order(db, ctx, order_id)
    await transitions.move(
        db,
        order,
        OrderStatus.shipped,
        actor_id=ctx.user_id,
        note=body.note,
        values={"carrier": body.carrier, "tracking_number": body.tracking_number},
    )
    return await detail(db, order)


async def deliver(db: AsyncSession, ctx: VendorContext, order_id: uuid.UUID) -> StoreOrderOut:
    order = await vendor_order(db, ctx, order_id)
    await transitions.move(db, order, OrderStatus.delivered, actor_id=ctx.user_id)
    return await detail(db, order)


async def cancel(
    db: AsyncSession, order: StoreOrder, *, actor_id: uuid.UUID, reason: str | None
) -> StoreOrderOut:
    """Cancel before shipping: stock back, and a refund when the group was paid (once)."""
    moved = await transitions.move(
        db,
        order,
        OrderStatus.canceled,
        actor_id=actor_id,
        note=reason,
        values={"cancel_reason": reason},
    )
    if moved:
        for line in await repository.lines(db, order.vendor_id, order.id):
            await restock(db, line, line.quantity, actor_id=actor_id, reason=CANCELED_STOCK_REASON)
        group = await repository.group(db, order.group_id)
        assert group is not None
        await refund(
            db,
            order,
            group,
            source=RefundSource.cancellation,
            source_id=order.id,
            amount=order.total,
        )
    return await detail(db, order)


async def restock(
    db: AsyncSession, line: OrderLine, quantity: int, *, actor_id: uuid.UUID, reason: str
) -> None:
    """Put units of a sold line back in stock, recorded as a movement (a deleted variant: none)."""
    if line.variant_id is None or quantity <= 0:
        return
    after = await repository.add_stock(db, line.vendor_id, line.variant_id, quantity)
    if after is None:
        return
    inventory.record_movement(
        db,
        vendor_id=line.vendor_id,
        variant_id=line.variant_id,
        actor_id=actor_id,
        reason=reason,
        before=after - quantity,
        after=after,
    )


async def refund(
    db: AsyncSession,
    order: StoreOrder,
    group: OrderGroup,
    *,
    source: RefundSource,
    source_id: uuid.UUID,
    amount: int,
) -> None:
    created = await refunds.create(
        db, order, group, source=source, source_id=source_id, amount=amount
    )
    if created is not None:
        issue_refund.enqueue(db, refund_id=created.id)
