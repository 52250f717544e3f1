"""Automated refunds: what a cancellation or a received return pays back, and issuing it.

The rule: a refund pays back exactly what the buyer paid for the lines concerned (their
``line_total`` share; a whole order's ``total`` for a cancellation), and never more than the store
order's total across all its refunds — ``refunded_amount`` grows by one conditional increment
bounded by ``total`` (a CHECK backs it). One :class:`OrderRefund` per source (``cancellation`` +
order id, ``return`` + return id), so a replayed request or a rerun job pays once.

The refund job (:func:`issue`) asks billing for a refund of the group's payment keyed by the
refund's id: billing finds a provider refund a crashed run made but did not record, so a worker
killed mid-job and the job rerun still make exactly one provider refund. Billing's
``billing.refund.processed`` (its refund webhook or a verify) marks the refund ``processed`` once
and raises ``refund.processed`` for the buyer and the store.
"""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.billing import service as billing
from oja.billing.config import BillingSettings
from oja.billing.errors import PaymentNotFound, RefundFailed, RefundNotAllowed
from oja.core import events
from oja.core.clock import utcnow
from oja.marketplace.orders import repository
from oja.marketplace.orders.models import (
    GroupStatus,
    OrderGroup,
    OrderRefund,
    RefundSource,
    RefundStatus,
    StoreOrder,
)

log = structlog.get_logger("oja.marketplace.orders")

REFUND_PROCESSED = "refund.processed"


def request_id(refund_id: uuid.UUID) -> str:
    """The key billing and the provider (``merchant_note``) know this refund by."""
    return f"oja-order-refund:{refund_id}"


async def create(
    db: AsyncSession,
    order: StoreOrder,
    group: OrderGroup,
    *,
    source: RefundSource,
    source_id: uuid.UUID,
    amount: int,
) -> OrderRefund | None:
    """Record a refund of ``amount`` (capped to what is left unrefunded) for a paid group; None
    when nothing was paid or nothing is left. The caller enqueues its job."""
    if group.status != GroupStatus.paid or not group.payment_reference:
        return None
    await repository.reload_order(db, order)
    amount = min(amount, order.total - order.refunded_amount)
    if amount <= 0 or not await repository.reserve_refund(db, order.vendor_id, order.id, amount):
        return None
    refund = OrderRefund(
        vendor_id=order.vendor_id,
        order_id=order.id,
        group_id=group.id,
        source=str(source),
        source_id=source_id,
        amount=amount,
        currency=order.currency,
        provider=group.provider,
    )
    db.add(refund)
    await db.flush()
    log.info(
        "marketplace.refund.created",
        refund_id=str(refund.id),
        order_id=str(order.id),
        source=str(source),
        amount=amount,
    )
    return refund


async def issue(db: AsyncSession, refund_id: uuid.UUID, settings: BillingSettings) -> str:
    """Have billing refund it through the provider; what happened (idempotent)."""
    refund = await repository.refund_by_id(db, refund_id)
    if refund is None:
        return "missing"
    if refund.status != RefundStatus.pending:
        return f"already_{refund.status}"
    group = await repository.group(db, refund.group_id)
    assert group is not None
    assert group.payment_reference is not None
    try:
        made = await billing.refund_by_reference(
            db,
            group.payment_reference,
            amount=refund.amount,
            request_id=request_id(refund.id),
            settings=settings,
        )
    except (RefundNotAllowed, RefundFailed, PaymentNotFound) as exc:
        await repository.move_refund(
            db,
            refund.vendor_id,
            refund.id,
            from_statuses=[RefundStatus.pending],
            to_status=RefundStatus.failed,
            values={"failure_reason": str(exc)[:500]},
        )
        log.warning("marketplace.refund.failed", refund_id=str(refund.id), error=str(exc))
        return "failed"
    await repository.move_refund(
        db,
        refund.vendor_id,
        refund.id,
        from_statuses=[RefundStatus.pending],
        to_status=RefundStatus.processing,
        values={"provider_refund_id": made.provider_refund_id},
    )
    if made.status == "processed":
        await processed(db, made.provider_refund_id or "")
    return "issued"


async def processed(db: AsyncSession, provider_refund_id: str) -> bool:
    """Billing says the provider finished the refund: mark it processed once and announce it."""
    refund = await repository.refund_by_provider_id(db, provider_refund_id)
    if refund is None:
        return False
    if not await repository.move_refund(
        db,
        refund.vendor_id,
        refund.id,
        from_statuses=[RefundStatus.pending, RefundStatus.processing],
        to_status=RefundStatus.processed,
        values={"processed_at": utcnow()},
    ):
        return False
    order = await repository.store_order(db, refund.vendor_id, refund.order_id)
    assert order is not None
    await events.emit(
        REFUND_PROCESSED,
        refund_id=refund.id,
        order_id=refund.order_id,
        group_id=refund.group_id,
        vendor_id=refund.vendor_id,
        source=refund.source,
        source_id=refund.source_id,
        amount=refund.amount,
        currency=refund.currency,
        recipient_ids=[order.buyer_id, *await repository.staff_ids(db, refund.vendor_id)],
    )
    log.info("marketplace.refund.processed", refund_id=str(refund.id), amount=refund.amount)
    return True


async def failed(db: AsyncSession, provider_refund_id: str) -> bool:
    refund = await repository.refund_by_provider_id(db, provider_refund_id)
    if refund is None:
        return False
    return await repository.move_refund(
        db,
        refund.vendor_id,
        refund.id,
        from_statuses=[RefundStatus.pending, RefundStatus.processing],
        to_status=RefundStatus.failed,
        values={"failure_reason": "The provider could not complete the refund."},
    )
