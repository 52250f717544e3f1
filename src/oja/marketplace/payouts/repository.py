"""Payout SQL. Every statement on a payout table names the store (``vendor_id``), except the
system-wide scans of the payout job and the verify sweep, whose rows are then read scoped."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.db import insert_ignore
from oja.core.ids import uuid7
from oja.marketplace.ledger.models import AccountKind, LedgerAccount
from oja.marketplace.payouts.models import (
    IN_FLIGHT,
    AccountStatus,
    Payout,
    PayoutAccount,
    PayoutHold,
    PayoutLog,
    PayoutStatus,
    StoreSubaccount,
)
from oja.marketplace.vendors.models import Vendor

# Accounts


async def accounts(db: AsyncSession, vendor_id: uuid.UUID) -> Sequence[PayoutAccount]:
    """The store's active account and the one waiting for approval (if any)."""
    query = select(PayoutAccount).where(
        PayoutAccount.vendor_id == vendor_id,
        PayoutAccount.status.in_([AccountStatus.active, AccountStatus.pending_approval]),
    )
    return (await db.execute(query.execution_options(populate_existing=True))).scalars().all()


async def account(
    db: AsyncSession, vendor_id: uuid.UUID, account_id: uuid.UUID
) -> PayoutAccount | None:
    query = select(PayoutAccount).where(
        PayoutAccount.vendor_id == vendor_id, PayoutAccount.id == account_id
    )
    return (await db.execute(query)).scalar_one_or_none()


async def active_account(db: AsyncSession, vendor_id: uuid.UUID) -> PayoutAccount | None:
    query = select(PayoutAccount).where(
        PayoutAccount.vendor_id == vendor_id, PayoutAccount.status == AccountStatus.active
    )
    return (await db.execute(query)).scalar_one_or_none()


async def replace_accounts(
    db: AsyncSession, vendor_id: uuid.UUID, statuses: Sequence[AccountStatus], now: datetime
) -> None:
    await db.execute(
        update(PayoutAccount)
        .where(PayoutAccount.vendor_id == vendor_id, PayoutAccount.status.in_(statuses))
        .values(status=AccountStatus.replaced, updated_at=now)
    )


async def decide(
    db: AsyncSession,
    vendor_id: uuid.UUID,
    account_id: uuid.UUID,
    to_status: AccountStatus,
    values: dict[str, Any],
) -> bool:
    """An account awaiting approval made active or rejected; False when it no longer waits."""
    result = await db.execute(
        update(PayoutAccount)
        .where(
            PayoutAccount.vendor_id == vendor_id,
            PayoutAccount.id == account_id,
            PayoutAccount.status == AccountStatus.pending_approval,
        )
        .values(status=to_status, **values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# Holds


async def hold(db: AsyncSession, vendor_id: uuid.UUID, *, lock: bool = False) -> PayoutHold | None:
    query = select(PayoutHold).where(PayoutHold.vendor_id == vendor_id)
    if lock:
        query = query.with_for_update()
    return (await db.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()


async def ensure_hold(db: AsyncSession, vendor_id: uuid.UUID) -> PayoutHold:
    """The store's hold row, locked (created unheld when missing; concurrent creators: one wins)."""
    await db.execute(
        insert_ignore(db, PayoutHold.__table__).values(id=uuid7(), vendor_id=vendor_id, held=False)
    )
    found = await hold(db, vendor_id, lock=True)
    assert found is not None
    return found


def log(db: AsyncSession, vendor_id: uuid.UUID, action: str, **values: Any) -> None:
    db.add(PayoutLog(vendor_id=vendor_id, action=action, **values))


# Payouts


async def due_stores(
    db: AsyncSession, currency: str, minimum: int, now: datetime, limit: int
) -> list[uuid.UUID]:
    """Stores with an active account, ``currency`` available ≥ ``minimum``, not held and no
    payout in flight. A system-wide scan: each store is then re-checked under its account lock."""
    in_flight = (
        select(Payout.id)
        .where(
            Payout.vendor_id == LedgerAccount.vendor_id,
            Payout.currency == currency,
            Payout.status.in_(IN_FLIGHT),
        )
        .exists()
    )
    held = (
        select(PayoutHold.id)
        .where(
            PayoutHold.vendor_id == LedgerAccount.vendor_id,
            (PayoutHold.held.is_(True)) | (PayoutHold.held_until > now),
        )
        .exists()
    )
    has_account = (
        select(PayoutAccount.id)
        .where(
            PayoutAccount.vendor_id == LedgerAccount.vendor_id,
            PayoutAccount.status == AccountStatus.active,
        )
        .exists()
    )
    query = (
        select(LedgerAccount.vendor_id)
        .where(
            LedgerAccount.kind == AccountKind.store_available,
            LedgerAccount.currency == currency,
            LedgerAccount.vendor_id.is_not(None),
            # A liability: what the store is owed is -balance.
            LedgerAccount.balance <= -minimum,
            has_account,
            ~held,
            ~in_flight,
        )
        .order_by(LedgerAccount.vendor_id)
        .limit(limit)
    )
    return [row for row in (await db.execute(query)).scalars().all() if row is not None]


async def lock_available(db: AsyncSession, vendor_id: uuid.UUID, currency: str) -> int | None:
    """The store's available balance as it reads it. Its account row and the provider clearing
    account are locked until commit, in id order as :func:`oja.marketplace.ledger.service.post`
    moves them, so a payout never deadlocks with a refund or release of the same store."""
    query = (
        select(LedgerAccount.kind, LedgerAccount.balance)
        .where(
            LedgerAccount.currency == currency,
            (
                (LedgerAccount.vendor_id == vendor_id)
                & (LedgerAccount.kind == AccountKind.store_available)
            )
            | (
                LedgerAccount.vendor_id.is_(None)
                & (LedgerAccount.kind == AccountKind.provider_clearing)
            ),
        )
        .order_by(LedgerAccount.id)
        .with_for_update()
    )
    found = dict((await db.execute(query)).all())
    balance = found.get(AccountKind.store_available)
    return None if balance is None else -int(balance)


async def in_flight(db: AsyncSession, vendor_id: uuid.UUID, currency: str) -> bool:
    query = select(Payout.id).where(
        Payout.vendor_id == vendor_id, Payout.currency == currency, Payout.status.in_(IN_FLIGHT)
    )
    return (await db.execute(query.limit(1))).first() is not None


async def count_on(db: AsyncSession, vendor_id: uuid.UUID, run_date: date) -> int:
    query = select(func.count()).where(
        Payout.vendor_id == vendor_id, Payout.run_date == run_date, Payout.retry_of.is_(None)
    )
    return int((await db.execute(query)).scalar_one())


async def payout(
    db: AsyncSession, vendor_id: uuid.UUID, payout_id: uuid.UUID, *, lock: bool = False
) -> Payout | None:
    query = select(Payout).where(Payout.vendor_id == vendor_id, Payout.id == payout_id)
    if lock:
        query = query.with_for_update()
    return (await db.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()


async def store_of_payout(db: AsyncSession, payout_id: uuid.UUID) -> uuid.UUID | None:
    """The store a payout id belongs to (admin routes and jobs name a payout by id alone)."""
    query = select(Payout.vendor_id).where(Payout.id == payout_id)
    return (await db.execute(query)).scalar_one_or_none()


async def store_of_reference(
    db: AsyncSession, reference: str
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(store, payout id) of the payout a provider reference names."""
    query = select(Payout.vendor_id, Payout.id).where(Payout.reference == reference)
    row = (await db.execute(query)).first()
    return None if row is None else (row[0], row[1])


async def move(
    db: AsyncSession,
    vendor_id: uuid.UUID,
    payout_id: uuid.UUID,
    *,
    from_statuses: Sequence[str],
    to_status: str,
    values: dict[str, Any],
) -> bool:
    """One conditional UPDATE: True when this caller moved the payout."""
    result = await db.execute(
        update(Payout)
        .where(
            Payout.vendor_id == vendor_id,
            Payout.id == payout_id,
            Payout.status.in_(list(from_statuses)),
        )
        .values(status=to_status, **values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def retried(db: AsyncSession, vendor_id: uuid.UUID, payout_id: uuid.UUID) -> bool:
    query = select(Payout.id).where(Payout.vendor_id == vendor_id, Payout.retry_of == payout_id)
    return (await db.execute(query)).first() is not None


async def unsent(db: AsyncSession, limit: int) -> Sequence[Payout]:
    """Pending payouts, oldest first, locked; those another sender holds are skipped (a system-wide
    scan: each row names its store)."""
    query = (
        select(Payout)
        .where(Payout.status == PayoutStatus.pending)
        .order_by(Payout.created_at, Payout.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await db.execute(query.execution_options(populate_existing=True))).scalars().all()


async def stale(
    db: AsyncSession, statuses: Sequence[str], before: datetime, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID, str]]:
    """(store, payout, reference) of payouts in ``statuses`` untouched since ``before``, oldest
    first."""
    query = (
        select(Payout.vendor_id, Payout.id, Payout.reference)
        .where(Payout.status.in_(list(statuses)), Payout.updated_at <= before)
        .order_by(Payout.updated_at)
        .limit(limit)
    )
    return [(row[0], row[1], row[2]) for row in (await db.execute(query)).all()]


def _filters(vendor_id: uuid.UUID | None, status: str | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if vendor_id is not None:
        where.append(Payout.vendor_id == vendor_id)
    if status is not None:
        where.append(Payout.status == status)
    return where


async def list_payouts(
    db: AsyncSession, *, vendor_id: uuid.UUID | None, status: str | None, offset: int, limit: int
) -> tuple[int, Sequence[Payout]]:
    """Payouts newest first: one store's (``vendor_id``) or, for admins, every store's."""
    where = _filters(vendor_id, status)
    total = (await db.execute(select(func.count()).select_from(Payout).where(*where))).scalar_one()
    query = (
        select(Payout)
        .where(*where)
        .order_by(Payout.created_at.desc(), Payout.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return int(total), (await db.execute(query)).scalars().all()


# Paystack subaccounts (provider split)


async def subaccount(
    db: AsyncSession, vendor_id: uuid.UUID, currency: str
) -> StoreSubaccount | None:
    query = select(StoreSubaccount).where(
        StoreSubaccount.vendor_id == vendor_id, StoreSubaccount.currency == currency
    )
    return (await db.execute(query.with_for_update())).scalar_one_or_none()


async def split_subaccounts(
    db: AsyncSession, vendor_ids: Sequence[uuid.UUID], currency: str, now: datetime
) -> dict[uuid.UUID, str]:
    """store → its Paystack subaccount code, for the stores of a checkout whose subaccount is in
    effect (a system read: the checkout names the stores)."""
    query = select(StoreSubaccount.vendor_id, StoreSubaccount.code).where(
        StoreSubaccount.vendor_id.in_(list(vendor_ids)),
        StoreSubaccount.currency == currency,
        StoreSubaccount.provider == "paystack",
        StoreSubaccount.active_from <= now,
    )
    return dict((await db.execute(query)).all())


async def list_accounts(
    db: AsyncSession, *, status: str | None, offset: int, limit: int
) -> tuple[int, Sequence[tuple[PayoutAccount, str]]]:
    """Every store's payout accounts (admins), oldest first so the longest waiting come first,
    each with its store's name."""
    where = [] if status is None else [PayoutAccount.status == status]
    total = (
        await db.execute(select(func.count()).select_from(PayoutAccount).where(*where))
    ).scalar_one()
    query = (
        select(PayoutAccount, Vendor.name)
        .join(Vendor, Vendor.id == PayoutAccount.vendor_id)
        .where(*where)
        .order_by(PayoutAccount.created_at, PayoutAccount.id)
        .offset(offset)
        .limit(limit)
    )
    return int(total), [(a, n) for a, n in (await db.execute(query)).all()]
