"""The marketplace's books agree with each other: what ``oja reconcile`` checks for it.

* **stock** — every variant's ``stock`` is the sum of its ``stock_movement`` deltas (the initial
  level, checkouts, returns to stock, expiries, imports and manual sets each write one), never
  negative: stock is neither oversold nor created;
* **orders** — every paid group is booked once in the ledger and none of its store orders is still
  ``pending`` past the threshold (payment confirmed but not applied); no unpaid group is still
  holding stock past its reservation expiry plus the threshold (the expiry job stopped);
* **ledger** — every transaction balanced, every running balance equal to its postings, every
  currency summing to zero (``ledger.checks``);
* **payouts** — every payout booked once in the ledger for its amount (``payout:<id>``), none
  ``pending``, ``processing`` or ``otp_required`` untouched past the threshold, every ``failed`` or
  ``reversed`` one with a reason and its money returned (``payout-return:<id>``) and no other one
  returned, and none above the store's available balance when it was booked (the store's
  ``store_available`` postings before the payout's, in posting order — uuid7 ids, and a payout
  locks the store's account while it books);
* **ratings** — every rating summary equal to a recount of its published reviews.

Read-only: nothing is repaired here (the reviews' own job repairs summaries).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from oja.marketplace.catalog.models import ProductVariant
from oja.marketplace.inventory.models import StockMovement
from oja.marketplace.ledger import checks as ledger_checks
from oja.marketplace.ledger.models import (
    AccountKind,
    LedgerAccount,
    LedgerPosting,
    LedgerTransaction,
    TransactionKind,
)
from oja.marketplace.ledger.settlement import payment_source
from oja.marketplace.orders.models import GroupStatus, OrderGroup, OrderStatus, StoreOrder
from oja.marketplace.payouts.models import IN_FLIGHT, RETURNED, Payout
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


def _booked(txn: Any) -> ColumnElement[bool]:
    """A payout's own ledger transaction (``payout:<id>``, booked under the payout's reference;
    ids compare differently on the two backends, references do not)."""
    return and_(txn.reference == Payout.reference, txn.kind == TransactionKind.payout)


async def payouts(db: AsyncSession, cutoff: datetime) -> tuple[int, list[str]]:
    """How many payouts were checked, and what is wrong with their books."""
    booked = aliased(LedgerTransaction)
    returned = aliased(LedgerTransaction)
    store_leg = (
        select(func.sum(LedgerPosting.amount))
        .where(
            LedgerPosting.transaction_id == booked.id,
            LedgerPosting.vendor_id == Payout.vendor_id,
        )
        .scalar_subquery()
    )
    rows = (
        await db.execute(
            select(
                Payout.id,
                Payout.reference,
                Payout.status,
                Payout.amount,
                Payout.failure_reason,
                Payout.updated_at,
                booked.id,
                store_leg,
                returned.id,
            )
            .join(booked, _booked(booked), isouter=True)
            .join(
                returned,
                (returned.reference == Payout.reference)
                & returned.source.startswith("payout-return:"),
                isouter=True,
            )
            .order_by(Payout.created_at, Payout.id)
        )
    ).all()
    problems = []
    for payout_id, ref, status, amount, reason, updated_at, txn, leg, back in rows:
        name = f"payout {payout_id} ({ref})"
        if txn is None:
            problems.append(f"{name} has no ledger transaction")
        elif int(leg or 0) != amount:
            problems.append(f"{name} of {amount} booked as {int(leg or 0)}")
        if status in IN_FLIGHT and updated_at < cutoff:
            problems.append(f"{name} still {status} since {updated_at}")
        if status in RETURNED and not reason:
            problems.append(f"{name} {status} without a reason")
        if status in RETURNED and back is None:
            problems.append(f"{name} {status} but its money was never returned")
        if status not in RETURNED and back is not None:
            problems.append(f"{name} {status} yet its money was returned")
    problems += await _paid_above_available(db)
    return len(rows), problems


async def _paid_above_available(db: AsyncSession) -> list[str]:
    """Payouts whose store had less available, just before the payout's posting, than it paid."""
    mine = aliased(LedgerPosting)
    before = (
        select(func.coalesce(func.sum(LedgerPosting.amount), 0))
        .where(
            LedgerPosting.account_id == mine.account_id,
            LedgerPosting.id < mine.id,
        )
        .scalar_subquery()
    )
    rows = (
        await db.execute(
            select(Payout.id, Payout.reference, mine.amount, before)
            .join(LedgerTransaction, _booked(LedgerTransaction))
            .join(
                mine,
                (mine.transaction_id == LedgerTransaction.id)
                & (mine.vendor_id == Payout.vendor_id),
            )
            .join(
                LedgerAccount,
                (LedgerAccount.id == mine.account_id)
                & (LedgerAccount.kind == AccountKind.store_available),
            )
            .order_by(Payout.created_at, Payout.id)
        )
    ).all()
    # store_available is a liability: what the store is owed is minus its postings' sum.
    return [
        f"payout {payout_id} ({ref}) of {paid} above the store's available {-int(sum_before)}"
        for payout_id, ref, paid, sum_before in rows
        if paid > -int(sum_before)
    ]


async def ratings(db: AsyncSession) -> list[str]:
    return [
        f"rating summary {d.subject_id} is {d.stored}, the reviews say {d.actual}"
        for d in await reviews.reconcile(db, fix=False)
    ]
