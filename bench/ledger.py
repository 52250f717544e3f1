"""Ledger posting and balance reads on PostgreSQL.

1. **Posting.** 10,000 paid order groups of 3 stores (one line each) are booked one unit of work
   each through :func:`oja.marketplace.ledger.settlement.book_payment` — read the group, its orders
   and lines, the products' categories and the commission rules, split, insert the transaction, its
   5 postings (one multi-row INSERT), the running balances (one executemany UPDATE) and 3 store
   settlements. SQL statements are counted on the engine (an executemany counts once). Beside it,
   the baseline: the same 5 postings and the transaction row written by bare asyncpg — one
   INSERT and one ``executemany`` per group, in a transaction each, no reads, no balances.
2. **Balance.** One store's pending account is given 1,000,000 postings (COPY, not timed); then
   ``GET /vendors/me/balance``'s service call (:func:`oja.marketplace.ledger.service.store_balance`,
   one indexed read of the running balances) is timed 500 times, beside the SUM over the postings
   that a ledger without running balances would run.

The bench creates its own database on the server (dropped afterwards) and migrates it.

    python bench/ledger.py --database-url postgresql://postgres@127.0.0.1:5432/test \
        [--groups 10000] [--entries 1000000]
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    _bench_dir = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _bench_dir]
    sys.path.insert(0, str(_bench_dir.parent))

import argparse
import asyncio
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import event

from bench.common import machine_line, markdown_table, percentile
from oja.core.db import Database, unit_of_work
from oja.core.ids import uuid7
from oja.core.logging import configure_logging
from oja.marketplace.config import MarketplaceSettings
from oja.marketplace.ledger import service, settlement

STORES = 3


async def _admin(server: str, sql: str) -> None:
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def seed(dsn: str, groups: int) -> tuple[uuid.UUID, list[uuid.UUID], list[str]]:
    """A buyer, 3 stores and ``groups`` paid groups (3 store orders, one line each)."""
    conn = await asyncpg.connect(dsn)
    now = datetime.now(UTC)
    buyer = uuid7()
    stores = [uuid7() for _ in range(STORES)]
    try:
        await conn.execute(
            'INSERT INTO "user" (id, email, is_active, created_at, updated_at) '
            "VALUES ($1, $2, true, $3, $3)",
            buyer,
            f"bench-{buyer.hex[:8]}@example.com",
            now,
        )
        await conn.executemany(
            "INSERT INTO vendor (id, name, slug, status, created_at, updated_at) "
            "VALUES ($1, $2, $3, 'approved', $4, $4)",
            [(s, f"Bench {n}", f"bench-{n}-{s.hex[:6]}", now) for n, s in enumerate(stores)],
        )
        references, group_rows, order_rows, line_rows = [], [], [], []
        for g in range(groups):
            group_id, reference = uuid7(), f"oja_bench_{g}_{uuid.uuid4().hex[:8]}"
            amounts = [1000 + g % 97, 2500 + g % 13, 999]
            references.append(reference)
            group_rows.append(
                (
                    group_id,
                    buyer,
                    "paid",
                    "NGN",
                    sum(amounts),
                    0,
                    sum(amounts),
                    "{}",
                    "paystack",
                    reference,
                    now + timedelta(minutes=30),
                    now,
                    now,
                    now,
                )
            )
            for store, amount in zip(stores, amounts, strict=True):
                order_id = uuid7()
                order_rows.append(
                    (
                        order_id,
                        store,
                        group_id,
                        buyer,
                        "confirmed",
                        "NGN",
                        amount,
                        0,
                        amount,
                        0,
                        now,
                        now,
                    )
                )
                line_rows.append(
                    (uuid7(), store, order_id, "Tea", "TEA-1", "{}", 1, amount, 0, 0, amount, 0)
                )
        await conn.copy_records_to_table(
            "order_group",
            records=group_rows,
            columns=[
                "id",
                "buyer_id",
                "status",
                "currency",
                "subtotal",
                "discount_total",
                "total",
                "shipping_address",
                "provider",
                "payment_reference",
                "expires_at",
                "paid_at",
                "created_at",
                "updated_at",
            ],
        )
        await conn.copy_records_to_table(
            "store_order",
            records=order_rows,
            columns=[
                "id",
                "vendor_id",
                "group_id",
                "buyer_id",
                "status",
                "currency",
                "subtotal",
                "discount_total",
                "total",
                "refunded_amount",
                "created_at",
                "updated_at",
            ],
        )
        await conn.copy_records_to_table(
            "order_line",
            records=line_rows,
            columns=[
                "id",
                "vendor_id",
                "order_id",
                "title",
                "sku",
                "options",
                "quantity",
                "unit_price",
                "unit_discount",
                "tax",
                "line_total",
                "returned_quantity",
            ],
        )
    finally:
        await conn.close()
    return buyer, stores, references


async def post_with_oja(url: str, references: list[str]) -> tuple[float, float]:
    """Seconds to book every group, and SQL statements per group."""
    database = Database(url)
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    market = MarketplaceSettings()
    started = time.perf_counter()
    for reference in references:
        async with unit_of_work(database) as db:
            outcome = await settlement.book_payment(db, reference, market)
            assert outcome == "booked", outcome
    elapsed = time.perf_counter() - started
    await database.dispose()
    # Every unit of work also sends BEGIN and COMMIT through the driver, not the cursor.
    return elapsed, statements / len(references)


async def post_bare(dsn: str, stores: list[uuid.UUID], groups: int) -> float:
    """The same rows (a transaction, 5 postings) per group, by bare asyncpg."""
    conn = await asyncpg.connect(dsn)
    try:
        accounts = dict(await conn.fetch("SELECT key, id FROM ledger_account"))
        clearing = accounts["provider_clearing:platform:NGN"]
        revenue = accounts["platform_revenue:platform:NGN"]
        pending = [accounts[f"store_pending:{s}:NGN"] for s in stores]
        started = time.perf_counter()
        for g in range(groups):
            now = datetime.now(UTC)
            amounts = [1000 + g % 97, 2500 + g % 13, 999]
            fees = [-(-a // 10) for a in amounts]
            transaction_id = uuid7()
            rows = [
                (uuid7(), transaction_id, clearing, None, "payment", sum(amounts), "NGN", None, now)
            ]
            rows += [
                (
                    uuid7(),
                    transaction_id,
                    pending[i],
                    stores[i],
                    "sale",
                    -(a - fees[i]),
                    "NGN",
                    None,
                    now,
                )
                for i, a in enumerate(amounts)
            ]
            rows.append(
                (uuid7(), transaction_id, revenue, None, "commission", -sum(fees), "NGN", None, now)
            )
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO ledger_transaction (id, source, kind, currency, amount, created_at) "
                    "VALUES ($1, $2, 'payment', 'NGN', $3, $4)",
                    transaction_id,
                    f"bare:{g}",
                    sum(amounts),
                    now,
                )
                await conn.executemany(
                    "INSERT INTO ledger_posting (id, transaction_id, account_id, vendor_id, "
                    "entry_type, amount, currency, order_id, created_at) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    rows,
                )
        return time.perf_counter() - started
    finally:
        await conn.close()


async def fill(dsn: str, store: uuid.UUID, entries: int) -> int:
    """Give the store's pending account ``entries`` postings (and its balance their sum)."""
    conn = await asyncpg.connect(dsn)
    try:
        account = await conn.fetchval(
            "SELECT id FROM ledger_account WHERE key = $1", f"store_pending:{store}:NGN"
        )
        transaction_id = uuid7()
        now = datetime.now(UTC)
        await conn.execute(
            "INSERT INTO ledger_transaction (id, source, kind, currency, amount, created_at) "
            "VALUES ($1, 'bench:fill', 'adjustment', 'NGN', 0, $2)",
            transaction_id,
            now,
        )
        batch = 100_000
        for start in range(0, entries, batch):
            await conn.copy_records_to_table(
                "ledger_posting",
                records=[
                    (
                        uuid7(),
                        transaction_id,
                        account,
                        store,
                        "adjustment",
                        1 if n % 2 else -1,
                        "NGN",
                        None,
                        now,
                    )
                    for n in range(start, min(entries, start + batch))
                ],
                columns=[
                    "id",
                    "transaction_id",
                    "account_id",
                    "vendor_id",
                    "entry_type",
                    "amount",
                    "currency",
                    "order_id",
                    "created_at",
                ],
            )
        await conn.execute("ANALYZE ledger_posting")
        count: int = await conn.fetchval(
            "SELECT count(*) FROM ledger_posting WHERE account_id = $1", account
        )
        return count
    finally:
        await conn.close()


async def time_balance(
    url: str, dsn: str, store: uuid.UUID, rounds: int, sum_rounds: int
) -> dict[str, list[float]]:
    database = Database(url)
    conn = await asyncpg.connect(dsn)
    timings: dict[str, list[float]] = {"oja": [], "sum": []}
    try:
        for n in range(rounds):
            started = time.perf_counter()
            async with unit_of_work(database) as db:
                await service.store_balance(db, store)
            timings["oja"].append((time.perf_counter() - started) * 1000)
            if n >= sum_rounds:
                continue
            started = time.perf_counter()
            await conn.fetch(
                "SELECT a.kind, a.currency, coalesce(sum(p.amount), 0) FROM ledger_account a "
                "LEFT JOIN ledger_posting p ON p.account_id = a.id WHERE a.vendor_id = $1 "
                "GROUP BY a.kind, a.currency",
                store,
            )
            timings["sum"].append((time.perf_counter() - started) * 1000)
    finally:
        await conn.close()
        await database.dispose()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database-url", default=os.environ.get("OJA_TEST_POSTGRES_URL"))
    parser.add_argument("--groups", type=int, default=10_000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--reads", type=int, default=500)
    parser.add_argument(
        "--sum-reads", type=int, default=20, help="SUM reads (each scans the million postings)."
    )
    args = parser.parse_args()
    configure_logging("WARNING")
    if not args.database_url:
        parser.error("--database-url (or OJA_TEST_POSTGRES_URL) is required: PostgreSQL only")
    server = args.database_url.replace("postgresql+asyncpg://", "postgresql://")
    name = f"oja_bench_ledger_{uuid.uuid4().hex[:8]}"
    dsn = f"{server.rpartition('/')[0]}/{name}"
    url = "postgresql+asyncpg://" + dsn.removeprefix("postgresql://")
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        from oja.core.migrate import upgrade

        upgrade(url)
        _, stores, references = asyncio.run(seed(dsn, args.groups))
        oja_seconds, per_group = asyncio.run(post_with_oja(url, references))
        bare_seconds = asyncio.run(post_bare(dsn, stores, args.groups))
        entries = asyncio.run(fill(dsn, stores[0], args.entries))
        reads = asyncio.run(time_balance(url, dsn, stores[0], args.reads, args.sum_reads))
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(machine_line())
    print(
        f"Posting {args.groups} paid groups of {STORES} stores, one unit of work each, PostgreSQL"
    )
    print(
        markdown_table(
            ["", "groups/s", "SQL statements per group", "rows written per group"],
            [
                [
                    "Oja (book_payment)",
                    f"{args.groups / oja_seconds:,.0f}",
                    f"{per_group:.1f}",
                    "1 transaction, 5 postings, 4 balances, 3 settlements",
                ],
                [
                    "bare asyncpg executemany",
                    f"{args.groups / bare_seconds:,.0f}",
                    "2",
                    "1 transaction, 5 postings",
                ],
            ],
        )
    )
    print()
    print(
        f"Balance of a store whose pending account has {entries:,} postings: {args.reads} reads "
        f"(SUM: the first {args.sum_reads})"
    )
    print(
        markdown_table(
            ["", "p50 ms", "p95 ms", "p99 ms"],
            [
                [
                    label,
                    f"{percentile(v, 50):.2f}",
                    f"{percentile(v, 95):.2f}",
                    f"{percentile(v, 99):.2f}",
                ]
                for label, v in (
                    ("Oja: running balances (store_balance)", reads["oja"]),
                    ("SUM over the postings (asyncpg)", reads["sum"]),
                )
            ],
        )
    )


if __name__ == "__main__":
    main()
