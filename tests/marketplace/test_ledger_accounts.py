"""The ledger's accounts are found or created in one statement, and two bookings creating the same
accounts at once (two stores' first sales paid together) still make one account each, both booked
to the kobo."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import event

from oja.core.db import unit_of_work
from oja.marketplace.config import MarketplaceSettings
from oja.marketplace.ledger import checks as ledger_checks
from oja.marketplace.ledger import repository, settlement
from oja.marketplace.ledger.models import AccountKind

from . import ledger_kit
from .conftest import count, someone_waits_for_a_lock

POSTGRES = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def market(app: Any) -> MarketplaceSettings:
    return app.state.runtime.settings.section(MarketplaceSettings)  # type: ignore[no-any-return]


def key(kind: AccountKind, vendor: uuid.UUID | None) -> str:
    return f"{kind}:{vendor or 'platform'}:NGN"


def account_statements(app: Any) -> tuple[list[str], Any]:
    """The statements that read or create ledger accounts (not the balance updates), as sent,
    and the listener to remove."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM ledger_account" in statement:
            sent.append("created" if statement.startswith("WITH created AS") else "read")

    event.listen(app.state.runtime.database.engine.sync_engine, "before_cursor_execute", record)
    return sent, record


@POSTGRES
async def test_two_bookings_creating_the_same_accounts_at_once_make_one_each(app: Any) -> None:
    """The first booking creates the five accounts and holds its transaction open; the second,
    of the same two stores, waits on those rows inside its one statement, finds nothing it can
    see when the first commits, and reads them with its one fallback ``SELECT``."""
    async with unit_of_work(app.state.runtime.database) as db:
        buyer, vendors = await ledger_kit.people(db, 2)
        first, _, _ = await ledger_kit.add_group(db, buyer, {vendors[0]: [1000], vendors[1]: [500]})
        second, _, _ = await ledger_kit.add_group(db, buyer, {vendors[0]: [300], vendors[1]: [70]})
    booked_first = asyncio.Event()
    release_first = asyncio.Event()

    async def book_first() -> str:
        async with unit_of_work(app.state.runtime.database) as db:
            outcome = await settlement.book_payment(db, str(first.payment_reference), market(app))
            booked_first.set()
            await release_first.wait()
            return outcome

    async def book_second() -> str:
        async with unit_of_work(app.state.runtime.database) as db:
            return await settlement.book_payment(db, str(second.payment_reference), market(app))

    sent, record = account_statements(app)
    try:
        holding = asyncio.create_task(book_first())
        await booked_first.wait()
        waiting = asyncio.create_task(book_second())
        await someone_waits_for_a_lock(
            app, "the second booking never waited for the first one's new accounts"
        )
        release_first.set()
        outcomes = [await holding, await waiting]
    finally:
        event.remove(app.state.runtime.database.engine.sync_engine, "before_cursor_execute", record)
    assert outcomes == ["booked", "booked"]
    # One statement each, and the second's one fallback read of the rows it could not yet see.
    assert sent == ["created", "created", "read"]
    assert await count(app, "ledger_account") == 4  # clearing, revenue, two stores' pending
    assert await count(app, "ledger_transaction") == 2  # no provider fee: no fee transaction
    async with unit_of_work(app.state.runtime.database) as db:
        balances = await ledger_kit.balances(db)
        assert await ledger_checks.unbalanced_transactions(db) == []
        assert await ledger_checks.drifted_accounts(db) == []
    # 10 % default commission, per store order, rounded up for the platform.
    assert balances == {
        key(AccountKind.provider_clearing, None): 1870,
        key(AccountKind.platform_revenue, None): -(100 + 50 + 30 + 7),
        key(AccountKind.store_pending, vendors[0]): -(900 + 270),
        key(AccountKind.store_pending, vendors[1]): -(450 + 63),
    }


@POSTGRES
async def test_many_bookings_of_new_stores_at_once_share_one_account_each(app: Any) -> None:
    async with unit_of_work(app.state.runtime.database) as db:
        buyer, vendors = await ledger_kit.people(db, 3)
        groups = [
            (
                await ledger_kit.add_group(
                    db, buyer, {vendors[n % 3]: [1000], vendors[(n + 1) % 3]: [10 * (n + 1)]}
                )
            )[0]
            for n in range(12)
        ]

    async def one(reference: str) -> str:
        async with unit_of_work(app.state.runtime.database) as db:
            return await settlement.book_payment(db, reference, market(app))

    outcomes = await asyncio.gather(*(one(str(g.payment_reference)) for g in groups))
    assert outcomes == ["booked"] * 12
    assert await count(app, "ledger_account") == 5
    async with unit_of_work(app.state.runtime.database) as db:
        balances = await ledger_kit.balances(db)
        assert await ledger_checks.unbalanced_transactions(db) == []
        assert await ledger_checks.drifted_accounts(db) == []
    assert sum(balances.values()) == 0
    assert balances[key(AccountKind.provider_clearing, None)] == 12 * 1000 + 10 * sum(range(1, 13))


async def test_accounts_are_found_or_created_in_one_statement(app: Any, database_url: str) -> None:
    """PostgreSQL: one statement whether the accounts exist or not; SQLite: a read, and the
    insert and read of the missing ones only when some are."""
    wanted = {
        key(AccountKind.provider_clearing, None): (str(AccountKind.provider_clearing), None, "NGN"),
        key(AccountKind.platform_revenue, None): (str(AccountKind.platform_revenue), None, "NGN"),
    }
    more = {
        **wanted,
        key(AccountKind.provider_fees, None): (str(AccountKind.provider_fees), None, "NGN"),
    }
    postgres = database_url.startswith("postgresql")
    sent, record = account_statements(app)
    try:
        async with unit_of_work(app.state.runtime.database) as db:
            created = await repository.account_ids(db, wanted)
        new_ones = list(sent)
        sent.clear()
        async with unit_of_work(app.state.runtime.database) as db:
            found = await repository.account_ids(db, more)
        some_new = list(sent)
        sent.clear()
        async with unit_of_work(app.state.runtime.database) as db:
            again = await repository.account_ids(db, more)
    finally:
        event.remove(app.state.runtime.database.engine.sync_engine, "before_cursor_execute", record)
    assert set(created) == set(wanted)
    assert {k: found[k] for k in wanted} == created
    assert again == found
    assert await count(app, "ledger_account") == 3
    if postgres:
        assert (new_ones, some_new, sent) == (["created"], ["created"], ["created"])
    else:
        assert (new_ones, some_new, sent) == (["read", "read"], ["read", "read"], ["read"])
