"""Returns: a buyer asks to send back delivered lines; the store approves or rejects, then
receives the goods (restocking them or not), which refunds the buyer.

Status ``requested → approved | rejected``, ``approved → received``, each a conditional UPDATE; a
replayed decision changes nothing. Units being returned are counted on the order line
(``returned_quantity``) by one conditional increment bounded by what was bought, so two
concurrent requests can never return more than was bought; a rejection gives the units back.
A line's refund share is ``line_total × units / quantity`` taken cumulatively (the last unit takes
the remainder), so returning every unit refunds exactly the line's total. When every unit of the
order has come back (received), the order moves ``delivered → returned``.

Events (``recipient_ids``: the buyer and the store's members): ``return.requested``,
``return.approved``, ``return.rejected``, ``return.received`` with ``return_id``, ``order_id``,
``vendor_id``, ``buyer_id``, ``amount``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from oja.core import events
from oja.core.clock import utcnow
from oja.core.pagination import Page, PageParams
from oja.marketplace.config import MarketplaceSettings
from oja.marketplace.errors import (
    InvalidOrderTransition,
    InvalidReturnTransition,
    OrderLineNotFound,
    ReturnNotFound,
    ReturnQuantityExceeded,
    ReturnWindowClosed,
)
from oja.marketplace.orders import repository, service, transitions
from oja.marketplace.orders.models import (
    OrderStatus,
    RefundSource,
    ReturnLine,
    ReturnRequest,
    ReturnStatus,
    StoreOrder,
)
from oja.marketplace.orders.schemas import ReceiveRequest, ReturnCreate, ReturnOut
from oja.marketplace.vendors.service import VendorContext

log = structlog.get_logger("oja.marketplace.orders")

RECEIVED_STOCK_REASON = "return_received"


async def _announce(
    db: AsyncSession, name: str, request: ReturnRequest, lines: list[ReturnLine]
) -> None:
    await events.emit(
        f"return.{name}",
        return_id=request.id,
        order_id=request.order_id,
        vendor_id=request.vendor_id,
        buyer_id=request.buyer_id,
        amount=sum(line.amount for line in lines),
        recipient_ids=[request.buyer_id, *await repository.staff_ids(db, request.vendor_id)],
    )


async def request_return(
    db: AsyncSession, order: StoreOrder, body: ReturnCreate, settings: MarketplaceSettings
) -> ReturnOut:
    if order.status != OrderStatus.delivered or order.delivered_at is None:
        raise InvalidOrderTransition(
            f"Only a delivered order can be returned; this one is {order.status}.",
            details={"status": order.status},
        )
    closes = order.delivered_at + timedelta(days=settings.return_window_days)
    if utcnow() > closes:
        raise ReturnWindowClosed(
            f"Returns closed {settings.return_window_days} days after delivery.",
            details={
                "delivered_at": order.delivered_at.isoformat(),
                "closed_at": closes.isoformat(),
            },
        )
    bought = {line.id for line in await repository.lines(db, order.vendor_id, order.id)}
    request = ReturnRequest(
        vendor_id=order.vendor_id,
        order_id=order.id,
        buyer_id=order.buyer_id,
        reason=body.reason,
        photos=[str(p) for p in body.photos],
    )
    db.add(request)
    await db.flush()
    lines = []
    for wanted in body.lines:
        if wanted.order_line_id not in bought:
            raise OrderLineNotFound(
                "This line is not part of the order.",
                details={"order_line_id": str(wanted.order_line_id)},
            )
        claimed = await repository.claim_return_units(
            db, order.vendor_id, order.id, wanted.order_line_id, wanted.quantity
        )
        if claimed is None:
            raise ReturnQuantityExceeded(
                "More units than were bought, counting those already being returned.",
                details={"order_line_id": str(wanted.order_line_id), "quantity": wanted.quantity},
            )
        returned, quantity, line_total = claimed
        share = (
            line_total * returned // quantity
            - line_total * (returned - wanted.quantity) // quantity
        )
        lines.append(
            ReturnLine(
                vendor_id=order.vendor_id,
                return_id=request.id,
                order_line_id=wanted.order_line_id,
                quantity=wanted.quantity,
                amount=share,
            )
        )
    db.add_all(lines)
    await db.flush()
    await _announce(db, "requested", request, lines)
    log.info("marketplace.return.requested", return_id=str(request.id), order_id=str(order.id))
    return ReturnOut.build(request, lines)


async def vendor_returns(
    db: AsyncSession, ctx: VendorContext, status: ReturnStatus | None, paging: PageParams
) -> Page[ReturnOut]:
    found, total = await repository.vendor_returns(db, ctx.vendor_id, status, paging)
    by_return = await repository.return_lines(db, ctx.vendor_id, [r.id for r in found])
    items = [ReturnOut.build(r, by_return[r.id]) for r in found]
    return Page[ReturnOut].of(items, total=total, params=paging)


async def _decide(
    db: AsyncSession,
    ctx: VendorContext,
    return_id: uuid.UUID,
    *,
    from_status: ReturnStatus,
    to_status: ReturnStatus,
    values: dict[str, object],
) -> tuple[ReturnRequest, list[ReturnLine], bool]:
    """Move the return; ``moved`` is False for a replay (it already is ``to_status``)."""
    request = await repository.return_request(db, ctx.vendor_id, return_id)
    if request is None:
        raise ReturnNotFound("No such return in your store.")
    moved = False
    if request.status != to_status:
        moved = await repository.move_return(
            db,
            ctx.vendor_id,
            return_id,
            from_status=from_status,
            to_status=to_status,
            values=values,
        )
        await repository.reload_return(db, request)
        if not moved and request.status != to_status:
            raise InvalidReturnTransition(
                f"A {request.status} return cannot become {to_status}.",
                details={"status": request.status, "to": str(to_status)},
            )
    lines = (await repository.return_lines(db, ctx.vendor_id, [request.id]))[request.id]
    return request, lines, moved


async def decide(
    db: AsyncSession,
    ctx: VendorContext,
    return_id: uuid.UUID,
    decision: ReturnStatus,
    note: str | None,
) -> ReturnOut:
    """``requested → approved | rejected``; a rejection gives the units back to be asked again."""
    assert decision in (ReturnStatus.approved, ReturnStatus.rejected)
    request, lines, moved = await _decide(
        db,
        ctx,
        return_id,
        from_status=ReturnStatus.requested,
        to_status=decision,
        values={"decision_note": note, "decided_at": utcnow()},
    )
    if moved:
        if decision == ReturnStatus.rejected:
            for line in lines:
                await repository.release_return_units(
                    db, ctx.vendor_id, line.order_line_id, line.quantity
                )
        await _announce(db, str(decision), request, lines)
    return ReturnOut.build(request, lines)


async def receive(
    db: AsyncSession, ctx: VendorContext, return_id: uuid.UUID, body: ReceiveRequest
) -> ReturnOut:
    request, lines, moved = await _decide(
        db,
        ctx,
        return_id,
        from_status=ReturnStatus.approved,
        to_status=ReturnStatus.received,
        values={"received_at": utcnow()},
    )
    if not moved:
        return ReturnOut.build(request, lines)
    restocks = {line.order_line_id: line.restock for line in body.lines}
    sold = {line.id: line for line in await repository.lines(db, ctx.vendor_id, request.order_id)}
    for line in lines:
        restock = restocks.get(line.order_line_id, True)
        await repository.mark_restock(db, ctx.vendor_id, line.id, restock)
        set_committed_value(line, "restock", restock)  # written above, scoped
        if restock:
            await service.restock(
                db,
                sold[line.order_line_id],
                line.quantity,
                actor_id=ctx.user_id,
                reason=RECEIVED_STOCK_REASON,
            )
    order = await repository.store_order(db, ctx.vendor_id, request.order_id)
    assert order is not None
    group = await repository.group(db, order.group_id)
    assert group is not None
    await service.refund(
        db,
        order,
        group,
        source=RefundSource.return_,
        source_id=request.id,
        amount=sum(line.amount for line in lines),
    )
    received = await repository.received_units(db, ctx.vendor_id, order.id)
    if all(received.get(line_id, 0) >= line.quantity for line_id, line in sold.items()):
        await transitions.move(
            db, order, OrderStatus.returned, actor_id=ctx.user_id, note=body.note
        )
    await _announce(db, "received", request, lines)
    return ReturnOut.build(request, lines)
