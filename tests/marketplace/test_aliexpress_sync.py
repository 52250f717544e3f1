"""The AliExpress sync and token refresh: costs, stock and prices follow the source, a removed or
no-longer-shipped product is marked unavailable (never deleted), throttling is ridden out, the
store hears of large cost changes, and tokens are renewed before they lapse."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from oja.core.clock import utcnow
from oja.core.config import Settings
from oja.core.db import unit_of_work
from oja.marketplace.aliexpress.config import AliExpressImportSettings
from oja.marketplace.aliexpress.jobs import refresh_tokens, sync_products
from oja.marketplace.sources.aliexpress.config import AliExpressSettings
from oja.sandbox.aliexpress import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, AliExpressFake
from tests.conftest import Jobs, make_settings
from tests.fakes import serving
from tests.marketplace.conftest import admin, count, rows
from tests.marketplace.test_aliexpress_imports import ae, connected_vendor, imported

SECTIONS = (AliExpressSettings, AliExpressImportSettings)
"""Imported so that their fields are known when the settings below are made."""


@pytest.fixture
def served() -> Iterator[tuple[AliExpressFake, str]]:
    yield from serving(AliExpressFake(products=8, variants=2, images=1))


@pytest.fixture
def settings(tmp_path: Path, database_url: str, served: tuple[AliExpressFake, str]) -> Settings:
    _, url = served
    return make_settings(
        tmp_path,
        database_url,
        aliexpress_base_url=url,
        aliexpress_authorize_url=url + "/oauth/authorize",
        aliexpress_app_key=DEFAULT_APP_KEY,
        aliexpress_app_secret=DEFAULT_APP_SECRET,
        aliexpress_calls_per_second=1000,
        http_allow_private_hosts=["127.0.0.1"],
    )


async def catalogue(app: Any) -> list[tuple[Any, ...]]:
    found = await rows(
        app,
        "SELECT p.title, p.status, v.sku, v.price, v.stock FROM product_variant v "
        "JOIN product p ON p.id = v.product_id ORDER BY v.sku",
    )
    return [tuple(r) for r in found]


async def run_job(app: Any, jobs: Jobs, job: Any) -> list[tuple[str, str]]:
    async with unit_of_work(app.state.runtime.database) as db:
        job.enqueue(db)
    return await jobs.run_kinds(app)


async def test_a_sync_follows_prices_stock_removals_and_rides_out_throttling(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, served: tuple[AliExpressFake, str]
) -> None:
    fake, _ = served
    boss = await admin(app, client)
    owner = await connected_vendor(app, client, boss)
    body = {
        "products": [ae(n) for n in range(4)],
        "price_rule": {"currency": "USD", "multiplier": "2"},
        "status": "active",
    }
    await imported(app, client, jobs, owner, body)
    await jobs.run(app)
    assert await catalogue(app) == [
        ("Kitchen item 1", "active", f"AE-{ae(0)}00", 798, 100),
        ("Kitchen item 1", "active", f"AE-{ae(0)}01", 898, 101),
        ("Lighting item 2", "active", f"AE-{ae(1)}00", 998, 101),
        ("Lighting item 2", "active", f"AE-{ae(1)}01", 1098, 102),
        ("T-Shirts item 3", "active", f"AE-{ae(2)}00", 1198, 102),
        ("T-Shirts item 3", "active", f"AE-{ae(2)}01", 1298, 103),
        ("Bags item 4", "active", f"AE-{ae(3)}00", 1398, 103),
        ("Bags item 4", "active", f"AE-{ae(3)}01", 1498, 104),
    ]
    # The vendor renames a product: the sync leaves what the vendor wrote alone.
    async with app.state.runtime.database.engine.begin() as conn:
        await conn.execute(
            text("UPDATE product SET title = 'Best pot' WHERE title LIKE 'Kitchen%'")
        )
    notified_before = await count(app, "notification", "event = 'aliexpress.cost_changed'")
    assert notified_before == 0
    products_before = await count(app, "product")

    fake.set_price(ae(0), "5.00")  # 3.99 and 4.49 → 5.00: +25 % and +11 %
    fake.set_price(ae(1), "5.00", sku_id=f"{ae(1)}00")  # 4.99 → 5.00: +0.2 %, no alert
    fake.set_stock(ae(1), 7, sku_id=f"{ae(1)}01")
    fake.remove(ae(2))
    fake.stop_shipping_to(ae(3), "NG")
    fake.throttle_next(2)
    calls_before = len(fake.api_calls())

    outcomes = await run_job(app, jobs, sync_products)
    assert ("marketplace.aliexpress.sync", "succeeded") in outcomes
    assert await catalogue(app) == [
        ("Best pot", "active", f"AE-{ae(0)}00", 1000, 100),
        ("Best pot", "active", f"AE-{ae(0)}01", 1000, 101),
        ("Lighting item 2", "active", f"AE-{ae(1)}00", 1000, 101),
        ("Lighting item 2", "active", f"AE-{ae(1)}01", 1098, 7),
        ("T-Shirts item 3", "active", f"AE-{ae(2)}00", 1198, 0),
        ("T-Shirts item 3", "active", f"AE-{ae(2)}01", 1298, 0),
        ("Bags item 4", "active", f"AE-{ae(3)}00", 1398, 0),
        ("Bags item 4", "active", f"AE-{ae(3)}01", 1498, 0),
    ]
    assert await count(app, "product") == products_before  # nothing deleted
    sources = await rows(
        app,
        "SELECT source_id, available, unavailable_reason, source_price, source_stock "
        "FROM product_source ORDER BY source_id",
    )
    gone = "removed from AliExpress or no longer shipped to NG"
    assert [tuple(s) for s in sources] == [
        (ae(0), True, None, 500, 201),
        (ae(1), True, None, 500, 108),
        (ae(2), False, gone, 599, 205),
        (ae(3), False, gone, 699, 207),
    ]
    changes = await rows(
        app,
        "SELECT v.sku, pc.old_price, pc.new_price FROM price_change pc "
        "JOIN product_variant v ON v.id = pc.variant_id "
        "WHERE pc.old_price IS NOT NULL ORDER BY v.sku",
    )
    assert [tuple(c) for c in changes] == [
        (f"AE-{ae(0)}00", 798, 1000),
        (f"AE-{ae(0)}01", 898, 1000),
        (f"AE-{ae(1)}00", 998, 1000),
    ]
    movements = await rows(
        app,
        "SELECT v.sku, m.stock_before, m.stock_after FROM stock_movement m "
        "JOIN product_variant v ON v.id = m.variant_id "
        "WHERE m.stock_before <> 0 ORDER BY v.sku",
    )
    assert [tuple(m) for m in movements] == [
        (f"AE-{ae(1)}01", 102, 7),
        (f"AE-{ae(2)}00", 102, 0),
        (f"AE-{ae(2)}01", 103, 0),
        (f"AE-{ae(3)}00", 103, 0),
        (f"AE-{ae(3)}01", 104, 0),
    ]
    calls = [c.outcome for c in fake.api_calls()[calls_before:]]
    assert sorted(calls) == ["ApiCallLimit", "ApiCallLimit", "ok", "ok", "ok", "ok"]
    # One notification, for the product whose cost rose beyond the 10 % threshold.
    notes = await rows(
        app, "SELECT title, body FROM notification WHERE event = 'aliexpress.cost_changed'"
    )
    assert [tuple(n) for n in notes] == [
        (
            "AliExpress cost changed: Best pot",
            "Best pot now costs USD 5.00 on AliExpress (was USD 3.99, 25%); its price follows "
            "your price rule.",
        )
    ]

    # Back on sale: available again, stock restored from the source.
    fake.products[ae(2)].removed = False
    await run_job(app, jobs, sync_products)
    (again,) = await rows(
        app, "SELECT available, source_stock FROM product_source WHERE source_id = :i", i=ae(2)
    )
    assert tuple(again) == (True, 205)


async def test_tokens_are_refreshed_before_they_lapse_and_a_lapsed_one_is_reported(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, served: tuple[AliExpressFake, str]
) -> None:
    fake, _ = served
    boss = await admin(app, client)
    owner = await connected_vendor(app, client, boss)
    (token,) = fake.tokens.values()
    old_access = token.access_token
    soon = utcnow() + timedelta(hours=1)
    async with app.state.runtime.database.engine.begin() as conn:
        await conn.execute(
            text("UPDATE aliexpress_connection SET access_expires_at = :t"), {"t": soon}
        )
    assert ("marketplace.aliexpress.refresh_tokens", "succeeded") in await run_job(
        app, jobs, refresh_tokens
    )
    (token,) = fake.tokens.values()
    assert token.access_token != old_access
    shown = await client.get("/vendors/me/aliexpress/connection", headers=owner.headers)
    assert shown.json()["status"] == "connected"
    renewed_until = datetime.fromisoformat(shown.json()["access_expires_at"])
    assert renewed_until > soon + timedelta(hours=12)  # a test app's token lives a day

    # AliExpress refuses the refresh (the refresh token lapsed there): nothing changes, and once
    # the access token lapses the connection reads expired.
    fake.tokens.clear()
    past = utcnow() - timedelta(minutes=1)
    async with app.state.runtime.database.engine.begin() as conn:
        await conn.execute(
            text("UPDATE aliexpress_connection SET access_expires_at = :t"), {"t": past}
        )
    await run_job(app, jobs, refresh_tokens)
    (row,) = await rows(app, "SELECT refresh_expires_at FROM aliexpress_connection")
    shown = await client.get("/vendors/me/aliexpress/connection", headers=owner.headers)
    assert shown.json()["status"] == "connected"  # still refreshable by Oja's clock
    async with app.state.runtime.database.engine.begin() as conn:
        await conn.execute(
            text("UPDATE aliexpress_connection SET refresh_expires_at = :t"), {"t": past}
        )
    shown = await client.get("/vendors/me/aliexpress/connection", headers=owner.headers)
    assert shown.json()["status"] == "expired"
    # A store whose connection lapsed is skipped by the sync, which says so.
    outcome = await run_job(app, jobs, sync_products)
    assert ("marketplace.aliexpress.sync", "succeeded") in outcome


async def test_a_sku_the_source_stops_selling_is_taken_off_sale_not_left_in_stock(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, served: tuple[AliExpressFake, str]
) -> None:
    fake, _ = served
    boss = await admin(app, client)
    owner = await connected_vendor(app, client, boss)
    body = {"products": [ae(0)], "price_rule": {"currency": "USD", "multiplier": "2"}}
    await imported(app, client, jobs, owner, {**body, "status": "active"})
    await jobs.run(app)
    product = fake.products[ae(0)]
    product.skus = [s for s in product.skus if s.sku_id != f"{ae(0)}01"]

    outcomes = await run_job(app, jobs, sync_products)
    assert ("marketplace.aliexpress.sync", "succeeded") in outcomes
    assert await catalogue(app) == [
        ("Kitchen item 1", "active", f"AE-{ae(0)}00", 798, 100),
        ("Kitchen item 1", "active", f"AE-{ae(0)}01", 898, 0),
    ]
    movements = await rows(
        app,
        "SELECT v.sku, m.stock_before, m.stock_after FROM stock_movement m "
        "JOIN product_variant v ON v.id = m.variant_id WHERE m.stock_before <> 0",
    )
    assert [tuple(m) for m in movements] == [(f"AE-{ae(0)}01", 101, 0)]
    (source,) = await rows(app, "SELECT available FROM product_source")
    assert tuple(source) == (True,)  # the product is still sold, in its remaining SKU

    await run_job(app, jobs, sync_products)  # a second run changes nothing more
    assert len(await rows(app, "SELECT id FROM stock_movement WHERE stock_before <> 0")) == 1
