"""Posting balanced transactions, and reading balances and statements.

:func:`post` is the only way money moves in the ledger. It refuses an unbalanced transaction
before writing anything, books a ``source`` at most once (the unique insert decides, so
concurrent bookers of one payment cannot both win), writes every posting in one multi-row
INSERT and moves each account's running balance in the same unit of work.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.ids import uuid7
from oja.core.pagination import Page, PageParams
from oja.marketplace.ledger import repository
from oja.marketplace.ledger.models import (
    CREDIT_NORMAL,
    AccountKind,
    EntryType,
    TransactionKind,
)
from oja.marketplace.ledger.schemas import (
    BuyerTransactionOut,
    CurrencyBalance,
    Granularity,
    LedgerEntryOut,
    RevenueOut,
    RevenuePeriod,
    StoreBalanceOut,
)

PLATFORM = "platform"


class UnbalancedTransaction(ValueError):
    """Debits and credits of a transaction differ: a programming error, nothing was written."""


def account_key(kind: AccountKind, vendor_id: uuid.UUID | None, currency: str) -> str:
    return f"{kind}:{vendor_id or PLATFORM}:{currency}"


@dataclass(frozen=True, slots=True)
class Leg:
    """One posting to be: ``amount`` is signed (debit positive, credit negative)."""

    kind: AccountKind
    entry_type: EntryType
    amount: int
    vendor_id: uuid.UUID | None = None
    order_id: uuid.UUID | None = None


class Accounts:
    """The accounts of the legs of transactions booked together (a payment and its fee), found
    or created in one statement when the first of them posts — never for a replay that books
    nothing."""

    def __init__(self, currency: str, *legs: Sequence[Leg]) -> None:
        self.wanted = {
            account_key(leg.kind, leg.vendor_id, currency): (str(leg.kind), leg.vendor_id, currency)
            for some in legs
            for leg in some
            if leg.amount != 0
        }
        self._ids: dict[str, uuid.UUID] | None = None

    async def ids(self, db: AsyncSession) -> dict[str, uuid.UUID]:
        if self._ids is None:
            self._ids = await repository.account_ids(db, self.wanted)
        return self._ids


async def post(
    db: AsyncSession,
    *,
    source: str,
    kind: TransactionKind,
    currency: str,
    legs: Sequence[Leg],
    buyer_id: uuid.UUID | None = None,
    group_id: uuid.UUID | None = None,
    order_id: uuid.UUID | None = None,
    reference: str | None = None,
    accounts: Accounts | None = None,
) -> uuid.UUID | None:
    """Book one balanced transaction; its id, or None when ``source`` was booked already.
    ``accounts``: shared with the transactions booked beside it (of the same currency, naming
    every account of ``legs``)."""
    legs = [leg for leg in legs if leg.amount != 0]
    if sum(leg.amount for leg in legs) != 0:
        raise UnbalancedTransaction(f"{source}: debits and credits differ")
    if not legs:
        return None
    now = utcnow()
    transaction_id = await repository.insert_transaction(
        db,
        {
            "source": source,
            "kind": str(kind),
            "currency": currency,
            "amount": sum(leg.amount for leg in legs if leg.amount > 0),
            "buyer_id": buyer_id,
            "group_id": group_id,
            "order_id": order_id,
            "reference": reference,
            "created_at": now,
        },
    )
    if transaction_id is None:
        return None
    ids = await (accounts or Accounts(currency, legs)).ids(db)
    deltas: dict[uuid.UUID, int] = defaultdict(int)
    rows = []
    for leg in legs:
        account_id = ids[account_key(leg.kind, leg.vendor_id, currency)]
        deltas[account_id] += leg.amount
        rows.append(
            {
                "id": uuid7(),
                "transaction_id": transaction_id,
                "account_id": account_id,
                "vendor_id": leg.vendor_id,
                "entry_type": str(leg.entry_type),
                "amount": leg.amount,
                "currency": currency,
                "order_id": leg.order_id,
                "created_at": now,
            }
        )
    await repository.insert_postings(db, rows)
    await repository.move_balances(db, deltas)
    return transaction_id


def shown(kind: str, balance: int) -> int:
    """A balance as its owner reads it: what a store is owed is positive."""
    return -balance if kind in CREDIT_NORMAL else balance


async def store_balance(db: AsyncSession, vendor_id: uuid.UUID) -> StoreBalanceOut:
    """Per currency: the store's ledger accounts (one row each), what reached it (a running
    total) and its payout in flight (at most one per currency); never a SUM over postings."""
    by_currency: dict[str, CurrencyBalance] = {}

    def row(currency: str) -> CurrencyBalance:
        return by_currency.setdefault(
            currency, CurrencyBalance(currency=currency, pending=0, available=0)
        )

    for account in await repository.store_accounts(db, vendor_id):
        found = row(account.currency)
        if account.kind == AccountKind.store_pending:
            found.pending = shown(account.kind, account.balance)
        elif account.kind == AccountKind.store_available:
            found.available = shown(account.kind, account.balance)
        elif account.kind == AccountKind.store_frozen:
            found.frozen = shown(account.kind, account.balance)
    for currency, amount in (await repository.paid_out(db, vendor_id)).items():
        row(currency).paid_out = amount
    for currency, amount in (await repository.in_transit(db, vendor_id)).items():
        row(currency).in_transit = amount
    return StoreBalanceOut(balances=list(by_currency.values()))


async def store_ledger(
    db: AsyncSession,
    vendor_id: uuid.UUID,
    *,
    entry_type: EntryType | None,
    since: datetime | None,
    until: datetime | None,
    paging: PageParams | None,
) -> Page[LedgerEntryOut] | list[LedgerEntryOut]:
    """The store's entries, newest first: a page, or every one (``paging`` None, for CSV)."""
    total, rows = await repository.store_postings(
        db,
        vendor_id,
        entry_type=str(entry_type) if entry_type else None,
        since=since,
        until=until,
        offset=paging.offset if paging else 0,
        limit=paging.per_page if paging else None,
    )
    items = [
        LedgerEntryOut(
            id=posting.id,
            created_at=posting.created_at,
            type=EntryType(posting.entry_type),
            account=AccountKind(kind),
            amount=shown(kind, posting.amount),
            currency=posting.currency,
            order_id=posting.order_id,
            source=source,
        )
        for posting, kind, source in rows
    ]
    if paging is None:
        return items
    assert total is not None
    return Page[LedgerEntryOut].of(items, total=total, params=paging)


async def buyer_transactions(
    db: AsyncSession, buyer_id: uuid.UUID, kind: TransactionKind | None, paging: PageParams
) -> Page[BuyerTransactionOut]:
    total, rows = await repository.buyer_transactions(
        db, buyer_id, str(kind) if kind else None, paging.offset, paging.per_page
    )
    items = [
        BuyerTransactionOut(
            id=row.id,
            kind=TransactionKind(row.kind),
            amount=row.amount,
            currency=row.currency,
            reference=row.reference,
            group_id=row.group_id,
            order_id=row.order_id,
            created_at=row.created_at,
        )
        for row in rows
    ]
    return Page[BuyerTransactionOut].of(items, total=total, params=paging)


REVENUE_MAX_PERIODS = {"day": 366, "month": 120}
"""The longest report per granularity (days, months): one answer, no pagination."""


def _period(at: datetime, granularity: Granularity) -> str:
    return at.strftime("%Y-%m-%d" if granularity == Granularity.day else "%Y-%m")


async def revenue(
    db: AsyncSession, since: date, until: date, granularity: Granularity
) -> RevenueOut:
    """The platform's commission and the provider's fees per period (UTC) and currency, summed
    from the ledger's postings: commission = −Σ platform revenue postings (commission less its
    refunds and dispute reversals), fees = −Σ fee postings on provider clearing, fees_platform =
    Σ ``provider_fees`` postings (charge fees and payout transfer fees, less those given back)."""
    start = datetime.combine(since, time.min, tzinfo=UTC)
    end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC)
    sums: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: {"commission": 0, "fees": 0, "fees_platform": 0}
    )
    for at, kind, entry_type, amount, currency in await repository.revenue_postings(db, start, end):
        row = sums[(_period(at, granularity), currency)]
        if kind == AccountKind.platform_revenue:
            row["commission"] -= amount
        elif kind == AccountKind.provider_fees:
            row["fees_platform"] += amount
        elif entry_type == EntryType.fee:  # the provider's fee leaving clearing
            row["fees"] -= amount
    return RevenueOut(
        since=since,
        until=until,
        granularity=granularity,
        periods=[
            RevenuePeriod(
                period=period,
                currency=currency,
                **row,
                net=row["commission"] - row["fees_platform"],
            )
            for (period, currency), row in sorted(sums.items())
        ],
    )
