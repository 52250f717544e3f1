"""Checkout through a PostgreSQL crash (a cluster of its own, ``pg_ctl stop -m immediate``).

Buyers keep checking out one unit each of a product with less stock than buyers, while the public
product page is read, and the database crashes for ``OJA_DB_DOWN_SECONDS`` (5 in CI). Proven:

* every call answers 503 while the database is down (never 500), the buyer's cart intact;
* after the restart everything recovers within the deadline, without a restart of Oja;
* every checkout answered 201 is there, whole (its group, its order, its line, its stock movement);
  every refused one (503 or 409 out of stock) left nothing: no group under its idempotency key;
* the stock was never oversold: units reserved = initial stock − stock left, never below zero, and
  ``oja reconcile`` finds the marketplace's books consistent (stock = its movements, ledger).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from oja.core.migrate import upgrade
from oja.core.runtime import Runtime
from oja.main import create_app
from oja.marketplace.catalog.models import ProductVariant
from oja.marketplace.orders.models import OrderGroup, OrderLine
from oja.reconcile import run as reconcile
from oja.sandbox.paystack import PaystackFake
from oja.sandbox.server import SandboxServer
from tests.billing.conftest import billing_values
from tests.conftest import _admin_execute, make_settings
from tests.marketplace.conftest import admin, approved_store
from tests.marketplace.shop import ADDRESS
from tests.reliability import harness
from tests.reliability.servers import OwnPostgres
from tests.reliability.test_outage import (
    DB_DOWN,
    Traffic,
    asgi_client,
    get_call,
    through_outage,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.usefixtures("local_ai")]

STOCK = 30
BUYERS = 45
MARKETPLACE_CHECKS = ("stock", "orders", "ledger")


async def test_checkout_through_a_postgres_crash_never_oversells_and_keeps_only_answered_orders(
    tmp_path: Path,
) -> None:
    fake = PaystackFake()
    with OwnPostgres() as pg, SandboxServer(fake.app) as paystack:
        await _admin_execute(pg.server_url, 'CREATE DATABASE "oja"')
        database_url = pg.server_url.rsplit("/", 1)[0] + "/oja"
        await asyncio.to_thread(upgrade, database_url)
        settings = make_settings(
            tmp_path,
            database_url,
            broker_url=f"filesystem://{tmp_path / 'queue'}",
            free_tier_users=BUYERS + 1,
            **billing_values(paystack.url, ""),
        )
        app = create_app(settings)
        runtime: Runtime = app.state.runtime
        try:
            async with asgi_client(app) as client:
                boss = await admin(app, client)
                owner = await harness.signup_and_login(client, "seller")
                store = await approved_store(client, owner, boss, "Outage Store")
                created = await client.post(
                    "/products",
                    json={
                        "title": "Indigo wrap",
                        "status": "active",
                        "variants": [{"sku": "WRAP-1", "price": 5000, "stock": STOCK}],
                    },
                    headers=owner.headers,
                )
                assert created.status_code == 201, created.text
                product_id = created.json()["id"]
                variant_id = created.json()["variants"][0]["id"]
                waiting: deque[harness.Person] = deque()
                for _ in range(BUYERS):
                    buyer = await harness.signup_and_login(client, "outage-buyer")
                    added = await client.post(
                        "/cart/items",
                        json={"variant_id": variant_id, "quantity": 1},
                        headers=buyer.headers,
                    )
                    assert added.status_code == 201, added.text
                    waiting.append(buyer)
                placed: dict[str, str] = {}  # idempotency key → group id
                refused: list[str] = []

                async def checkout(c: httpx.AsyncClient) -> httpx.Response:
                    if not waiting:  # everyone has bought or was refused for stock
                        return await c.get(f"/products/{product_id}")
                    buyer = waiting.popleft()
                    key = uuid.uuid4().hex
                    response = await c.post(
                        "/checkout",
                        json={"shipping_address": ADDRESS},
                        headers={**buyer.headers, "Idempotency-Key": key},
                    )
                    if response.status_code == 201:
                        placed[key] = response.json()["order_group_id"]
                    else:
                        refused.append(key)
                        if response.status_code == 503:
                            waiting.append(buyer)  # the cart is intact: try again later
                    return response

                probes = {
                    "product": get_call(f"/products/{product_id}"),
                    "checkout": checkout,
                }
                traffic = Traffic(client, probes)
                recovered_in = await through_outage(
                    traffic,
                    kill=pg.crash,
                    restore=pg.start,
                    seconds=DB_DOWN,
                    healthy={"product": {200}},
                )
                async with runtime.database.sessionmaker() as session:
                    groups = dict(
                        (
                            await session.execute(select(OrderGroup.idempotency_key, OrderGroup.id))
                        ).all()
                    )
                    units = (
                        await session.execute(select(func.sum(OrderLine.quantity)))
                    ).scalar_one()
                    left = (
                        await session.execute(
                            select(ProductVariant.stock).where(
                                ProductVariant.id == uuid.UUID(variant_id)
                            )
                        )
                    ).scalar_one()
                report = await reconcile(runtime, stale_after=600)
        finally:
            await runtime.close()

    print(
        f"\npostgres down {DB_DOWN} s during checkout: recovered in {recovered_in:.2f} s; "
        f"{len(placed)} checkouts placed, {len(refused)} refused; stock left {left}\n"
        f"{traffic.table()}\n{report.table()}"
    )
    server_errors = [h for h in traffic.hits if h.status >= 500 and h.status != 503]
    assert not server_errors, server_errors[:5]
    outage = traffic.statuses("outage")
    assert set(outage["product"]) == {503}, outage
    assert set(outage["checkout"]) <= {503}, outage
    assert outage["checkout"][503] >= 1, outage
    after = traffic.statuses("after")
    assert set(after["product"]) == {200}, after
    # Every answered checkout is there under its key, and nothing else is.
    assert {k: str(v) for k, v in groups.items()} == placed
    assert not set(groups) & set(refused)
    # Never oversold: one unit per placed group, the rest still on the shelf.
    assert units == len(placed) <= STOCK
    assert left == STOCK - len(placed) >= 0
    marketplace = {f.check: f for f in report.findings if f.check in MARKETPLACE_CHECKS}
    assert [name for name, f in marketplace.items() if not f.ok] == [], report.table()
    assert sorted(marketplace) == sorted(MARKETPLACE_CHECKS)
    assert store["status"] == "approved"
