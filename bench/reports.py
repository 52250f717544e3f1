"""A year's sales report for a store with 100,000 orders, on PostgreSQL.

One store gets ``--orders`` paid store orders spread over the last 365 days (one or two lines of
20 products in 4 categories, 10 % commission, every 20th order refunded in full a few days later
through a ledger refund transaction and its commission reversal), and ``--views`` product views
(written by COPY, not timed). The daily rollup job's work is then run once over the 365 closed
days (timed once), and the report is read ``--reads`` times:

* **Oja**: :func:`oja.marketplace.reports.service.sales_report` — the service call of
  ``GET /vendors/me/reports/sales`` — over the year by month, in the rollups' zone: one range read
  of the sales rollup, one of the visits, one grouped read of the product rollup, and the last two
  days counted live from the raw rows;
* **baseline, same run**: the same monthly figures (orders, units, gross, discounts, commission,
  refunds, commission reversed) computed from the raw order, settlement, line and ledger rows by
  one SQL statement per figure family on asyncpg — the aggregate a report without rollups runs;
* **Oja live path** (fewer rounds): the same report asked in another zone (``tz=UTC``), which
  Oja counts from the raw rows in Python.

    python bench/reports.py --database-url postgresql://postgres@127.0.0.1:5432/test \
        [--orders 100000] [--views 200000] [--reads 200]
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
import gc
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from bench.common import machine_line, markdown_table, percentile
from oja.core.db import Database, unit_of_work
from oja.core.ids import uuid7
from oja.core.logging import configure_logging
from oja.marketplace.reports import rollup, service
from oja.marketplace.reports.config import ReportSettings
from oja.marketplace.reports.schemas import Granularity

ZONE = "Africa/Lagos"
PRODUCTS = 20
CATEGORIES = 4

RAW_SALES = """
SELECT date_trunc('month', s.created_at AT TIME ZONE $2) AS bucket, o.currency,
       count(*), sum(o.total + o.discount_total), sum(o.discount_total), sum(s.commission)
FROM store_settlement s JOIN store_order o ON o.id = s.order_id
WHERE s.vendor_id = $1 AND o.vendor_id = $1 AND s.created_at >= $3 AND s.created_at < $4
GROUP BY 1, 2
"""
RAW_UNITS = """
SELECT date_trunc('month', s.created_at AT TIME ZONE $2), sum(l.quantity)
FROM store_settlement s JOIN order_line l ON l.order_id = s.order_id
WHERE s.vendor_id = $1 AND l.vendor_id = $1 AND s.created_at >= $3 AND s.created_at < $4
GROUP BY 1
"""
RAW_REFUNDS = """
SELECT date_trunc('month', t.created_at AT TIME ZONE $2), sum(t.amount)
FROM ledger_transaction t JOIN store_order o ON o.id = t.order_id
WHERE t.kind = 'refund' AND o.vendor_id = $1 AND t.created_at >= $3 AND t.created_at < $4
GROUP BY 1
"""
RAW_COMMISSION_BACK = """
SELECT date_trunc('month', p.created_at AT TIME ZONE $2), sum(p.amount)
FROM ledger_posting p JOIN store_order o ON o.id = p.order_id
WHERE p.entry_type = 'commission_refund' AND o.vendor_id = $1
  AND p.created_at >= $3 AND p.created_at < $4
GROUP BY 1
"""


async def _admin(server: str, sql: str) -> None:
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def seed(dsn: str, orders: int, views: int) -> uuid.UUID:
    """One store, its products, ``orders`` paid orders over the year, refunds and views."""
    rng = random.Random(23)
    conn = await asyncpg.connect(dsn)
    now = datetime.now(UTC)
    buyer, store = uuid7(), uuid7()
    categories = [uuid7() for _ in range(CATEGORIES)]
    products = [(uuid7(), categories[n % CATEGORIES], 1000 + 250 * n) for n in range(PRODUCTS)]
    try:
        await conn.execute(
            'INSERT INTO "user" (id, email, is_active, created_at, updated_at) '
            "VALUES ($1, $2, true, $3, $3)",
            buyer,
            f"bench-{buyer.hex[:8]}@example.com",
            now,
        )
        await conn.execute(
            "INSERT INTO vendor (id, name, slug, status, created_at, updated_at) "
            "VALUES ($1, 'Bench store', $2, 'approved', $3, $3)",
            store,
            f"bench-{store.hex[:8]}",
            now,
        )
        await conn.executemany(
            "INSERT INTO category (id, name, slug, path, created_at, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, $5)",
            [
                (c, f"Category {n}", f"bench-cat-{n}-{c.hex[:6]}", f"/{c}", now)
                for n, c in enumerate(categories)
            ],
        )
        await conn.executemany(
            "INSERT INTO product (id, vendor_id, title, category_id, attributes, status, "
            "created_at, updated_at) VALUES ($1, $2, $3, $4, '{}', 'active', $5, $5)",
            [(p, store, f"Product {n}", c, now) for n, (p, c, _) in enumerate(products)],
        )
        account = uuid7()
        await conn.execute(
            "INSERT INTO ledger_account (id, key, kind, vendor_id, currency, balance, created_at) "
            "VALUES ($1, 'platform_revenue:platform:NGN', 'platform_revenue', NULL, 'NGN', 0, $2)",
            account,
            now,
        )
        groups, store_orders, lines, settlements, transactions, postings = [], [], [], [], [], []
        for n in range(orders):
            sold = now - timedelta(seconds=rng.randint(3600, 365 * 86400))
            chosen = rng.sample(products, rng.choice((1, 2)))
            rows = [(p, c, price, rng.randint(1, 3)) for p, c, price in chosen]
            total = sum(price * q for _, _, price, q in rows)
            fee = total // 10
            group_id, order_id = uuid7(), uuid7()
            groups.append(
                (group_id, buyer, "paid", "NGN", total, 0, total, "{}", "paystack",
                 f"bench-{n}-{group_id.hex[:8]}", sold + timedelta(minutes=30), sold, sold, sold)
            )  # fmt: skip
            store_orders.append(
                (order_id, store, group_id, buyer, "confirmed", "NGN", total, 0, total, 0,
                 sold, sold, sold)
            )  # fmt: skip
            for product, _, price, quantity in rows:
                lines.append(
                    (uuid7(), store, order_id, product, "Bench", "B-1", "{}", quantity, price,
                     0, 0, price * quantity, 0)
                )  # fmt: skip
            settlements.append(
                (uuid7(), store, order_id, group_id, "NGN", total, fee, "{}", 0, 0, "{}", "held",
                 sold, sold)
            )  # fmt: skip
            if n % 20 == 0:
                refunded = min(sold + timedelta(days=rng.randint(0, 5)), now)
                transaction_id = uuid7()
                transactions.append(
                    (transaction_id, f"bench-refund:{order_id}", "refund", "NGN", total,
                     group_id, order_id, refunded)
                )  # fmt: skip
                postings.append(
                    (uuid7(), transaction_id, account, None, "commission_refund", fee, "NGN",
                     order_id, refunded)
                )  # fmt: skip
        await conn.copy_records_to_table(
            "order_group",
            records=groups,
            columns=["id", "buyer_id", "status", "currency", "subtotal", "discount_total",
                     "total", "shipping_address", "provider", "payment_reference", "expires_at",
                     "paid_at", "created_at", "updated_at"],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "store_order",
            records=store_orders,
            columns=["id", "vendor_id", "group_id", "buyer_id", "status", "currency", "subtotal",
                     "discount_total", "total", "refunded_amount", "confirmed_at", "created_at",
                     "updated_at"],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "order_line",
            records=lines,
            columns=["id", "vendor_id", "order_id", "product_id", "title", "sku", "options",
                     "quantity", "unit_price", "unit_discount", "tax", "line_total",
                     "returned_quantity"],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "store_settlement",
            records=settlements,
            columns=["id", "vendor_id", "order_id", "group_id", "currency", "total",
                     "commission", "lines", "refunded", "commission_refunded", "line_refunds",
                     "status", "created_at", "updated_at"],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "ledger_transaction",
            records=transactions,
            columns=["id", "source", "kind", "currency", "amount", "group_id", "order_id",
                     "created_at"],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "ledger_posting",
            records=postings,
            columns=["id", "transaction_id", "account_id", "vendor_id", "entry_type", "amount",
                     "currency", "order_id", "created_at"],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "behaviour_event",
            records=[
                (uuid7(), "view", f"c:{rng.randint(1, views // 4 or 1)}",
                 products[rng.randrange(PRODUCTS)][0],
                 now - timedelta(seconds=rng.randint(60, 365 * 86400)))
                for _ in range(views)
            ],
            columns=["id", "kind", "subject", "product_id", "created_at"],
        )  # fmt: skip
        for table in ("store_settlement", "store_order", "order_line", "ledger_transaction",
                      "ledger_posting", "behaviour_event"):  # fmt: skip
            await conn.execute(f"ANALYZE {table}")
    finally:
        await conn.close()
    return store


async def run_rollup(url: str) -> tuple[float, dict[str, object]]:
    database = Database(url)
    zone = ZoneInfo(ZONE)
    yesterday = rollup.local_today(zone) - timedelta(days=1)
    started = time.perf_counter()
    async with unit_of_work(database) as db:
        outcome = await rollup.rollup(db, yesterday - timedelta(days=365), yesterday, zone, None)
    elapsed = time.perf_counter() - started
    await database.dispose()
    return elapsed, outcome


async def time_reports(
    url: str, dsn: str, store: uuid.UUID, reads: int, live_reads: int
) -> dict[str, list[float]]:
    database = Database(url)
    conn = await asyncpg.connect(dsn)
    settings = ReportSettings(time_zone=ZONE)
    zone = ZoneInfo(ZONE)
    last = rollup.local_today(zone)
    first = last - timedelta(days=365)
    start, end = rollup.day_bounds(first, last, zone)
    timings: dict[str, list[float]] = {"oja": [], "raw": [], "live": []}
    # As the app's lifespan does once started (oja.main): what is loaded is never collected.
    gc.collect()
    gc.freeze()
    try:
        for n in range(reads):
            started = time.perf_counter()
            async with unit_of_work(database) as db:
                report = await service.sales_report(
                    db,
                    store,
                    first=first,
                    last=last,
                    granularity=Granularity.month,
                    tz=None,
                    settings=settings,
                )
            timings["oja"].append((time.perf_counter() - started) * 1000)
            assert report.totals.sales, "the report found no sales"
            started = time.perf_counter()
            async with conn.transaction():
                for sql in (RAW_SALES, RAW_UNITS, RAW_REFUNDS, RAW_COMMISSION_BACK):
                    await conn.fetch(sql, store, ZONE, start, end)
            timings["raw"].append((time.perf_counter() - started) * 1000)
            if n < live_reads:
                started = time.perf_counter()
                async with unit_of_work(database) as db:
                    await service.sales_report(
                        db,
                        store,
                        first=first,
                        last=last,
                        granularity=Granularity.month,
                        tz="UTC",
                        settings=settings,
                    )
                timings["live"].append((time.perf_counter() - started) * 1000)
    finally:
        await conn.close()
        await database.dispose()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database-url", default=os.environ.get("OJA_TEST_POSTGRES_URL"))
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--views", type=int, default=200_000)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--live-reads", type=int, default=5)
    args = parser.parse_args()
    configure_logging("WARNING")
    if not args.database_url:
        parser.error("--database-url (or OJA_TEST_POSTGRES_URL) is required: PostgreSQL only")
    server = args.database_url.replace("postgresql+asyncpg://", "postgresql://")
    name = f"oja_bench_reports_{uuid.uuid4().hex[:8]}"
    dsn = f"{server.rpartition('/')[0]}/{name}"
    url = "postgresql+asyncpg://" + dsn.removeprefix("postgresql://")
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        from oja.core.migrate import upgrade

        upgrade(url)
        store = asyncio.run(seed(dsn, args.orders, args.views))
        rollup_seconds, outcome = asyncio.run(run_rollup(url))
        timings = asyncio.run(time_reports(url, dsn, store, args.reads, args.live_reads))
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(machine_line())
    print(
        f"Sales report over one year by month, one store with {args.orders:,} orders and "
        f"{args.views:,} product views, PostgreSQL; {args.reads} reads "
        f"(live path: the first {args.live_reads})"
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
                    ("Oja: rollups + the last 2 days live (sales_report)", timings["oja"]),
                    (
                        "baseline: the same monthly aggregates over the raw rows (asyncpg SQL)",
                        timings["raw"],
                    ),
                    ("Oja in another zone: counted live from the raw rows", timings["live"]),
                )
            ],
        )
    )
    print()
    print(f"Rollup of 365 closed days (one run, all stores): {rollup_seconds:.1f} s, {outcome}")


if __name__ == "__main__":
    main()
