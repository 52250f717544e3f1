"""``POST /checkout`` latency on PostgreSQL: a 10-line cart across 3 stores, paid through the
Paystack fake, next to the same statements sent as raw SQL (asyncpg) in the same run.

Oja runs under uvicorn (one process) on 127.0.0.1 against a fresh PostgreSQL database created on
the given server (dropped afterwards); the Paystack fake runs in this process on 127.0.0.1. Each
round refills the buyer's cart (10 ``POST /cart/items``, not timed) and times one checkout. The
baseline does, per round, what the checkout's SQL does — read the cart with its variants, products,
stores and discounts, reserve the 10 variants in one conditional UPDATE, insert the stock movements,
the payment, the group, 3 store orders, 10 lines, 3 transitions, delete the cart — in one
transaction, with the same Paystack initialise call in the middle, and no framework around it.
Rounds alternate Oja and baseline so the drift of a shared machine falls on both.

    python bench/checkout.py --database-url postgresql://postgres@127.0.0.1:5432/test [--rounds 100]
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
import json
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from bench.common import (
    HOST,
    bench_env,
    free_port,
    machine_line,
    markdown_table,
    percentile,
    start_process,
    stop_process,
    wait_http_ok,
)
from oja.sandbox.paystack import PaystackFake
from oja.sandbox.server import SandboxServer

SECRET = "sk_test_bench_paystack"
PASSWORD = "correct horse battery"
ADDRESS = {"name": "Ada Obi", "line1": "12 Allen Avenue", "city": "Ikeja", "country": "NG"}
STORES = (4, 3, 3)


async def _signup(client: httpx.AsyncClient, prefix: str) -> dict[str, str]:
    email = f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"
    created = await client.post("/auth/signup", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}", "id": created.json()["id"]}


async def setup(client: httpx.AsyncClient, dsn: str) -> tuple[dict[str, str], list[str]]:
    """Three approved stores with 10 active variants between them; a buyer."""
    variants: list[str] = []
    for n, size in enumerate(STORES):
        owner = await _signup(client, f"vendor{n}")
        headers = {"Authorization": owner["Authorization"]}
        store = await client.post("/vendors", json={"name": f"Bench {n}"}, headers=headers)
        assert store.status_code == 201, store.text
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(
                "UPDATE vendor SET status = 'approved' WHERE id = $1", uuid.UUID(store.json()["id"])
            )
        finally:
            await conn.close()
        for i in range(size):
            product = await client.post(
                "/products",
                json={
                    "title": f"Bench {n}-{i}",
                    "status": "active",
                    "variants": [{"sku": f"B{n}-{i}", "price": 1000 + i, "stock": 1_000_000}],
                },
                headers=headers,
            )
            assert product.status_code == 201, product.text
            variants.append(product.json()["variants"][0]["id"])
    return await _signup(client, "buyer"), variants


async def oja_round(client: httpx.AsyncClient, buyer: dict[str, str], variants: list[str]) -> float:
    headers = {"Authorization": buyer["Authorization"]}
    for variant in variants:
        added = await client.post("/cart/items", json={"variant_id": variant}, headers=headers)
        assert added.status_code == 201, added.text
    started = time.perf_counter()
    response = await client.post("/checkout", json={"shipping_address": ADDRESS}, headers=headers)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 201, response.text
    return elapsed


CART = """
SELECT c.id, c.quantity, v.id, v.price, v.currency, v.sku, v.options, v.vendor_id, p.id, p.title,
       p.status, s.status, g.path
FROM cart_item c JOIN product_variant v ON v.id = c.variant_id
JOIN product p ON p.id = v.product_id JOIN vendor s ON s.id = p.vendor_id
LEFT JOIN category g ON g.id = p.category_id
WHERE c.buyer_id = $1 AND v.vendor_id = s.id AND p.vendor_id = s.id ORDER BY c.added_at, c.id
"""
DISCOUNTS = """
SELECT * FROM discount WHERE vendor_id = ANY($1::uuid[]) AND code IS NULL AND starts_at <= $2
AND (ends_at IS NULL OR ends_at > $2)
"""
RESERVE = """
UPDATE product_variant SET stock = stock - w.q, updated_at = $3
FROM unnest($1::uuid[], $2::int[]) AS w(id, q)
WHERE product_variant.id = w.id AND product_variant.stock >= w.q RETURNING product_variant.id, stock
"""


async def baseline_round(
    pool: asyncpg.Pool, paystack: httpx.AsyncClient, buyer_id: uuid.UUID, variants: list[str]
) -> float:
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        await conn.executemany(
            "INSERT INTO cart_item (id, buyer_id, variant_id, quantity, price_seen, currency, "
            "added_at, updated_at) VALUES ($1, $2, $3, 1, 0, 'NGN', $4, $4)",
            [(uuid.uuid4(), buyer_id, uuid.UUID(v), now) for v in variants],
        )
    started = time.perf_counter()
    async with pool.acquire() as conn, conn.transaction():
        lines = await conn.fetch(CART, buyer_id)
        await conn.fetch(DISCOUNTS, list({r[7] for r in lines}), now)
        reserved = await conn.fetch(RESERVE, [r[2] for r in lines], [r[1] for r in lines], now)
        assert len(reserved) == len(lines)
        stock = {r[0]: r[1] for r in reserved}
        await conn.executemany(
            "INSERT INTO stock_movement (id, vendor_id, variant_id, actor_id, reason, stock_before,"
            " stock_after, delta, created_at) VALUES ($1, $2, $3, $4, 'checkout', $5, $6, $7, $8)",
            [
                (uuid.uuid4(), r[7], r[2], buyer_id, stock[r[2]] + r[1], stock[r[2]], -r[1], now)
                for r in lines
            ],
        )
        total = sum(r[1] * r[3] for r in lines)
        reference = f"base_{uuid.uuid4().hex}"
        started_tx = await paystack.post(
            "/transaction/initialize",
            json={
                "email": "b@example.com",
                "amount": total,
                "currency": "NGN",
                "reference": reference,
            },
        )
        data = started_tx.json()["data"]
        await conn.execute(
            "INSERT INTO payment (id, user_id, provider, reference, status, amount, currency, "
            "amount_refunded, email, authorization_url, access_code, extra, created_at, updated_at)"
            " VALUES ($1, $2, 'paystack', $3, 'pending', $4, 'NGN', 0, 'b@example.com', $5, $6,"
            " '{}', $7, $7)",
            uuid.uuid4(),
            buyer_id,
            reference,
            total,
            data["authorization_url"],
            data["access_code"],
            now,
        )
        group_id = uuid.uuid4()
        await conn.execute(
            "INSERT INTO order_group (id, buyer_id, status, currency, subtotal, discount_total, "
            "total, shipping_address, provider, payment_reference, authorization_url, expires_at,"
            " created_at, updated_at) VALUES ($1, $2, 'awaiting_payment', 'NGN', $3, 0, $3, $4,"
            " 'paystack', $5, $6, $7, $8, $8)",
            group_id,
            buyer_id,
            total,
            json.dumps(ADDRESS),
            reference,
            data["authorization_url"],
            now + timedelta(minutes=30),
            now,
        )
        orders = {vendor: uuid.uuid4() for vendor in dict.fromkeys(r[7] for r in lines)}
        await conn.executemany(
            "INSERT INTO store_order (id, vendor_id, group_id, buyer_id, status, currency, "
            "subtotal, discount_total, total, refunded_amount, created_at, updated_at) VALUES "
            "($1, $2, $3, $4, 'pending', 'NGN', $5, 0, $5, 0, $6, $6)",
            [
                (
                    oid,
                    vendor,
                    group_id,
                    buyer_id,
                    sum(r[1] * r[3] for r in lines if r[7] == vendor),
                    now,
                )
                for vendor, oid in orders.items()
            ],
        )
        await conn.executemany(
            "INSERT INTO order_line (id, vendor_id, order_id, product_id, variant_id, title, sku, "
            "options, quantity, unit_price, unit_discount, tax, line_total, returned_quantity) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, 0, $11, 0)",
            [
                (
                    uuid.uuid4(),
                    r[7],
                    orders[r[7]],
                    r[8],
                    r[2],
                    r[9],
                    r[5],
                    r[6],
                    r[1],
                    r[3],
                    r[1] * r[3],
                )
                for r in lines
            ],
        )
        await conn.executemany(
            "INSERT INTO order_transition (id, vendor_id, order_id, to_status, actor_id, note, "
            "created_at) VALUES ($1, $2, $3, 'pending', $4, 'checkout', $5)",
            [(uuid.uuid4(), vendor, oid, buyer_id, now) for vendor, oid in orders.items()],
        )
        await conn.execute(
            "DELETE FROM cart_item WHERE buyer_id = $1 AND id = ANY($2::uuid[])",
            buyer_id,
            [r[0] for r in lines],
        )
    return (time.perf_counter() - started) * 1000


async def run(base_url: str, dsn: str, paystack_url: str, rounds: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {"oja": [], "baseline": []}
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        buyer, variants = await setup(client, dsn)
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        headers = {"Authorization": f"Bearer {SECRET}"}
        async with httpx.AsyncClient(base_url=paystack_url, headers=headers) as paystack:
            await pool.execute("SELECT 1")
            buyer_id = uuid.UUID(buyer["id"])
            for index in range(rounds + 2):  # two warm-up rounds, not counted
                oja = await oja_round(client, buyer, variants)
                base = await baseline_round(pool, paystack, buyer_id, variants)
                if index >= 2:
                    timings["oja"].append(oja)
                    timings["baseline"].append(base)
        await pool.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("OJA_TEST_POSTGRES_URL"),
        help="A PostgreSQL server URL; a fresh database is created on it and dropped afterwards.",
    )
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    if not args.database_url:
        parser.error("--database-url (or OJA_TEST_POSTGRES_URL) is required: PostgreSQL only")
    server = args.database_url.replace("postgresql+asyncpg://", "postgresql://")
    name = f"oja_bench_checkout_{uuid.uuid4().hex[:8]}"
    dsn = f"{server.rpartition('/')[0]}/{name}"
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        from oja.core.migrate import upgrade

        url = "postgresql+asyncpg://" + dsn.removeprefix("postgresql://")
        upgrade(url)
        fake = PaystackFake(secret_key=SECRET)
        with (
            tempfile.TemporaryDirectory(prefix="oja-bench-checkout-") as tmp,
            SandboxServer(fake.app) as paystack,
        ):
            env = bench_env(
                OJA_VAR_DIR=str(Path(tmp) / "var"),
                OJA_DATABASE_URL=url,
                OJA_LOG_LEVEL="WARNING",
                OJA_PAYSTACK_SECRET_KEY=SECRET,
                OJA_PAYSTACK_BASE_URL=paystack.url,
            )
            port = free_port()
            argv = [sys.executable, "-m", "uvicorn", "oja.main:create_app", "--factory"]
            argv += [
                "--host",
                HOST,
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
            ]
            process = start_process(argv, env=env, log_path=Path(tmp) / "server.log")
            try:
                base_url = f"http://{HOST}:{port}"
                # A loaded shared machine can take a minute to import and start the app.
                wait_http_ok(f"{base_url}/healthz", process, timeout=300)
                timings = asyncio.run(run(base_url, dsn, paystack.url, args.rounds))
            finally:
                stop_process(process)
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(machine_line())
    print(
        f"{args.rounds} sequential checkouts of a 10-line cart across 3 stores per row (after 2 "
        "warm-up rounds), PostgreSQL, Paystack fake on 127.0.0.1, rounds interleaved"
    )
    print()
    rows = [
        [label, len(values), percentile(values, 50), percentile(values, 95), max(values)]
        for label, values in (
            ("Oja POST /checkout (uvicorn, 12 statements)", timings["oja"]),
            ("baseline: same SQL via asyncpg + initialise, no framework", timings["baseline"]),
        )
    ]
    print(markdown_table(["path", "checkouts", "p50 ms", "p95 ms", "max ms"], rows))


async def _admin(server: str, statement: str) -> None:
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
