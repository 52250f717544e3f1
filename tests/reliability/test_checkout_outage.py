"""Checkout through backing-service outages, on servers these tests start and stop themselves.

Buyers keep checking out one unit each of a product with less stock than buyers, while the public
product page is read, and then:

* **PostgreSQL** (a cluster of its own) crashes (``pg_ctl stop -m immediate``) for
  ``OJA_DB_DOWN_SECONDS`` (5 in CI): every call answers 503 while it is down (never 500), the
  buyers' carts intact; everything recovers within the deadline without a restart of Oja;
* **Redis** (its own ``redis-server``: the store traffic counter, rate limits and cache) is killed
  for ``OJA_OUTAGE_SECONDS``: checkout answers 503 or goes through, never 500; the product page keeps
  answering.

Either way: every checkout answered 201 is there, whole; every refused one (503, or 409 out of
stock) left nothing under its idempotency key; the stock was never oversold (units sold = stock that
left the shelf, never below zero); ``oja reconcile`` finds the marketplace's books consistent.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from oja.core.config import Settings
from oja.core.migrate import upgrade
from oja.core.runtime import Runtime
from oja.main import create_app
from oja.marketplace.catalog.models import ProductVariant
from oja.marketplace.orders.models import OrderGroup, OrderLine
from oja.reconcile import Report
from oja.reconcile import run as reconcile
from oja.sandbox.paystack import PaystackFake
from oja.sandbox.server import SandboxServer
from tests.billing.conftest import billing_values
from tests.conftest import _admin_execute, _truncate_all, make_settings
from tests.marketplace.conftest import admin, approved_store
from tests.marketplace.shop import ADDRESS
from tests.reliability import harness
from tests.reliability.servers import OwnPostgres, OwnRedis
from tests.reliability.test_outage import (
    DB_DOWN,
    OUTAGE,
    Traffic,
    asgi_client,
    get_call,
    through_outage,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.usefixtures("local_ai")]

STOCK = 30
BUYERS = 45
MARKETPLACE_CHECKS = ("stock", "orders", "ledger")


@dataclass
class Shop:
    product_id: str
    variant_id: str
    waiting: deque[harness.Person]
    placed: dict[str, str] = field(default_factory=dict)
    """Idempotency key → order group id of every checkout answered 201."""
    refused: list[str] = field(default_factory=list)

    async def checkout(self, client: httpx.AsyncClient) -> httpx.Response:
        """The next buyer checks out their cart; one refused for a 503 tries again later."""
        if not self.waiting:  # everyone has bought or was refused for stock
            return await client.get(f"/products/{self.product_id}")
        buyer = self.waiting.popleft()
        key = uuid.uuid4().hex
        response = await client.post(
            "/checkout",
            json={"shipping_address": ADDRESS},
            headers={**buyer.headers, "Idempotency-Key": key},
        )
        if response.status_code == 201:
            self.placed[key] = response.json()["order_group_id"]
        else:
            self.refused.append(key)
            if response.status_code == 503:
                self.waiting.append(buyer)  # the cart is intact: try again later
        return response


async def open_shop(app: Any, client: httpx.AsyncClient) -> Shop:
    """An approved store with one product of ``STOCK`` units, and ``BUYERS`` buyers with one unit
    each in their cart."""
    boss = await admin(app, client)
    owner = await harness.signup_and_login(client, "seller")
    await approved_store(client, owner, boss, "Outage Store")
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
    variant_id = created.json()["variants"][0]["id"]
    waiting: deque[harness.Person] = deque()
    for _ in range(BUYERS):
        buyer = await harness.signup_and_login(client, "outage-buyer")
        added = await client.post(
            "/cart/items", json={"variant_id": variant_id, "quantity": 1}, headers=buyer.headers
        )
        assert added.status_code == 201, added.text
        waiting.append(buyer)
    return Shop(created.json()["id"], variant_id, waiting)


def settings_for(tmp_path: Path, database_url: str, paystack_url: str, **extra: Any) -> Settings:
    return make_settings(
        tmp_path,
        database_url,
        free_tier_users=BUYERS + 1,
        **billing_values(paystack_url, ""),
        **extra,
    )


async def through(
    settings: Settings,
    kill: Callable[[], None],
    restore: Callable[[], None],
    seconds: float,
) -> tuple[Shop, Traffic, float, dict[str, str], int, int, Report]:
    """Checkout traffic through one outage; what the database holds afterwards."""
    app = create_app(settings)
    runtime: Runtime = app.state.runtime
    try:
        async with asgi_client(app) as client:
            shop = await open_shop(app, client)
            probes = {
                "product": get_call(f"/products/{shop.product_id}"),
                "checkout": shop.checkout,
            }
            traffic = Traffic(client, probes)
            recovered_in = await through_outage(
                traffic, kill=kill, restore=restore, seconds=seconds, healthy={"product": {200}}
            )
            async with runtime.database.sessionmaker() as session:
                groups = {
                    str(key): str(group_id)
                    for key, group_id in await session.execute(
                        select(OrderGroup.idempotency_key, OrderGroup.id)
                    )
                }
                units = (await session.execute(select(func.sum(OrderLine.quantity)))).scalar()
                left = (
                    await session.execute(
                        select(ProductVariant.stock).where(
                            ProductVariant.id == uuid.UUID(shop.variant_id)
                        )
                    )
                ).scalar_one()
            report = await reconcile(runtime, stale_after=600)
    finally:
        await runtime.close()
    print(
        f"\n{len(shop.placed)} checkouts placed, {len(shop.refused)} refused; stock left {left}; "
        f"recovered in {recovered_in:.2f} s\n{traffic.table()}\n{report.table()}"
    )
    return shop, traffic, recovered_in, groups, int(units or 0), int(left), report


def assert_books(shop: Shop, groups: dict[str, str], units: int, left: int, report: Report) -> None:
    # Every answered checkout is there under its key, and nothing else is.
    assert groups == shop.placed
    assert not set(groups) & set(shop.refused)
    # Never oversold: one unit per placed group, the rest still on the shelf.
    assert units == len(shop.placed) <= STOCK
    assert left == STOCK - len(shop.placed) >= 0
    books = {f.check: f for f in report.findings if f.check in MARKETPLACE_CHECKS}
    assert sorted(books) == sorted(MARKETPLACE_CHECKS)
    assert [name for name, f in books.items() if not f.ok] == [], report.table()


async def test_checkout_through_a_postgres_crash_never_oversells_and_keeps_only_answered_orders(
    tmp_path: Path,
) -> None:
    with OwnPostgres() as pg, SandboxServer(PaystackFake().app) as paystack:
        await _admin_execute(pg.server_url, 'CREATE DATABASE "oja"')
        database_url = pg.server_url.rsplit("/", 1)[0] + "/oja"
        await asyncio.to_thread(upgrade, database_url)
        settings = settings_for(
            tmp_path, database_url, paystack.url, broker_url=f"filesystem://{tmp_path / 'queue'}"
        )
        shop, traffic, _, groups, units, left, report = await through(
            settings, pg.crash, pg.start, DB_DOWN
        )
    server_errors = [h for h in traffic.hits if h.status >= 500 and h.status != 503]
    assert not server_errors, server_errors[:5]
    outage = traffic.statuses("outage")
    assert set(outage["product"]) == {503}, outage
    assert set(outage["checkout"]) == {503}, outage
    assert set(traffic.statuses("after")["product"]) == {200}
    assert_books(shop, groups, units, left, report)


async def test_checkout_through_a_redis_outage_never_answers_500_nor_oversells(
    tmp_path: Path, postgres_database: str
) -> None:
    await _truncate_all(postgres_database)
    with OwnRedis() as redis_server, SandboxServer(PaystackFake().app) as paystack:
        settings = settings_for(
            tmp_path,
            postgres_database,
            paystack.url,
            redis_url=f"{redis_server.url}/0",
            broker_url=f"filesystem://{tmp_path / 'queue'}",
        )
        shop, traffic, _, groups, units, left, report = await through(
            settings, redis_server.kill, redis_server.start, OUTAGE / 3
        )
    server_errors = [h for h in traffic.hits if h.status >= 500 and h.status != 503]
    assert not server_errors, server_errors[:5]
    outage = traffic.statuses("outage")
    assert set(outage["checkout"]) <= {201, 409, 503}, outage
    assert set(traffic.statuses("after")["product"]) == {200}
    assert_books(shop, groups, units, left, report)
