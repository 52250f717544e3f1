"""SQL for vendor plans and the store's set of distinct users. Every statement on the vendor-owned
tables filters on ``vendor_id``."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oja.billing.models import QuotaCounter
from oja.core.clock import utcnow
from oja.core.db import insert_ignore
from oja.core.ids import uuid7
from oja.marketplace.plans.models import StoreVisitor, SubscriptionStatus, VendorSubscription

USERS_METRIC = "store.users"
"""The quota metric counting a store's distinct users per plan period."""


def counter_subject(vendor_id: uuid.UUID) -> str:
    return f"vendor:{vendor_id}"


async def active_plans(db: AsyncSession, vendor_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The plan code of each store in ``vendor_ids`` with an active subscription (one statement)."""
    query = select(VendorSubscription.vendor_id, VendorSubscription.plan).where(
        VendorSubscription.vendor_id.in_(set(vendor_ids)),
        VendorSubscription.status == SubscriptionStatus.active,
    )
    return dict((await db.execute(query)).all())


async def counted_in(
    db: AsyncSession, periods: dict[uuid.UUID, datetime], user_id: uuid.UUID
) -> dict[uuid.UUID, int | None]:
    """The stores of ``periods`` (store → its period's start) that already count ``user_id``,
    each with the user's place in its admissions."""
    query = select(StoreVisitor.vendor_id, StoreVisitor.ordinal).where(
        or_(
            *(
                and_(StoreVisitor.vendor_id == vendor_id, StoreVisitor.period_start == start)
                for vendor_id, start in periods.items()
            )
        ),
        StoreVisitor.user_id == user_id,
    )
    return dict((await db.execute(query)).all())


async def add_visitor(
    db: AsyncSession, vendor_id: uuid.UUID, period_start: datetime, user_id: uuid.UUID
) -> bool:
    """Insert the user's first-seen row; False when it is already there (a concurrent request of
    the same user waits for the other's insert, then finds it)."""
    inserted = await db.execute(
        insert_ignore(db, StoreVisitor)
        .values(vendor_id=vendor_id, period_start=period_start, user_id=user_id)
        .returning(StoreVisitor.user_id)
    )
    return inserted.first() is not None


async def set_ordinal(
    db: AsyncSession, vendor_id: uuid.UUID, period_start: datetime, user_id: uuid.UUID, place: int
) -> None:
    await db.execute(
        update(StoreVisitor)
        .where(
            StoreVisitor.vendor_id == vendor_id,
            StoreVisitor.period_start == period_start,
            StoreVisitor.user_id == user_id,
        )
        .values(ordinal=place)
        .execution_options(synchronize_session=False)
    )


async def take_place(
    db: AsyncSession, vendor_id: uuid.UUID, period_start: datetime, limit: int | None
) -> int | None:
    """One more user in the store's counter if fewer than ``limit`` are counted: the new count,
    or None when full. One conditional UPDATE: the row lock it takes on PostgreSQL (and SQLite's
    single writer) make the check and the increment one step."""
    subject = counter_subject(vendor_id)
    await db.execute(
        insert_ignore(db, QuotaCounter).values(
            subject=subject, metric=USERS_METRIC, window_start=period_start, used=0
        )
    )
    statement = update(QuotaCounter).where(
        QuotaCounter.subject == subject,
        QuotaCounter.metric == USERS_METRIC,
        QuotaCounter.window_start == period_start,
    )
    if limit is not None:
        statement = statement.where(QuotaCounter.used < limit)
    result = await db.execute(
        statement.values(used=QuotaCounter.used + 1)
        .returning(QuotaCounter.used)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none()


async def counted(db: AsyncSession, vendor_id: uuid.UUID, period_start: datetime) -> int:
    query = select(QuotaCounter.used).where(
        QuotaCounter.subject == counter_subject(vendor_id),
        QuotaCounter.metric == USERS_METRIC,
        QuotaCounter.window_start == period_start,
    )
    return int((await db.execute(query)).scalar_one_or_none() or 0)


async def subscription_of(
    db: AsyncSession, vendor_id: uuid.UUID, *, lock: bool = False
) -> VendorSubscription | None:
    query = select(VendorSubscription).where(VendorSubscription.vendor_id == vendor_id)
    if lock:
        query = query.with_for_update()
    return (await db.scalars(query)).one_or_none()


async def _insert_row(db: AsyncSession, vendor_id: uuid.UUID, plan: str) -> None:
    """The store's row on the free tier (``canceled``) unless it has one already."""
    await db.execute(
        insert_ignore(db, VendorSubscription).values(
            id=uuid7(),
            vendor_id=vendor_id,
            plan=plan,
            status=SubscriptionStatus.canceled,
            cancel_at_period_end=False,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
    )


async def subscription_for_update(db: AsyncSession, vendor_id: uuid.UUID) -> VendorSubscription:
    """The store's row, locked; a store without one gets one on the free tier first (inserted
    with ``ON CONFLICT DO NOTHING``: two operators at once lock the same row)."""
    await _insert_row(db, vendor_id, "free")
    found = await subscription_of(db, vendor_id, lock=True)
    assert found is not None
    return found


async def store_of_subscription(db: AsyncSession, code: str) -> uuid.UUID | None:
    """Tenant resolution for a provider event: the store whose current or pending Paystack
    subscription is ``code``."""
    query = select(VendorSubscription.vendor_id).where(
        or_(
            VendorSubscription.subscription_code == code,
            VendorSubscription.pending_subscription_code == code,
        )
    )
    return (await db.scalars(query)).first()


async def store_of_customer(db: AsyncSession, email: str) -> uuid.UUID | None:
    """Tenant resolution for a new Paystack subscription: the store that checked out with
    ``email``."""
    query = select(VendorSubscription.vendor_id).where(
        VendorSubscription.customer_email == email.lower()
    )
    return (await db.scalars(query)).first()


async def claim(db: AsyncSession, vendor_id: uuid.UUID, plan: str, email: str) -> None:
    """Remember the email a store checks out with (its Paystack customer); a store without a row
    gets one on the free tier (``canceled``) until Paystack confirms the subscription."""
    await _insert_row(db, vendor_id, plan)
    await db.execute(
        update(VendorSubscription)
        .where(VendorSubscription.vendor_id == vendor_id)
        .values(customer_email=email.lower(), updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def due(db: AsyncSession, vendor_ids: Collection[uuid.UUID]) -> list[VendorSubscription]:
    """The rows of ``vendor_ids``, locked, for the periodic job to move."""
    query = (
        select(VendorSubscription)
        .where(VendorSubscription.vendor_id.in_(set(vendor_ids)))
        .order_by(VendorSubscription.vendor_id)
        .with_for_update()
    )
    return list((await db.scalars(query)).all())


async def stores_due(db: AsyncSession, now: datetime, limit: int) -> list[uuid.UUID]:
    """Stores with something due at ``now``: a scheduled change, the end of a canceled period, or
    the end of a grace period (tenant resolution for the periodic job)."""
    active = VendorSubscription.status == SubscriptionStatus.active
    query = (
        select(VendorSubscription.vendor_id)
        .where(
            or_(
                VendorSubscription.pending_at <= now,
                and_(
                    active,
                    VendorSubscription.cancel_at_period_end.is_(True),
                    VendorSubscription.current_period_end <= now,
                ),
                and_(active, VendorSubscription.grace_until <= now),
            )
        )
        .limit(limit)
    )
    return list((await db.scalars(query)).all())
