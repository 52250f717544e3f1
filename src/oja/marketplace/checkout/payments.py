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

* ``billing.payment.failed`` — the provider verified the group's *current* attempt ``failed``: the
  group stays ``awaiting_payment`` (its stock still reserved) with ``failure_reason``; the buyer
  pays again with ``POST /order-groups/{id}/pay`` (:func:`oja.marketplace.checkout.service.pay_again`),
  which opens a new transaction under a new reference — a reference is never reused — and the
  reservation expiry still cancels the group if nobody pays.

A replayed webhook changes nothing: billing's moves are conditional (no second event), and so is
every group move here (``WHERE status = :from``).

**Earlier attempts.** A group's ``payment_reference`` is its current attempt; an earlier one is
found through the payment's own metadata (``order_group_id``, written by Oja, never by the
provider) and only for the same buyer. A failed transaction may still be verified ``success``
later: if the group is still unpaid, that attempt pays it and becomes its ``payment_reference``
(so the ledger books that payment, once). A second attempt verified after the group was paid
changes nothing here (``paid_twice``, logged): that money stands credited in billing for an
operator to refund.

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
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from oja.billing.service import PAYMENT_FAILED, PAYMENT_FLAGGED, PAYMENT_SUCCEEDED
from oja.core import events
from oja.core.clock import utcnow
from oja.core.db import current_session
from oja.marketplace.checkout import repository
from oja.marketplace.inventory import repository as inventory_repository
from oja.marketplace.orders import repository as orders_repository
from oja.marketplace.orders import transitions
from oja.marketplace.orders.models import (
    GroupStatus,
    OrderGroup,
    OrderLine,
    OrderStatus,
    StoreOrder,
)

log = structlog.get_logger("oja.marketplace.checkout")
PAID_NOTE = "payment verified"
EXPIRED_NOTE = "reservation expired"
EXPIRED_REASON = "reservation_expired"
PAID_AFTER_EXPIRY = "paid_after_expiry"


@events.on(PAYMENT_SUCCEEDED)
async def on_payment_succeeded(
    *,
    reference: str,
    amount: int,
    currency: str,
    user_id: uuid.UUID | None = None,
    metadata: dict[str, Any] | None = None,
    **_: Any,
) -> None:
    await confirm_payment(
        current_session(),
        reference,
        amount=amount,
        currency=currency,
        attempt_of=_attempt_of(user_id, metadata),
    )


@events.on(PAYMENT_FLAGGED)
async def on_payment_flagged(
    *,
    reference: str,
    reason: str,
    verified_amount: int,
    verified_currency: str,
    user_id: uuid.UUID | None = None,
    metadata: dict[str, Any] | None = None,
    **_: Any,
) -> None:
    group = await _group_paid_by(current_session(), reference, _attempt_of(user_id, metadata))
    if group is not None:
        await _flag(
            current_session(),
            group,
            f"{reason}: the provider verified {verified_amount} {verified_currency}, "
            f"the group is {group.total} {group.currency}",
        )


@events.on(PAYMENT_FAILED)
async def on_payment_failed(*, reference: str, reason: str, **_: Any) -> None:
    """Only the current attempt counts: a failure of an attempt the buyer already replaced says
    nothing. The buyer is told once (``payment.failed``, the notification catalogue's)."""
    noted = await repository.record_failure(current_session(), reference, reason)
    if noted is None:
        return
    group_id, buyer_id, total, currency = noted
    log.info("marketplace.checkout.payment_failed", group_id=str(group_id), reason=reason)
    await events.emit(
        "payment.failed",
        order_id=group_id,
        group_id=group_id,
        buyer_id=buyer_id,
        order_number=str(group_id),
        amount=total,
        currency=currency,
        reason=reason,
        recipient_ids=[buyer_id],
    )


Attempt = tuple[uuid.UUID, uuid.UUID]
"""(buyer, order group) a payment was opened for, from the payment's own metadata."""


def _attempt_of(user_id: uuid.UUID | None, metadata: dict[str, Any] | None) -> Attempt | None:
    raw = (metadata or {}).get("order_group_id")
    if user_id is None or not isinstance(raw, str):
        return None
    try:
        return user_id, uuid.UUID(raw)
    except ValueError:
        return None


async def _group_paid_by(
    db: AsyncSession, reference: str, attempt_of: Attempt | None
) -> OrderGroup | None:
    """The group ``reference`` is the current attempt of, else the buyer's group it was an
    earlier attempt of."""
    group = await repository.group_by_reference(db, reference)
    if group is None and attempt_of is not None:
        buyer_id, group_id = attempt_of
        group = await orders_repository.buyer_group(db, buyer_id, group_id)
    return group


async def confirm_payment(
    db: AsyncSession,
    reference: str,
    *,
    amount: int,
    currency: str,
    attempt_of: Attempt | None = None,
) -> str:
    """Apply a verified payment to its group; the outcome (``paid``, ``flagged``,
    ``paid_after_expiry``, ``paid_twice``, ``unchanged``, or ``not_an_order`` for other
    payments)."""
    group = await _group_paid_by(db, reference, attempt_of)
    if group is None:
        return "not_an_order"
    if amount != group.total or currency.upper() != group.currency:
        await _flag(
            db,
            group,
            f"amount_mismatch: paid {amount} {currency}, due {group.total} {group.currency}",
        )
        return "flagged"
    now = utcnow()
    paid_values = {
        "paid_at": now,
        "payment_reference": reference,
        "failure_reason": None,
        "updated_at": now,
    }
    paid = await repository.move_group(
        db,
        group.id,
        from_status=GroupStatus.awaiting_payment,
        to_status=GroupStatus.paid,
        values=paid_values,
    )
    if paid:
        for key, value in {"status": str(GroupStatus.paid), **paid_values}.items():
            set_committed_value(group, key, value)  # the row as the UPDATE left it
        orders = await repository.group_orders(db, group.id)
        # Read once for the whole group: each order's ``order.confirmed`` handlers (search
        # sales, purchases) and the ledger's booking take these instead of reading per order.
        lines = await repository.group_lines(db, orders) if orders else []
        orders_repository.hand_lines(db, orders, lines)
        confirming = [order for order in orders if order.status == OrderStatus.pending]
        await orders_repository.read_staff(db, {order.vendor_id for order in confirming})
        for order in confirming:
            await transitions.move(db, order, OrderStatus.confirmed, actor_id=None, note=PAID_NOTE)
        db.info.setdefault(_JUST_PAID, {})[reference] = (
            db.sync_session.get_transaction(),
            group,
            orders,
            lines,
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
    if group.payment_reference != reference:
        log.warning(
            "marketplace.checkout.paid_twice",
            group_id=str(group.id),
            reference=reference,
            paid_by=group.payment_reference,
        )
        return "paid_twice"
    return "unchanged"


_JUST_PAID = "oja.marketplace.just_paid"
"""``session.info`` key: reference → (transaction, group, its store orders, their lines) this
session's confirmation moved to ``paid``, for the ledger's handler of the same event
(:func:`just_paid`)."""


def just_paid(
    db: AsyncSession, reference: str
) -> tuple[OrderGroup, Sequence[StoreOrder], Sequence[OrderLine]] | None:
    """The group (status ``paid``, as written), its store orders and their lines that
    :func:`confirm_payment` just paid with ``reference`` in this session's current transaction,
    handed over once: the ledger books them without reading them again. None otherwise (then
    read the rows)."""
    pending = db.info.get(_JUST_PAID)
    handed = pending.pop(reference, None) if pending else None
    if handed is None or handed[0] is not db.sync_session.get_transaction():
        return None  # paid in a transaction that has ended (committed or rolled back)
    return handed[1], handed[2], handed[3]


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
