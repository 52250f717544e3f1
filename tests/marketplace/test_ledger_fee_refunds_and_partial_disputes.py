"""Refunds give the store back the fee it bore (Paystack keeps its fee: the platform absorbs it),
so a fully refunded store ends as if it never sold; a dispute for part of a group freezes and,
when lost, reverses only that part, apportioned over the store orders by largest remainder.

One group throughout: store A sells 2999, store B 1001 (4000), Paystack's fee 77. Commission
10 % rounded up: A 300, B 101. With ``vendor`` as fee bearer, A bears 77 × 2999 ÷ 4000 = 57,
B 77 × 1001 ÷ 4000 = 19, the platform the remainder kobo (1).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from oja.core.db import unit_of_work
from oja.marketplace.config import MarketplaceSettings
from oja.marketplace.ledger import checks as ledger_checks
from oja.marketplace.ledger import commission, disputes, settlement
from oja.marketplace.orders.models import StoreOrder

from . import ledger_kit
from .conftest import count, rows

FEES = 77


async def booked(app: Any, bearer: str) -> tuple[str, StoreOrder, StoreOrder]:
    market = app.state.runtime.settings.section(MarketplaceSettings)
    market = market.model_copy(update={"fee_bearer": bearer})
    async with unit_of_work(app.state.runtime.database) as db:
        buyer, (a, b) = await ledger_kit.people(db, 2)
        group, orders, _ = await ledger_kit.add_group(db, buyer, {a: [2999], b: [1001]})
        reference = str(group.payment_reference)
        assert await settlement.book_payment(db, reference, market, fees=FEES) == "booked"
    by_store = {o.vendor_id: o for o in orders}
    return reference, by_store[a], by_store[b]


async def balances(app: Any) -> dict[str, int]:
    """Every account's balance by kind (stores: ``kind:A``/``kind:B``), after the invariants."""
    async with unit_of_work(app.state.runtime.database) as db:
        assert await ledger_checks.unbalanced_transactions(db) == []
        assert await ledger_checks.drifted_accounts(db) == []
        found = await ledger_kit.balances(db)
    assert sum(found.values()) == 0
    return {k: v for k, v in found.items() if v or not k.startswith("store_frozen")}


def named(found: dict[str, int], a: StoreOrder, b: StoreOrder) -> dict[str, int]:
    names = {str(a.vendor_id): "A", str(b.vendor_id): "B", "platform": "platform"}
    return {f"{k.split(':')[0]}:{names[k.split(':')[1]]}": v for k, v in found.items()}


async def refund(app: Any, order: StoreOrder, amount: int, refund_id: uuid.UUID) -> str:
    async with unit_of_work(app.state.runtime.database) as db:
        return await settlement.book_refund(
            db,
            refund_id=refund_id,
            vendor_id=order.vendor_id,
            order_id=order.id,
            source="cancellation",
            source_id=order.id,
            amount=amount,
        )


@pytest.mark.parametrize("bearer", ["vendor", "platform"])
async def test_a_full_refund_leaves_the_store_as_if_it_never_sold_under_either_bearer(
    app: Any, bearer: str
) -> None:
    _, a, b = await booked(app, bearer)
    a_fee, b_fee, platform_fee = (57, 19, 1) if bearer == "vendor" else (0, 0, FEES)
    assert named(await balances(app), a, b) == {
        "provider_clearing:platform": 4000 - FEES,
        "provider_fees:platform": platform_fee,
        "platform_revenue:platform": -(300 + 101),
        "store_pending:A": -(2999 - 300 - a_fee),
        "store_pending:B": -(1001 - 101 - b_fee),
    }

    # 1000 of A refunded: the store's part is its share of it rounded down, the platform's
    # parts take the remainder. Store bearing fees: 1000 − 300 × 1000 / 2999 − 57 × 1000 / 2999
    # = 880.96 → 880; its fee 19.006 → 20 comes back, and 120 − 20 = 100 of commission.
    # Platform bearing them: 1000 − 100.03 → 899, so 101 of commission.
    first = uuid.uuid4()
    assert await refund(app, a, 1000, first) == "booked"
    assert await refund(app, a, 1000, first) == "already_booked"
    back, given = (20, 100) if bearer == "vendor" else (0, 101)
    found = named(await balances(app), a, b)
    assert found["store_pending:A"] == -(2999 - 300 - a_fee) + (1000 - given) - back
    assert found["provider_fees:platform"] == platform_fee + back

    # The rest: the store is back to nothing, the platform kept the fee it now bears.
    assert await refund(app, a, 1999, uuid.uuid4()) == "booked"
    assert named(await balances(app), a, b) == {
        "provider_clearing:platform": 4000 - FEES - 2999,
        "provider_fees:platform": FEES - b_fee,
        "platform_revenue:platform": -101,
        "store_pending:A": 0,
        "store_pending:B": -(1001 - 101 - b_fee),
    }
    statement = await rows(
        app,
        "SELECT p.entry_type, p.amount FROM ledger_posting p JOIN ledger_transaction t "
        "ON t.id = p.transaction_id WHERE t.kind = 'refund' AND p.vendor_id IS NOT NULL "
        "ORDER BY t.created_at, p.entry_type",
    )
    fee_rows = sorted(int(x) for e, x in statement if e == "fee")
    assert fee_rows == ([-37, -20] if bearer == "vendor" else [])
    assert await count(app, "ledger_transaction", "kind = 'refund'") == 2
    assert await rows(
        app, f"SELECT refunded, commission_refunded FROM store_settlement WHERE total = {2999}"
    ) == [(2999, 300)]


def test_apportioning_is_largest_remainder_exact_and_bounded() -> None:
    assert commission.apportion(1000, [2999, 1001]) == [750, 250]
    assert commission.apportion(2, [1, 1, 1]) == [1, 1, 0]  # ties go to the earlier order
    assert commission.apportion(10, [3, 3]) == [3, 3]  # never more than there is
    assert commission.apportion(7, [0, 5, 0]) == [0, 5, 0]
    for amount in range(40):
        parts = commission.apportion(amount, [13, 7, 19])
        assert sum(parts) == min(amount, 39)
        assert all(0 <= p <= w for p, w in zip(parts, [13, 7, 19], strict=True))
    assert commission.returned_fee(57, 2999, 1000) == 20  # 19.006, rounded up
    assert commission.returned_fee(57, 2999, 5000) == 57


async def dispute(app: Any, reference: str, dispute_id: str, resolution: str | None) -> str:
    async with unit_of_work(app.state.runtime.database) as db:
        return await disputes.apply_dispute(
            db,
            provider="paystack",
            provider_dispute_id=dispute_id,
            reference=reference,
            provider_status="resolved" if resolution else "awaiting-merchant-feedback",
            resolution=resolution,
            amount=1000,
            currency="NGN",
            due_at=None,
        )


async def test_a_partial_dispute_freezes_only_its_part_and_a_win_returns_it(app: Any) -> None:
    reference, a, b = await booked(app, "vendor")
    before = named(await balances(app), a, b)
    assert await dispute(app, reference, "d-won", None) == "opened"
    assert await dispute(app, reference, "d-won", None) == "updated"
    # 1000 over 2999 and 1001: 749.75 and 250.25 → 749 + 250, the kobo left to A (larger
    # remainder). The store's part is its share rounded down: A's 750 less commission
    # 300 × 750 / 2999 = 75.03 and fee 57 × 750 / 2999 = 14.25 is 660.72 → 660, the fee 15
    # (rounded up) and commission 90 − 15 = 75. B's 250 less 25.22 and 4.75: 220, fee 5,
    # commission 25.
    assert await rows(
        app,
        "SELECT o.total, d.frozen, d.commission, d.fee FROM dispute_order d "
        "JOIN store_order o ON o.id = d.order_id ORDER BY o.total DESC",
    ) == [(2999, 660, 75, 15), (1001, 220, 25, 5)]
    found = named(await balances(app), a, b)
    assert (found["store_pending:A"], found["store_frozen:A"]) == (-(2642 - 660), -660)
    assert (found["store_pending:B"], found["store_frozen:B"]) == (-(881 - 220), -220)

    assert await dispute(app, reference, "d-won", "declined") == "won"
    assert await dispute(app, reference, "d-won", "declined") == "updated"
    assert named(await balances(app), a, b) == before
    assert await rows(app, "SELECT refunded, commission_refunded FROM store_settlement") == [
        (0, 0),
        (0, 0),
    ]
    assert await count(app, "ledger_transaction", "kind = 'dispute'") == 2


async def test_a_lost_partial_dispute_reverses_only_its_part_once(app: Any) -> None:
    reference, a, b = await booked(app, "vendor")
    assert await dispute(app, reference, "d-lost", None) == "opened"
    for _ in range(2):
        assert await dispute(app, reference, "d-lost", "merchant-accepted") in {"lost", "updated"}
    assert await count(app, "ledger_transaction", "kind = 'dispute'") == 2
    # The provider took 1000 back; the platform lost 100 of commission and bears the 20 of fee
    # the stores had borne on it; each store lost exactly its frozen share.
    assert named(await balances(app), a, b) == {
        "provider_clearing:platform": 4000 - FEES - 1000,
        "provider_fees:platform": 1 + 15 + 5,
        "platform_revenue:platform": -(401 - 75 - 25),
        "store_pending:A": -(2642 - 660),
        "store_pending:B": -(881 - 220),
    }
    assert sorted(
        await rows(app, "SELECT total, refunded, commission_refunded, status FROM store_settlement")
    ) == [
        (1001, 250, 25, "held"),
        (2999, 750, 75, "held"),
    ]
    # A later refund of the rest of A reverses what is left, never the disputed part again.
    assert await refund(app, a, 2999 - 750, uuid.uuid4()) == "booked"
    found = named(await balances(app), a, b)
    assert found["store_pending:A"] == 0
    assert found["platform_revenue:platform"] == -(101 - 25)
    assert found["provider_fees:platform"] == 1 + 57 + 5
