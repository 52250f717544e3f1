"""The one way a store order changes status.

:func:`move` checks the move against :data:`~oja.marketplace.orders.models.ORDER_TRANSITIONS`,
applies it as a conditional UPDATE, records it (who, when, from, to, note) and raises two events
in the caller's unit of work: ``order.updated`` (every change; realtime pushes it) and
``order.<status>`` (``order.confirmed``, ``order.shipped``, … — the notification service's). A
replayed move (the order is already in the target state) changes nothing and raises nothing.

Event payload: ``order_id``, ``group_id``, ``vendor_id``, ``buyer_id``, ``from_status``,
``status``, ``note``, and ``recipient_ids`` — the buyer and every member of the store.
"""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core import events
from oja.core.clock import utcnow
from oja.marketplace.errors import InvalidOrderTransition
from oja.marketplace.orders import repository
from oja.marketplace.orders.models import ORDER_TRANSITIONS, OrderStatus, StoreOrder

log = structlog.get_logger("oja.marketplace.orders")


def allowed(from_status: OrderStatus, to_status: OrderStatus) -> bool:
    return to_status in ORDER_TRANSITIONS[from_status]


async def move(
    db: AsyncSession,
    order: StoreOrder,
    to_status: OrderStatus,
    *,
    actor_id: uuid.UUID | None,
    note: str | None = None,
    values: dict[str, object] | None = None,
) -> bool:
    """Move ``order`` to ``to_status``; ``False`` when it already is there (a replay).

    ``values`` are further columns set by the same UPDATE (a carrier and tracking number, a
    cancellation reason). Raises :class:`InvalidOrderTransition` for a move the table forbids,
    including one lost to a concurrent move into another state.
    """
    current = OrderStatus(order.status)
    if current == to_status:
        return False
    if not allowed(current, to_status):
        raise InvalidOrderTransition(
            f"A {current} order cannot become {to_status}.",
            details={"status": str(current), "to": str(to_status)},
        )
    now = utcnow()
    if not await repository.move_status(
        db,
        order,
        from_status=current,
        to_status=to_status,
        at=now,
        values=values,
    ):
        await repository.reload_order(db, order)
        if OrderStatus(order.status) == to_status:
            return False  # a concurrent identical request won: the same outcome, once
        raise InvalidOrderTransition(
            f"The order became {order.status} meanwhile.",
            details={"status": order.status, "to": str(to_status)},
        )
    repository.record_transition(
        db,
        order.vendor_id,
        order.id,
        from_status=current,
        to_status=to_status,
        actor_id=actor_id,
        note=note,
        at=now,
    )
    payload = {
        "order_id": order.id,
        "group_id": order.group_id,
        "vendor_id": order.vendor_id,
        "buyer_id": order.buyer_id,
        "from_status": str(current),
        "status": str(to_status),
        "note": note,
        "recipient_ids": [order.buyer_id, *await repository.staff_ids(db, order.vendor_id)],
    }
    await events.emit("order.updated", **payload)
    await events.emit(f"order.{to_status}", **payload)
    log.info(
        "marketplace.order.moved",
        order_id=str(order.id),
        vendor_id=str(order.vendor_id),
        from_status=str(current),
        to_status=str(to_status),
    )
    return True
