"""The marketplace's books agree with each other: what ``oja reconcile`` checks for it.

* **stock** — every variant's ``stock`` is the sum of its ``stock_movement`` deltas (the initial
  level, checkouts, returns to stock, expiries, imports and manual sets each write one), never
  negative: stock is neither oversold nor created;
* **orders** — every paid group is booked once in the ledger and none of its store orders is still
  ``pending`` past the threshold (payment confirmed but not applied); no unpaid group is still
  holding stock past its reservation expiry plus the threshold (the expiry job stopped);
* **ledger** — every transaction balanced, every running balance equal to its postings, every
  currency summing to zero (``ledger.checks``);
* **ratings** — every rating summary equal to a recount of its published reviews.

Read-only: nothing is repaired here (the reviews' own job repairs summaries).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from oja.marketplace.catalog.models import ProductVariant
from oja.marketplace.inventory.models import StockMovement
from oja.marketplace.ledger import checks as ledger_checks
from oja.marketplace.ledger.models import LedgerTransaction
from oja.marketplace.ledger.settlement import payment_source
from oja.marketplace.orders.models import GroupStatus, OrderGroup, OrderStatus, StoreOrder
from oja.marketplace.reviews import service as reviews


async def stock(db: AsyncSession) -> tuple[int, list[str]]:
    """How many variants were checked, and the ones whose level is not their movements' sum."""
    moved = (
        select(StockMovement.variant_id, func.sum(StockMovement.delta).label("total"))
        .group_by(StockMovement.variant_id)
        .subquery()
    )
    rows = (
        await db.execute(
            select(ProductVariant.id, ProductVariant.sku, ProductVariant.stock, moved.c.total).join(
                moved, moved.c.variant_id == ProductVariant.id, isouter=True
            )
        )
    ).all()
    problems = [
        f"variant {variant_id} ({sku}) stock {level} != sum of movements {int(total or 0)}"
        for variant_id, sku, level, total in rows
        if level != int(total or 0) or level < 0
    ]
    return len(rows), problems


async def orders(db: AsyncSession, cutoff: datetime) -> tuple[int, list[str]]:
    """How many paid groups were checked, and what is wrong with paid and unpaid groups."""
    paid = (
        await db.execute(select(func.count()).where(OrderGroup.status == str(GroupStatus.paid)))
    ).scalar_one()
    # payment_source("") is the prefix every payment's ledger source starts with.
    source = literal(payment_source("")) + OrderGroup.payment_reference
    unbooked = (
        await db.execute(
            select(OrderGroup.id, OrderGroup.payment_reference)
            .join(LedgerTransaction, LedgerTransaction.source == source, isouter=True)
            .where(OrderGroup.status == str(GroupStatus.paid), LedgerTransaction.id.is_(None))
        )
    ).all()
    problems = [f"paid group {g} ({ref}) not booked in the ledger" for g, ref in unbooked]
    pending = (
        await db.execute(
            select(StoreOrder.id, StoreOrder.group_id)
            .join(OrderGroup, OrderGroup.id == StoreOrder.group_id)
            .where(
                OrderGroup.status == str(GroupStatus.paid),
                OrderGroup.paid_at < cutoff,
                StoreOrder.status == str(OrderStatus.pending),
            )
        )
    ).all()
    problems += [f"store order {o} of paid group {g} still pending" for o, g in pending]
    overdue = (
        await db.execute(
            select(OrderGroup.id, OrderGroup.expires_at).where(
                OrderGroup.status == str(GroupStatus.awaiting_payment),
                OrderGroup.expires_at < cutoff,
            )
        )
    ).all()
    problems += [f"unpaid group {g} still reserved, expired at {at}" for g, at in overdue]
    return int(paid), problems


async def ledger(db: AsyncSession) -> tuple[int, list[str]]:
    """How many transactions the ledger holds, and every invariant that does not hold."""
    count = (await db.execute(select(func.count()).select_from(LedgerTransaction))).scalar_one()
    return int(count), await ledger_checks.problems(db)


async def ratings(db: AsyncSession) -> list[str]:
    return [
        f"rating summary {d.subject_id} is {d.stored}, the reviews say {d.actual}"
        for d in await reviews.reconcile(db, fix=False)
    ]
