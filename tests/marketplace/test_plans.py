"""Vendor plans and the traffic limit: the plans on sale, a store's usage, the limit at exactly N
and N + 1 on product detail, cart and checkout, counted users keeping access, other stores
unaffected, the period rollover, an upgrade raising the limit at once, and 100 new users racing for
the last 5 places on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest

from oja.billing import quota
from oja.core.config import Settings
from oja.core.db import unit_of_work
from oja.core.runtime import running
from oja.identity.models import User
from oja.marketplace.errors import StoreTrafficLimit
from oja.marketplace.plans import service as plans
from oja.marketplace.plans.models import VendorSubscription
from oja.marketplace.plans.schemas import VendorPlanCode
from tests.chat.conftest import redis_client
from tests.conftest import Jobs, make_settings, service_url

from .conftest import Person, count, error_code, person, rows
from .shop import Served, Store, add, checkout, paystack, paystack_server, shop

__all__ = ["paystack", "paystack_server", "redis_client"]

LIMIT = 3


@pytest.fixture
def settings(tmp_path: Path, database_url: str, paystack_server: Served) -> Settings:
    """The free tier at three users; billing pointed at the Paystack fake (for checkout)."""
    from oja.sandbox import paystack as paystack_fake

    return make_settings(
        tmp_path,
        database_url,
        free_tier_users=LIMIT,
        paystack_base_url=paystack_server.url,
        paystack_secret_key=paystack_fake.DEFAULT_SECRET_KEY,
        database_pool_timeout=60.0,
    )


async def view(client: httpx.AsyncClient, store: Store, who: Person | None) -> httpx.Response:
    product_id = store.products[0]["id"]
    return await client.get(f"/products/{product_id}", headers=who.headers if who else {})


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def usage(client: httpx.AsyncClient, store: Store) -> dict[str, Any]:
    answer = await client.get("/vendors/me/subscription", headers=store.owner.headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_the_six_vendor_plans_are_public(client: httpx.AsyncClient) -> None:
    answer = await client.get("/vendor-plans")
    assert answer.status_code == 200, answer.text
    assert [
        (p["code"], p["interval"], p["user_limit"], p["price"], p["currency"])
        for p in answer.json()
    ] == [
        ("vendor_basic_monthly", "month", 100, 500_000, "NGN"),
        ("vendor_basic_yearly", "year", 150, 5_000_000, "NGN"),
        ("vendor_premium_monthly", "month", 300, 1_500_000, "NGN"),
        ("vendor_premium_yearly", "year", 700, 15_000_000, "NGN"),
        ("vendor_diamond_monthly", "month", None, 5_000_000, "NGN"),
        ("vendor_diamond_yearly", "year", None, 50_000_000, "NGN"),
    ]
    # The request schema's plan codes are the plans on sale.
    assert list(get_args(VendorPlanCode)) == [p["code"] for p in answer.json()]


async def test_a_store_without_a_plan_is_on_the_free_tier(
    app: Any, client: httpx.AsyncClient
) -> None:
    store = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 5}])
    start, end = quota.window("month")
    found = await usage(client, store)
    assert found == {
        "plan": "free",
        "status": "free",
        "interval": "month",
        "period_start": iso(start),
        "period_end": iso(end),
        "usage": {
            "users": 0,
            "limit": LIMIT,
            "remaining": LIMIT,
            "resets_at": iso(end),
        },
        "paid_through": None,
        "cancel_at_period_end": False,
        "pending_plan": None,
        "pending_at": None,
        "grace_until": None,
    }
    buyer = await person(client)
    stranger = await client.get("/vendors/me/subscription", headers=buyer.headers)
    assert (stranger.status_code, error_code(stranger)) == (403, "not_a_vendor_member")


async def test_the_limit_at_exactly_n_and_n_plus_one(app: Any, client: httpx.AsyncClient) -> None:
    store = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 50}])
    other = await shop(app, client, "Store B", [{"sku": "B-1", "price": 1000, "stock": 50}])
    buyers = [await person(client) for _ in range(LIMIT)]
    for buyer in buyers:
        assert (await view(client, store, buyer)).status_code == 200
        assert (await view(client, store, buyer)).status_code == 200  # a second view: no new row
    # Anonymous visitors and the store's own staff are not counted.
    assert (await view(client, store, None)).status_code == 200
    assert (await view(client, store, store.owner)).status_code == 200
    assert await count(app, "store_visitor") == LIMIT
    assert (await usage(client, store))["usage"]["users"] == LIMIT
    assert (await usage(client, store))["usage"]["remaining"] == 0

    late = await person(client)
    refused = await view(client, store, late)
    assert (refused.status_code, error_code(refused)) == (403, "store_traffic_limit")
    added = await add(client, late, store.variant()["id"])
    assert (added.status_code, error_code(added)) == (403, "store_traffic_limit")
    assert await count(app, "cart_item") == 0
    # Other stores are unaffected; counted users keep access to the full store.
    assert (await view(client, other, late)).status_code == 200
    assert (await add(client, late, other.variant()["id"])).status_code == 201
    assert (await add(client, buyers[0], store.variant()["id"])).status_code == 201
    assert (await view(client, store, buyers[1])).status_code == 200
    assert await count(app, "store_visitor") == LIMIT + 1
    assert (await usage(client, store))["usage"]["users"] == LIMIT
    assert (await usage(client, other))["usage"]["users"] == 1


async def test_checkout_refuses_a_new_user_of_a_full_store(
    app: Any, client: httpx.AsyncClient
) -> None:
    store = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 50}])
    late = await person(client)
    assert (await add(client, late, store.variant()["id"])).status_code == 201
    # The store fills up while the line waits in the late buyer's cart: a new period's count is
    # not the one the line was added in, so empty the set to model "not counted this period".
    await _forget(app, store, late)
    for _ in range(LIMIT):
        assert (await view(client, store, await person(client))).status_code == 200
    refused = await checkout(client, late)
    assert (refused.status_code, error_code(refused)) == (403, "store_traffic_limit")
    assert await count(app, "store_order") == 0
    assert await count(app, "payment") == 0


async def _forget(app: Any, store: Store, who: Person) -> None:
    """Take ``who`` out of the store's set and count (as if they had not visited yet)."""
    async with unit_of_work(app.state.runtime.database) as db:
        from sqlalchemy import delete, update

        from oja.billing.models import QuotaCounter
        from oja.marketplace.plans.models import StoreVisitor

        await db.execute(
            delete(StoreVisitor).where(
                StoreVisitor.vendor_id == uuid.UUID(store.id),
                StoreVisitor.user_id == uuid.UUID(who.id),
            )
        )
        await db.execute(
            update(QuotaCounter)
            .where(QuotaCounter.subject == f"vendor:{store.id}")
            .values(used=QuotaCounter.used - 1)
        )


async def test_a_new_period_starts_from_zero(
    app: Any, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 50}])
    for _ in range(LIMIT):
        assert (await view(client, store, await person(client))).status_code == 200
    late = await person(client)
    assert (await view(client, store, late)).status_code == 403
    _, end = quota.window("month")
    monkeypatch.setattr(quota, "utcnow", lambda: end + timedelta(minutes=1))
    assert (await usage(client, store))["usage"]["users"] == 0
    assert (await view(client, store, late)).status_code == 200
    found = await usage(client, store)
    assert (found["usage"]["users"], found["period_start"]) == (
        1,
        iso(end),
    )
    assert await count(app, "store_visitor") == LIMIT + 1


async def test_an_upgrade_raises_the_limit_at_once(app: Any, client: httpx.AsyncClient) -> None:
    store = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 50}])
    for _ in range(LIMIT):
        assert (await view(client, store, await person(client))).status_code == 200
    late = await person(client)
    assert (await view(client, store, late)).status_code == 403
    async with unit_of_work(app.state.runtime.database) as db:
        db.add(VendorSubscription(vendor_id=uuid.UUID(store.id), plan="vendor_basic_monthly"))
        with running(app.state.runtime):  # an operator's change: the cached plan is dropped
            await plans.invalidate(db, [uuid.UUID(store.id)])
    assert (await view(client, store, late)).status_code == 200
    found = await usage(client, store)
    assert (found["plan"], found["status"]) == ("vendor_basic_monthly", "active")
    assert found["usage"]["users"] == LIMIT + 1
    assert (found["usage"]["limit"], found["usage"]["remaining"]) == (100, 100 - LIMIT - 1)


async def race(runtime: Any, vendor_id: uuid.UUID, user_ids: list[uuid.UUID]) -> int:
    """Every user's admission at once, each in its own unit of work: how many got in."""

    async def one(user_id: uuid.UUID) -> bool:
        try:
            async with unit_of_work(runtime.database) as db:
                await plans.admit(db, vendor_id, user_id)
        except StoreTrafficLimit:
            return False
        return True

    return sum(await asyncio.gather(*(one(u) for u in user_ids)))


# A race: proven on PostgreSQL only (SQLite serialises every writer).
@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_hundred_new_users_race_for_the_last_five_places(
    app: Any, client: httpx.AsyncClient, database_url: str
) -> None:
    store = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 50}])
    vendor_id = uuid.UUID(store.id)
    runtime = app.state.runtime
    async with unit_of_work(runtime.database) as db:
        users = [User(email=f"racer{i}-{uuid.uuid4().hex[:6]}@example.com") for i in range(95)]
        db.add_all(users)
        await db.flush()
        user_ids = [u.id for u in users]
        db.add(VendorSubscription(vendor_id=vendor_id, plan="vendor_basic_monthly"))
    with running(runtime):
        for user_id in user_ids:
            async with unit_of_work(runtime.database) as db:
                await plans.admit(db, vendor_id, user_id)
        async with unit_of_work(runtime.database) as db:
            racers = [User(email=f"late{i}-{uuid.uuid4().hex[:6]}@example.com") for i in range(100)]
            db.add_all(racers)
            await db.flush()
            racer_ids = [u.id for u in racers]
        assert await race(runtime, vendor_id, racer_ids) == 5
    assert await count(app, "store_visitor") == 100
    assert await rows(app, "SELECT used FROM quota_counter WHERE metric = 'store.users'") == [
        (100,)
    ]
    _, end = quota.window("month")
    assert (await usage(client, store))["usage"] == {
        "users": 100,
        "limit": 100,
        "remaining": 0,
        "resets_at": iso(end),
    }


@pytest.fixture
async def redis_app(settings: Settings, jobs: Jobs) -> AsyncIterator[Any]:
    """The app with Redis behind the traffic limit's sets."""
    from oja.main import create_app

    application = create_app(settings.replace(redis_url=service_url("redis")), publisher=jobs)
    yield application
    await application.state.runtime.close()


@pytest.mark.redis
async def test_with_redis_the_set_is_exact_and_a_race_admits_five(
    redis_app: Any, redis_client: httpx.AsyncClient
) -> None:
    app, client = redis_app, redis_client
    store = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 50}])
    buyers = [await person(client) for _ in range(LIMIT)]
    for buyer in buyers:
        assert (await view(client, store, buyer)).status_code == 200
        assert (await view(client, store, buyer)).status_code == 200
    late = await person(client)
    refused = await view(client, store, late)
    assert (refused.status_code, error_code(refused)) == (403, "store_traffic_limit")
    assert (await view(client, store, buyers[0])).status_code == 200
    assert (await usage(client, store))["usage"]["users"] == LIMIT
    assert await count(app, "store_visitor") == 0  # the set lives in Redis

    other = await shop(app, client, "Store B", [{"sku": "B-1", "price": 1000, "stock": 50}])
    vendor_id = uuid.UUID(other.id)
    runtime = app.state.runtime
    async with unit_of_work(runtime.database) as db:
        db.add(VendorSubscription(vendor_id=vendor_id, plan="vendor_basic_monthly"))
    with running(runtime):
        for _ in range(95):
            async with unit_of_work(runtime.database) as db:
                await plans.admit(db, vendor_id, uuid.uuid4())
        assert await race(runtime, vendor_id, [uuid.uuid4() for _ in range(100)]) == 5
    assert (await usage(client, other))["usage"]["users"] == 100
