"""The marketplace side of payment confirmation, and reservation expiry.

Billing verifies every Paystack transaction itself (webhook inbox → Verify Transaction →
:func:`oja.billing.service.apply_verification`) and says what it found through two in-process
events, each emitted once per payment in the verifying unit of work (billing never imports the
marketplace):

* ``billing.payment.succeeded`` — the provider confirmed our exact amount and currency. The group
  paying with that reference, if still ``awaiting_payment`` and of that same total and currency,
  becomes ``paid``, and each of its ``pending`` store orders ``confirmed`` through
  :func:`oja.marketplace.orders.transitions.move` (actor none, note "payment verified").
* ``billing.payment.flagged`` — the provider reported another amount or currency: the group
  becomes ``flagged`` with the reason; nothing is confirmed.

A replayed webhook changes nothing: billing's moves are conditional (no second event), and so is
every group move here (``WHERE status = :from``).

**Paid after expiry.** An unpaid group past ``expires_at`` is expired by a periodic job: its orders
canceled through ``move()`` (note "reservation expired"), their stock returned (a conditional
increment, movement reason ``reservation_expired``), its discount uses given back. A payment
verified afterwards does not resurrect it: the stock went back on sale and may be sold already, so
confirming would promise goods the stores may not have. The group becomes ``flagged`` with
``flag_reason = "paid_after_expiry"`` and the orders stay canceled; an operator refunds the buyer
(the billing payment stands credited, so the refund path is billing's). Payment and expiry race
only through the group's conditional UPDATE: exactly one of them moves it out of
``awaiting_payment``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.billing.service import PAYMENT_FLAGGED, PAYMENT_SUCCEEDED
from oja.core import events
from oja.core.clock import utcnow
from oja.core.db import current_session
from oja.marketplace.checkout import repository
from oja.marketplace.inventory import repository as inventory_repository
from oja.marketplace.orders import transitions
from oja.marketplace.orders.models import GroupStatus, OrderGroup, OrderStatus

log = structlog.get_logger("oja.marketplace.checkout")
PAID_NOTE = "payment verified"
EXPIRED_NOTE = "reservation expired"
EXPIRED_REASON = "reservation_expired"
PAID_AFTER_EXPIRY = "paid_after_expiry"


@events.on(PAYMENT_SUCCEEDED)
async def on_payment_succeeded(*, reference: str, amount: int, currency: str, **_: Any) -> None:
    await confirm_payment(current_session(), reference, amount=amount, currency=currency)


@events.on(PAYMENT_FLAGGED)
async def on_payment_flagged(
    *, reference: str, reason: str, verified_amount: int, verified_currency: str, **_: Any
) -> None:
    group = await repository.group_by_reference(current_session(), reference)
    if group is not None:
        await _flag(
            current_session(),
            group,
            f"{reason}: the provider verified {verified_amount} {verified_currency}, "
            f"the group is {group.total} {group.currency}",
        )


async def confirm_payment(db: AsyncSession, reference: str, *, amount: int, currency: str) -> str:
    """Apply a verified payment to its group; the outcome (``paid``, ``flagged``,
    ``paid_after_expiry``, ``unchanged``, or ``not_an_order`` for other payments)."""
    group = await repository.group_by_reference(db, reference)
    if group is None:
        return "not_an_order"
    if amount != group.total or currency.upper() != group.currency:
        await _flag(
            db,
            group,
            f"amount_mismatch: paid {amount} {currency}, due {group.total} {group.currency}",
        )
        return "flagged"
    paid = await repository.move_group(
        db,
        group.id,
        from_status=GroupStatus.awaiting_payment,
        to_status=GroupStatus.paid,
        values={"paid_at": utcnow()},
    )
    if paid:
        for order in await repository.group_orders(db, group.id):
            if order.status == OrderStatus.pending:
                await transitions.move(
                    db, order, OrderStatus.confirmed, actor_id=None, note=PAID_NOTE
                )
        log.info("marketplace.checkout.paid", group_id=str(group.id), total=group.total)
        return "paid"
    if await repository.move_group(
        db,
        group.id,
        from_status=GroupStatus.expired,
        to_status=GroupStatus.flagged,
        values={"flag_reason": PAID_AFTER_EXPIRY},
    ):
        log.warning("marketplace.checkout.paid_after_expiry", group_id=str(group.id))
        return PAID_AFTER_EXPIRY
    return "unchanged"


async def _flag(db: AsyncSession, group: OrderGroup, reason: str) -> None:
    if await repository.move_group(
        db,
        group.id,
        from_status=GroupStatus.awaiting_payment,
        to_status=GroupStatus.flagged,
        values={"flag_reason": reason[:500]},
    ):
        log.warning("marketplace.checkout.flagged", group_id=str(group.id), reason=reason)


async def expire_due(db: AsyncSession, now: datetime, limit: int) -> int:
    """Expire up to ``limit`` unpaid groups past their ``expires_at``; how many were expired."""
    expired = 0
    for group_id in await repository.due_groups(db, now, limit):
        expired += await expire_group(db, group_id, now)
    return expired


async def expire_group(db: AsyncSession, group_id: uuid.UUID, now: datetime) -> bool:
    """Expire one group (if still unpaid and due): orders canceled, stock back, discounts freed."""
    if not await repository.move_group(
        db,
        group_id,
        from_status=GroupStatus.awaiting_payment,
        to_status=GroupStatus.expired,
        expired_by=now,
    ):
        return False
    orders = await repository.group_orders(db, group_id)
    canceled = [
        order
        for order in orders
        if await transitions.move(
            db,
            order,
            OrderStatus.canceled,
            actor_id=None,
            note=EXPIRED_NOTE,
            values={"cancel_reason": EXPIRED_NOTE},
        )
    ]
    returned: dict[uuid.UUID, tuple[uuid.UUID, int]] = {}
    quantities: dict[uuid.UUID, int] = defaultdict(int)
    for line in await repository.group_lines(db, canceled) if canceled else ():
        if line.variant_id is not None:  # a deleted variant has no stock to return
            quantities[line.variant_id] += line.quantity
            returned[line.variant_id] = (line.vendor_id, quantities[line.variant_id])
    after = await repository.move_stock(db, returned, sign=+1)
    for variant_id, stock in after.items():
        vendor_id, quantity = returned[variant_id]
        inventory_repository.record_movement(
            db,
            vendor_id=vendor_id,
            variant_id=variant_id,
            actor_id=None,
            reason=EXPIRED_REASON,
            before=stock - quantity,
            after=stock,
        )
    await repository.release_discounts(db, group_id)
    log.info("marketplace.checkout.expired", group_id=str(group_id), orders=len(canceled))
    return True
