"""Provider fees booked to the party the configuration names (balanced, once), and the admin's
revenue report equal to a brute-force sum of the ledger's postings."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx

from oja.core.clock import utcnow
from oja.sandbox.paystack import PaystackFake
from tests.conftest import Jobs, use_settings

from .conftest import Person, admin, error_code, person, rows
from .shop import Store, add, checkout, paid_webhook, paystack, paystack_server, settings, shop

__all__ = ["paystack", "paystack_server", "settings"]

REVENUE = "/admin/marketplace/revenue"


async def paid_group(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs, boss: Person
) -> tuple[Store, Store, str]:
    a = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 5}], boss=boss)
    b = await shop(app, client, "Store B", [{"sku": "B-1", "price": 999, "stock": 3}], boss=boss)
    buyer = await person(client)
    await add(client, buyer, a.variant()["id"], 2)
    await add(client, buyer, b.variant()["id"], 1)
    reference = (await checkout(client, buyer)).json()["payment"]["reference"]
    await paid_webhook(app, client, paystack, jobs, reference)
    return a, b, reference


async def balances(app: Any) -> dict[tuple[str, str | None], int]:
    found = await rows(app, "SELECT kind, vendor_id, balance FROM ledger_account")
    return {(k, None if v is None else str(uuid.UUID(str(v)))): int(b) for k, v, b in found}


async def unbalanced(app: Any) -> list[Any]:
    return await rows(
        app,
        "SELECT transaction_id FROM ledger_posting GROUP BY transaction_id HAVING SUM(amount) <> 0",
    )


async def test_the_platform_bears_the_fee_by_default(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    boss = await admin(app, client)
    a, b, reference = await paid_group(app, client, paystack, jobs, boss)
    fee = 2999 * 15 // 1000  # the fake's Paystack fee on 2999 kobo: 44
    assert paystack.transactions[reference].amount == 2999
    assert await balances(app) == {
        ("provider_clearing", None): 2999 - fee,
        ("provider_fees", None): fee,
        ("platform_revenue", None): -300,
        ("store_pending", a.id): -1800,
        ("store_pending", b.id): -899,
    }
    assert await unbalanced(app) == []
    assert await rows(app, "SELECT fee FROM store_settlement") == [(0,), (0,)]
    # A replayed verification books nothing more.
    await paid_webhook(app, client, paystack, jobs, reference)
    assert await rows(app, "SELECT source FROM ledger_transaction ORDER BY source") == [
        (f"fee:{reference}",),
        (f"payment:{reference}",),
    ]

    today = utcnow().date()
    report = await client.get(REVENUE, params={"from": str(today)}, headers=boss.headers)
    assert report.status_code == 200, report.text
    assert report.json() == {
        "from": str(today),
        "to": str(today),
        "granularity": "day",
        "periods": [
            {
                "period": str(today),
                "currency": "NGN",
                "commission": 300,
                "fees": fee,
                "fees_platform": fee,
                "net": 300 - fee,
            }
        ],
    }
    # Brute force: every posting of the period summed by hand.
    postings = await rows(
        app,
        "SELECT a.kind, p.entry_type, p.amount FROM ledger_posting p "
        "JOIN ledger_account a ON a.id = p.account_id",
    )
    commission = -sum(amount for kind, _, amount in postings if kind == "platform_revenue")
    fees = -sum(
        amount for kind, entry, amount in postings if kind == "provider_clearing" and entry == "fee"
    )
    platform = sum(amount for kind, _, amount in postings if kind == "provider_fees")
    [period] = report.json()["periods"]
    assert (period["commission"], period["fees"], period["fees_platform"]) == (
        commission,
        fees,
        platform,
    )
    monthly = await client.get(
        REVENUE,
        params={"from": str(today.replace(day=1)), "to": str(today), "granularity": "month"},
        headers=boss.headers,
    )
    assert [(p["period"], p["net"]) for p in monthly.json()["periods"]] == [
        (today.strftime("%Y-%m"), 300 - fee)
    ]
    later = await client.get(
        REVENUE, params={"from": str(today + timedelta(days=1))}, headers=boss.headers
    )
    assert (later.status_code, error_code(later)) == (422, "validation_error")
    empty = await client.get(
        REVENUE,
        params={"from": str(today - timedelta(days=9)), "to": str(today - timedelta(days=1))},
        headers=boss.headers,
    )
    assert empty.json()["periods"] == []
    too_long = await client.get(
        REVENUE, params={"from": str(today - timedelta(days=400))}, headers=boss.headers
    )
    assert (too_long.status_code, error_code(too_long)) == (422, "validation_error")
    assert (await client.get(REVENUE, headers=a.owner.headers)).status_code == 403


async def test_stores_bear_the_fee_when_configured(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs
) -> None:
    use_settings(app, fee_bearer="vendor")
    boss = await admin(app, client)
    a, b, _ = await paid_group(app, client, paystack, jobs, boss)
    fee = 2999 * 15 // 1000
    part_a, part_b = fee * 2000 // 2999, fee * 999 // 2999  # 29 and 14; the platform absorbs 1
    assert await balances(app) == {
        ("provider_clearing", None): 2999 - fee,
        ("provider_fees", None): fee - part_a - part_b,
        ("platform_revenue", None): -300,
        ("store_pending", a.id): -(1800 - part_a),
        ("store_pending", b.id): -(899 - part_b),
    }
    assert await unbalanced(app) == []
    fees = await rows(
        app,
        "SELECT s.fee FROM store_settlement s JOIN vendor v ON v.id = s.vendor_id ORDER BY s.fee",
    )
    assert fees == [(part_b,), (part_a,)]
    shown = await client.get("/vendors/me/ledger", params={"type": "fee"}, headers=a.owner.headers)
    assert [(e["type"], e["amount"]) for e in shown.json()["items"]] == [("fee", -part_a)]
    today = utcnow().date()
    report = await client.get(REVENUE, params={"from": str(today)}, headers=boss.headers)
    [period] = report.json()["periods"]
    assert (period["fees"], period["fees_platform"], period["net"]) == (
        fee,
        fee - part_a - part_b,
        300 - (fee - part_a - part_b),
    )
