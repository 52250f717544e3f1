"""The ledger's invariants as queries: what ``oja reconcile`` and the ledger's tests check.

Each answer lists what is wrong (empty when the books are right): a transaction whose postings do
not sum to zero, an account whose running balance is not the sum of its postings, a currency whose
accounts do not sum to zero (money created or lost).
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from oja.marketplace.ledger.models import LedgerAccount, LedgerPosting


async def unbalanced_transactions(db: AsyncSession) -> list[uuid.UUID]:
    query = (
        select(LedgerPosting.transaction_id)
        .group_by(LedgerPosting.transaction_id)
        .having(func.sum(LedgerPosting.amount) != 0)
    )
    return list((await db.execute(query)).scalars().all())


async def drifted_accounts(db: AsyncSession) -> list[tuple[str, int, int]]:
    """Accounts whose running balance differs from the sum of their postings:
    ``(key, balance, sum)``."""
    sums = (
        select(LedgerPosting.account_id, func.sum(LedgerPosting.amount).label("total"))
        .group_by(LedgerPosting.account_id)
        .subquery()
    )
    query = select(LedgerAccount.key, LedgerAccount.balance, func.coalesce(sums.c.total, 0)).join(
        sums, sums.c.account_id == LedgerAccount.id, isouter=True
    )
    return [
        (key, balance, int(total))
        for key, balance, total in (await db.execute(query))
        if balance != int(total)
    ]


async def unbalanced_currencies(db: AsyncSession) -> dict[str, int]:
    """Currencies whose accounts do not sum to zero, with the sum."""
    query = select(LedgerAccount.currency, func.sum(LedgerAccount.balance)).group_by(
        LedgerAccount.currency
    )
    return {
        currency: int(total) for currency, total in await db.execute(query) if int(total or 0) != 0
    }


async def problems(db: AsyncSession) -> list[str]:
    """Every ledger invariant that does not hold, one line each."""
    found = [
        f"transaction {t} postings do not sum to zero" for t in await unbalanced_transactions(db)
    ]
    found += [
        f"account {key} balance {balance} != sum of postings {total}"
        for key, balance, total in await drifted_accounts(db)
    ]
    found += [
        f"{currency} accounts sum to {total}, not 0"
        for currency, total in (await unbalanced_currencies(db)).items()
    ]
    return found
