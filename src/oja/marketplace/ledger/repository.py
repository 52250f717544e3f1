"""Ledger SQL. Postings are only ever inserted; balances move by one conditional-free increment
per account, in account-id order so concurrent transactions lock accounts in the same order."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    DateTime,
    String,
    Table,
    Uuid,
    any_,
    bindparam,
    column,
    exists,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.db import insert_ignore
from oja.core.ids import uuid7
from oja.marketplace.catalog.models import Product
from oja.marketplace.ledger.models import (
    AccountKind,
    CommissionRule,
    Dispute,
    DisputeOrder,
    DisputeStatus,
    LedgerAccount,
    LedgerPosting,
    LedgerTransaction,
    SettlementStatus,
    StorePaidOut,
    StoreSettlement,
)
from oja.marketplace.orders.models import (
    OrderRefund,
    RefundStatus,
    ReturnLine,
    ReturnRequest,
    ReturnStatus,
    StoreOrder,
)
from oja.marketplace.payouts.models import IN_FLIGHT, Payout

_accounts = cast(Table, LedgerAccount.__table__)
_postings = cast(Table, LedgerPosting.__table__)


def _find_or_create() -> CompoundSelect[tuple[str, uuid.UUID]]:
    """``account_ids``' PostgreSQL statement: the wanted accounts as arrays (one cached statement
    whatever their number), inserted in key order unless they exist, beside a read of the keys."""
    keys = bindparam("keys", type_=postgresql.ARRAY(String()))
    wanted = (
        func.unnest(
            bindparam("ids", type_=postgresql.ARRAY(Uuid())),
            keys,
            bindparam("kinds", type_=postgresql.ARRAY(String())),
            bindparam("vendor_ids", type_=postgresql.ARRAY(Uuid())),
            bindparam("currencies", type_=postgresql.ARRAY(String())),
        )
        .table_valued(
            column("id", Uuid()),
            column("key", String()),
            column("kind", String()),
            column("vendor_id", Uuid()),
            column("currency", String()),
        )
        .render_derived(name="wanted")
    )
    created = (
        postgresql.insert(_accounts)
        .from_select(
            ["id", "key", "kind", "vendor_id", "currency", "balance", "created_at"],
            select(
                wanted.c.id,
                wanted.c.key,
                wanted.c.kind,
                wanted.c.vendor_id,
                wanted.c.currency,
                literal_column("0"),
                bindparam("now", type_=DateTime(timezone=True)),
            ).order_by(wanted.c.key),
        )
        .on_conflict_do_nothing()
        .returning(_accounts.c.key, _accounts.c.id)
        .cte("created")
    )
    existing = select(_accounts.c.key, _accounts.c.id).where(_accounts.c.key == any_(keys))
    return select(created.c.key, created.c.id).union_all(existing)


_FIND_OR_CREATE = _find_or_create()


async def account_ids(
    db: AsyncSession, wanted: dict[str, tuple[str, uuid.UUID | None, str]]
) -> dict[str, uuid.UUID]:
    """The ids of the accounts named by ``wanted`` (key → kind, vendor id, currency), creating
    those that do not exist yet (concurrent creators: one wins, every one reads the same row).

    PostgreSQL: one statement, found or created — ``INSERT … ON CONFLICT DO NOTHING RETURNING``
    (the created) beside a ``SELECT`` of the keys (those its snapshot saw). A key in neither was
    created by a concurrent transaction that committed after that snapshot (the INSERT waited for
    it, then did nothing): a second ``SELECT`` of only those keys, in a new snapshot, reads them.
    The rows go in key order, so two creators of the same accounts wait in the same order
    rather than deadlock. SQLite (one writer at a time): a ``SELECT``, then an ``INSERT`` and a
    ``SELECT`` of the missing ones."""
    if not wanted:
        return {}
    rows = [
        {
            "id": uuid7(),
            "key": key,
            "kind": wanted[key][0],
            "vendor_id": wanted[key][1],
            "currency": wanted[key][2],
            "balance": 0,
        }
        for key in sorted(wanted)
    ]
    if db.get_bind().dialect.name == "postgresql":
        params = {
            name: [row[field] for row in rows]
            for name, field in (
                ("ids", "id"),
                ("keys", "key"),
                ("kinds", "kind"),
                ("vendor_ids", "vendor_id"),
                ("currencies", "currency"),
            )
        }
        result = await db.execute(_FIND_OR_CREATE, {**params, "now": utcnow()})
        found: dict[str, uuid.UUID] = {row.key: row.id for row in result}
        missing = [key for key in wanted if key not in found]
    else:
        query = select(LedgerAccount.key, LedgerAccount.id).where(LedgerAccount.key.in_(wanted))
        found = dict((await db.execute(query)).all())
        missing = [key for key in wanted if key not in found]
        if missing:
            await db.execute(
                insert_ignore(db, _accounts), [row for row in rows if row["key"] in missing]
            )
    if missing:
        query = select(LedgerAccount.key, LedgerAccount.id).where(LedgerAccount.key.in_(missing))
        found.update(dict((await db.execute(query)).all()))
    return found


async def insert_transaction(db: AsyncSession, values: dict[str, Any]) -> uuid.UUID | None:
    """The new transaction's id, or None when its ``source`` is already booked."""
    statement = (
        insert_ignore(db, LedgerTransaction.__table__)
        .values(id=uuid7(), **values)
        .returning(LedgerTransaction.id)
    )
    return (await db.execute(statement)).scalar_one_or_none()


async def insert_postings(db: AsyncSession, rows: list[dict[str, Any]]) -> None:
    await db.execute(insert(_postings), rows)


async def move_balances(db: AsyncSession, deltas: dict[uuid.UUID, int]) -> None:
    statement = (
        update(_accounts)
        .where(_accounts.c.id == bindparam("account_id"))
        .values(balance=_accounts.c.balance + bindparam("delta"))
    )
    await db.execute(
        statement,
        [{"account_id": key, "delta": deltas[key]} for key in sorted(deltas) if deltas[key]],
    )


async def transaction_by_source(db: AsyncSession, source: str) -> LedgerTransaction | None:
    query = select(LedgerTransaction).where(LedgerTransaction.source == source)
    return (await db.execute(query)).scalar_one_or_none()


async def store_accounts(db: AsyncSession, vendor_id: uuid.UUID) -> Sequence[LedgerAccount]:
    query = (
        select(LedgerAccount)
        .where(LedgerAccount.vendor_id == vendor_id)
        .order_by(LedgerAccount.currency, LedgerAccount.kind)
    )
    return (await db.execute(query)).scalars().all()


def _posting_filters(
    vendor_id: uuid.UUID,
    entry_type: str | None,
    since: datetime | None,
    until: datetime | None,
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [LedgerPosting.vendor_id == vendor_id]
    if entry_type is not None:
        where.append(LedgerPosting.entry_type == entry_type)
    if since is not None:
        where.append(LedgerPosting.created_at >= since)
    if until is not None:
        where.append(LedgerPosting.created_at < until)
    return where


async def store_postings(
    db: AsyncSession,
    vendor_id: uuid.UUID,
    *,
    entry_type: str | None,
    since: datetime | None,
    until: datetime | None,
    offset: int,
    limit: int | None,
) -> tuple[int | None, Sequence[tuple[LedgerPosting, str, str]]]:
    """A store's postings, newest first, with their account's kind and transaction's source; the
    total only when paginating (``limit`` set)."""
    where = _posting_filters(vendor_id, entry_type, since, until)
    total = None
    if limit is not None:
        counted = await db.execute(select(func.count()).select_from(LedgerPosting).where(*where))
        total = counted.scalar_one()
    query = (
        select(LedgerPosting, LedgerAccount.kind, LedgerTransaction.source)
        .join(LedgerAccount, LedgerAccount.id == LedgerPosting.account_id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
        .where(*where)
        .order_by(LedgerPosting.created_at.desc(), LedgerPosting.id.desc())
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return total, (await db.execute(query)).all()


async def buyer_transactions(
    db: AsyncSession, buyer_id: uuid.UUID, kind: str | None, offset: int, limit: int
) -> tuple[int, Sequence[LedgerTransaction]]:
    where: list[ColumnElement[bool]] = [LedgerTransaction.buyer_id == buyer_id]
    if kind is not None:
        where.append(LedgerTransaction.kind == kind)
    counted = await db.execute(select(func.count()).select_from(LedgerTransaction).where(*where))
    query = (
        select(LedgerTransaction)
        .where(*where)
        .order_by(LedgerTransaction.created_at.desc(), LedgerTransaction.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return counted.scalar_one(), (await db.execute(query)).scalars().all()


# Settlement


async def rules_for(
    db: AsyncSession, vendor_ids: Iterable[uuid.UUID], category_ids: Iterable[uuid.UUID]
) -> Sequence[CommissionRule]:
    query = select(CommissionRule).where(
        CommissionRule.vendor_id.in_(list(vendor_ids))
        | (CommissionRule.vendor_id.is_(None) & CommissionRule.category_id.in_(list(category_ids)))
    )
    return (await db.execute(query)).scalars().all()


async def product_categories(
    db: AsyncSession, products: dict[uuid.UUID, uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID | None]:
    """product id → its category, for ``products`` (product id → its store)."""
    if not products:
        return {}
    query = select(Product.id, Product.category_id).where(
        Product.id.in_(list(products)), Product.vendor_id.in_(set(products.values()))
    )
    return dict((await db.execute(query)).all())


def add_settlements(db: AsyncSession, settlements: Iterable[StoreSettlement]) -> None:
    db.add_all(list(settlements))


async def settlement(
    db: AsyncSession, vendor_id: uuid.UUID, order_id: uuid.UUID, *, lock: bool = False
) -> StoreSettlement | None:
    query = select(StoreSettlement).where(
        StoreSettlement.vendor_id == vendor_id, StoreSettlement.order_id == order_id
    )
    if lock:
        query = query.with_for_update()
    return (await db.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()


async def return_lines(
    db: AsyncSession, vendor_id: uuid.UUID, return_id: uuid.UUID
) -> Sequence[ReturnLine]:
    query = select(ReturnLine).where(
        ReturnLine.vendor_id == vendor_id, ReturnLine.return_id == return_id
    )
    return (await db.execute(query.order_by(ReturnLine.id))).scalars().all()


REFUNDS_IN_FLIGHT = (RefundStatus.pending, RefundStatus.processing, RefundStatus.needs_attention)
"""A refund the provider has not yet reported processed (nor failed): it will still be booked."""


async def refunds_in_flight(
    db: AsyncSession, vendor_id: uuid.UUID, currency: str
) -> Sequence[tuple[OrderRefund, StoreSettlement]]:
    """The store's refunds still in flight on released orders, each with its settlement, in the
    order they were made (as they will most likely be booked)."""
    query = (
        select(OrderRefund, StoreSettlement)
        .join(
            StoreSettlement,
            (StoreSettlement.vendor_id == OrderRefund.vendor_id)
            & (StoreSettlement.order_id == OrderRefund.order_id),
        )
        .where(
            OrderRefund.vendor_id == vendor_id,
            OrderRefund.currency == currency,
            OrderRefund.status.in_([str(s) for s in REFUNDS_IN_FLIGHT]),
            StoreSettlement.status == SettlementStatus.released,
        )
        .order_by(OrderRefund.created_at, OrderRefund.id)
    )
    return [(r, s) for r, s in (await db.execute(query)).all()]


async def due_releases(
    db: AsyncSession, delivered_before: datetime, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(store, store order) of held settlements whose order was delivered before the cutoff and
    has no return still open, oldest first. A system-wide scan: each row is then read scoped."""
    open_return = exists().where(
        ReturnRequest.vendor_id == StoreSettlement.vendor_id,
        ReturnRequest.order_id == StoreSettlement.order_id,
        ReturnRequest.status.in_([ReturnStatus.requested, ReturnStatus.approved]),
    )
    open_dispute = exists().where(
        DisputeOrder.vendor_id == StoreSettlement.vendor_id,
        DisputeOrder.order_id == StoreSettlement.order_id,
        Dispute.id == DisputeOrder.dispute_id,
        Dispute.status == DisputeStatus.open,
    )
    query = (
        select(StoreSettlement.vendor_id, StoreSettlement.order_id)
        .join(
            StoreOrder,
            (StoreOrder.id == StoreSettlement.order_id)
            & (StoreOrder.vendor_id == StoreSettlement.vendor_id),
        )
        .where(
            StoreSettlement.status == SettlementStatus.held,
            StoreOrder.delivered_at.is_not(None),
            StoreOrder.delivered_at <= delivered_before,
            ~open_return,
            ~open_dispute,
        )
        .order_by(StoreSettlement.created_at)
        .limit(limit)
    )
    return list((await db.execute(query)).all())


async def mark_released(
    db: AsyncSession, vendor_id: uuid.UUID, order_id: uuid.UUID, now: datetime
) -> bool:
    result = await db.execute(
        update(StoreSettlement)
        .where(
            StoreSettlement.vendor_id == vendor_id,
            StoreSettlement.order_id == order_id,
            StoreSettlement.status == SettlementStatus.held,
        )
        .values(status=SettlementStatus.released, released_at=now, updated_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# Disputes


async def group_settlements(db: AsyncSession, group_id: uuid.UUID) -> Sequence[StoreSettlement]:
    """Every store's settlement of one group, locked (a system path: the group names them)."""
    query = (
        select(StoreSettlement)
        .where(StoreSettlement.group_id == group_id)
        .order_by(StoreSettlement.order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await db.execute(query)).scalars().all()


async def insert_dispute(db: AsyncSession, values: dict[str, Any]) -> bool:
    """Record a provider dispute unless it is recorded already (one row per provider id)."""
    statement = insert_ignore(db, Dispute.__table__).values(**values).returning(Dispute.id)
    return (await db.execute(statement)).scalar_one_or_none() is not None


async def dispute(db: AsyncSession, dispute_id: uuid.UUID) -> Dispute | None:
    return await db.get(Dispute, dispute_id, populate_existing=True)


async def dispute_by_provider_id(
    db: AsyncSession, provider: str, provider_dispute_id: str
) -> Dispute | None:
    query = (
        select(Dispute)
        .where(Dispute.provider == provider, Dispute.provider_dispute_id == provider_dispute_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await db.execute(query)).scalar_one_or_none()


async def resolve_dispute(
    db: AsyncSession, dispute_id: uuid.UUID, status: DisputeStatus, now: datetime
) -> bool:
    """Move an open dispute to won or lost, once."""
    result = await db.execute(
        update(Dispute)
        .where(Dispute.id == dispute_id, Dispute.status == DisputeStatus.open)
        .values(status=str(status), resolved_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def dispute_orders(db: AsyncSession, dispute_ids: Sequence[uuid.UUID]) -> list[DisputeOrder]:
    if not dispute_ids:
        return []
    query = (
        select(DisputeOrder)
        .where(DisputeOrder.dispute_id.in_(list(dispute_ids)))
        .order_by(DisputeOrder.dispute_id, DisputeOrder.order_id)
    )
    return list((await db.execute(query)).scalars().all())


async def disputes(
    db: AsyncSession, status: str | None, offset: int, limit: int
) -> tuple[int, Sequence[Dispute]]:
    where = [Dispute.status == status] if status else []
    total = (await db.execute(select(func.count()).select_from(Dispute).where(*where))).scalar_one()
    query = (
        select(Dispute)
        .where(*where)
        .order_by(Dispute.created_at.desc(), Dispute.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return int(total), (await db.execute(query)).scalars().all()


async def revenue_postings(
    db: AsyncSession, since: datetime, until: datetime
) -> Sequence[tuple[datetime, str, str, int, str]]:
    """(created_at, account kind, entry type, amount, currency) of the platform's revenue and fee
    postings and the provider's fee on clearing, ``since`` ≤ created_at < ``until``."""
    query = (
        select(
            LedgerPosting.created_at,
            LedgerAccount.kind,
            LedgerPosting.entry_type,
            LedgerPosting.amount,
            LedgerPosting.currency,
        )
        .join(LedgerAccount, LedgerAccount.id == LedgerPosting.account_id)
        .where(
            LedgerPosting.vendor_id.is_(None),
            LedgerPosting.created_at >= since,
            LedgerPosting.created_at < until,
            LedgerAccount.kind.in_(
                [
                    AccountKind.platform_revenue,
                    AccountKind.provider_fees,
                    AccountKind.provider_clearing,
                ]
            ),
        )
    )
    rows = await db.execute(query)
    return [
        (at, str(kind), str(entry), int(amount), str(cur)) for at, kind, entry, amount, cur in rows
    ]


# What reached stores


async def add_paid_out(db: AsyncSession, deltas: dict[tuple[uuid.UUID, str], int]) -> None:
    """Move stores' paid-out totals ((store, currency) → signed delta): one upsert each,
    ``paid_out = paid_out + delta``, so concurrent movers of one store never lose an update."""
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    table = cast(Table, StorePaidOut.__table__)
    now = utcnow()
    for (vendor_id, currency), delta in sorted(deltas.items(), key=lambda kv: str(kv[0])):
        if delta == 0:
            continue
        statement = dialect.insert(table).values(
            id=uuid7(), vendor_id=vendor_id, currency=currency, paid_out=delta, updated_at=now
        )
        await db.execute(
            statement.on_conflict_do_update(
                index_elements=["vendor_id", "currency"],
                set_={
                    "paid_out": table.c.paid_out + statement.excluded.paid_out,
                    "updated_at": now,
                },
            )
        )


async def paid_out(db: AsyncSession, vendor_id: uuid.UUID) -> dict[str, int]:
    """currency → what reached the store (one row per currency)."""
    query = select(StorePaidOut.currency, StorePaidOut.paid_out).where(
        StorePaidOut.vendor_id == vendor_id
    )
    return {currency: int(amount) for currency, amount in (await db.execute(query)).all()}


async def in_transit(db: AsyncSession, vendor_id: uuid.UUID) -> dict[str, int]:
    """currency → the store's payouts booked and not yet paid (at most one per currency: the
    partial unique index on in-flight payouts)."""
    query = (
        select(Payout.currency, func.sum(Payout.amount))
        .where(Payout.vendor_id == vendor_id, Payout.status.in_([str(s) for s in IN_FLIGHT]))
        .group_by(Payout.currency)
    )
    return {currency: int(amount) for currency, amount in (await db.execute(query)).all()}
