"""SQL for billing: lookups, conflict-tolerant inserts and the conditional UPDATEs of the state machine."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oja.billing.models import (
    BillingCustomer,
    LedgerEntry,
    Payment,
    Refund,
    Subscription,
    WebhookEvent,
)
from oja.billing.states import SUBSCRIPTION_ENTITLED, sources_of
from oja.core.clock import utcnow
from oja.core.db import insert_ignore
from oja.core.ids import uuid7

# The webhook job's conditional UPDATEs are Core statements on the tables: they never read rows
# back into the session (``synchronize_session=False`` before), so the ORM's bulk-update
# machinery (its compile state, the entity's attribute lookups) was CPU per payment for nothing.
_PAYMENT: Table = Payment.__table__  # type: ignore[assignment]
_WEBHOOK_EVENT: Table = WebhookEvent.__table__  # type: ignore[assignment]


async def insert_ignoring_conflict(
    session: AsyncSession, table: Table, values: dict[str, Any], returning: Any
) -> Any:
    """:func:`~oja.core.db.insert_ignore` RETURNING ``returning``: the value, or None on a conflict."""
    statement = insert_ignore(session, table).values(**values).returning(returning)
    return (await session.execute(statement)).scalar_one_or_none()


# Payments


async def payment_by_reference(session: AsyncSession, reference: str) -> Payment | None:
    return (
        await session.execute(select(Payment).where(Payment.reference == reference))
    ).scalar_one_or_none()


async def payment_by_key(
    session: AsyncSession, user_id: uuid.UUID, idempotency_key: str
) -> Payment | None:
    return (
        await session.execute(
            select(Payment).where(
                Payment.user_id == user_id, Payment.idempotency_key == idempotency_key
            )
        )
    ).scalar_one_or_none()


async def move_payment(
    session: AsyncSession,
    payment_id: uuid.UUID,
    target: str,
    *,
    paid_at: datetime | None,
    gateway_response: str | None,
    channel: str | None,
) -> bool:
    """Move the payment to ``target`` if that raises its status (and it is not flagged)."""
    now = utcnow()
    values: dict[str, Any] = {"status": target, "verified_at": now, "updated_at": now}
    if paid_at is not None:
        values["paid_at"] = paid_at
    if gateway_response is not None:
        values["gateway_response"] = gateway_response
    if channel is not None:
        values["channel"] = channel
    payment = _PAYMENT.c
    result = await session.execute(
        update(_PAYMENT)
        .where(
            payment.id == payment_id,
            payment.status.in_(sources_of(target)),
            payment.flag.is_(None),
        )
        .values(**values)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def flag_payment(session: AsyncSession, payment_id: uuid.UUID, flag: str) -> bool:
    now = utcnow()
    payment = _PAYMENT.c
    result = await session.execute(
        update(_PAYMENT)
        .where(payment.id == payment_id, payment.status != "success", payment.flag.is_(None))
        .values(flag=flag, verified_at=now, updated_at=now)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def touch_verified(session: AsyncSession, payment_id: uuid.UUID) -> None:
    await session.execute(
        update(_PAYMENT).where(_PAYMENT.c.id == payment_id).values(verified_at=utcnow())
    )


async def reserve_refund_amount(session: AsyncSession, payment_id: uuid.UUID, amount: int) -> bool:
    """Add ``amount`` to what is refunded only if the total stays within what was paid."""
    result = await session.execute(
        update(Payment)
        .where(
            Payment.id == payment_id,
            Payment.status == "success",
            Payment.amount_refunded + amount <= Payment.amount,
        )
        .values(amount_refunded=Payment.amount_refunded + amount, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def release_refund_amount(session: AsyncSession, payment_id: uuid.UUID, amount: int) -> None:
    await session.execute(
        update(Payment)
        .where(Payment.id == payment_id, Payment.amount_refunded >= amount)
        .values(amount_refunded=Payment.amount_refunded - amount, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def stale_pending_payments(
    session: AsyncSession, older_than: datetime, limit: int
) -> list[str]:
    rows = await session.execute(
        select(Payment.reference)
        .where(
            Payment.status.in_(("pending", "abandoned")),
            Payment.flag.is_(None),
            Payment.created_at < older_than,
            func.coalesce(Payment.verified_at, Payment.created_at) < older_than,
        )
        .order_by(Payment.created_at)
        .limit(limit)
    )
    return [r for (r,) in rows]


# Refunds


async def refund_by_key(
    session: AsyncSession, user_id: uuid.UUID, idempotency_key: str
) -> Refund | None:
    return (
        await session.execute(
            select(Refund).where(
                Refund.user_id == user_id, Refund.idempotency_key == idempotency_key
            )
        )
    ).scalar_one_or_none()


async def refund_by_provider_id(session: AsyncSession, provider_refund_id: str) -> Refund | None:
    return (
        await session.execute(select(Refund).where(Refund.provider_refund_id == provider_refund_id))
    ).scalar_one_or_none()


async def move_refund(session: AsyncSession, refund_id: uuid.UUID, target: str) -> bool:
    """``pending|processing → processed|failed``; final statuses never change."""
    result = await session.execute(
        update(Refund)
        .where(Refund.id == refund_id, Refund.status.in_(("pending", "processing")))
        .values(status=target, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


# Ledger


async def credit(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    source: str,
    kind: str,
    amount: int,
    currency: str,
) -> bool:
    """Record value once per ``source``; False when it was already recorded."""
    inserted = await insert_ignoring_conflict(
        session,
        LedgerEntry.__table__,  # type: ignore[arg-type]
        {
            "id": uuid7(),
            "user_id": user_id,
            "source": source,
            "kind": kind,
            "amount": amount,
            "currency": currency,
            "created_at": utcnow(),
        },
        LedgerEntry.id,
    )
    return inserted is not None


# Webhook inbox


async def store_event(
    session: AsyncSession, *, provider: str, event_id: str, event_type: str, payload: dict[str, Any]
) -> uuid.UUID | None:
    """The new inbox row's id, or None when ``(provider, event_id)`` was already received."""
    inserted = await insert_ignoring_conflict(
        session,
        WebhookEvent.__table__,  # type: ignore[arg-type]
        {
            "id": uuid7(),
            "provider": provider,
            "event_id": event_id,
            "event_type": event_type[:100],
            "payload": payload,
            "status": "received",
            "received_at": utcnow(),
        },
        WebhookEvent.id,
    )
    return None if inserted is None else uuid.UUID(str(inserted))


async def finish_event(
    session: AsyncSession, event_id: uuid.UUID, status: str, outcome: str
) -> None:
    event = _WEBHOOK_EVENT.c
    await session.execute(
        update(_WEBHOOK_EVENT)
        .where(event.id == event_id, event.status == "received")
        .values(status=status, outcome=outcome[:200], processed_at=utcnow())
    )


# Stripe customers and subscriptions


async def customer_of(session: AsyncSession, user_id: uuid.UUID) -> BillingCustomer | None:
    return await session.get(BillingCustomer, user_id)


async def user_of_customer(session: AsyncSession, stripe_customer_id: str) -> uuid.UUID | None:
    return (
        await session.execute(
            select(BillingCustomer.user_id).where(
                BillingCustomer.stripe_customer_id == stripe_customer_id
            )
        )
    ).scalar_one_or_none()


async def subscription_by_provider_id(
    session: AsyncSession, provider_subscription_id: str, *, lock: bool = False
) -> Subscription | None:
    query = select(Subscription).where(
        Subscription.provider_subscription_id == provider_subscription_id
    )
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def latest_subscription(session: AsyncSession, user_id: uuid.UUID) -> Subscription | None:
    """The user's entitled subscription if any, else the most recently updated one."""
    rows = (
        await session.execute(
            select(Subscription)
            .where(Subscription.user_id == user_id)
            .order_by(Subscription.updated_at.desc())
        )
    ).scalars()
    found = list(rows)
    for row in found:
        if row.status in SUBSCRIPTION_ENTITLED:
            return row
    return found[0] if found else None


async def subscriptions_to_sync(session: AsyncSession, limit: int) -> list[str]:
    rows = await session.execute(
        select(Subscription.provider_subscription_id)
        .where(Subscription.status.not_in(("canceled", "incomplete_expired")))
        .order_by(Subscription.synced_at.asc().nulls_first())
        .limit(limit)
    )
    return [r for (r,) in rows]
