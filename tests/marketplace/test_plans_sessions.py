"""``store_session_ended``: a store over its limit (a downgrade, a lapsed plan, an operator's
change) keeps serving the users of its allowance — the first ``limit`` admitted this period — and
ends the others' sessions with it: 401 on its product, cart and checkout routes, their cart lines
kept but not checked out. At exactly N nobody is refused; the period's rollover and an upgrade
restore access. With the database and with Redis."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from oja.billing import quota
from oja.core.config import Settings
from oja.core.db import unit_of_work
from oja.core.runtime import running
from oja.marketplace.plans import service as plans
from oja.marketplace.plans.models import SubscriptionStatus, VendorSubscription
from oja.marketplace.plans.traffic import RedisVisitors, visitors_for
from tests.conftest import Jobs, service_url

from .conftest import Person, count, error_code, person
from .scoping import statement_log
from .shop import Store, add, checkout, paystack, paystack_server, shop
from .test_plans import LIMIT, settings, usage, view

__all__ = ["paystack", "paystack_server", "settings"]

ADMITTED = LIMIT + 2
"""Users the store served on its paid plan before falling to the free tier's ``LIMIT``."""


async def set_plan(app: Any, store: Store, plan: str, status: SubscriptionStatus) -> None:
    """An operator's change (or what the periodic job does when a downgrade or grace ends)."""
    vendor_id = uuid.UUID(store.id)
    async with unit_of_work(app.state.runtime.database) as db:
        moved = await db.execute(
            update(VendorSubscription)
            .where(VendorSubscription.vendor_id == vendor_id)
            .values(plan=plan, status=status)
        )
        if moved.rowcount == 0:  # type: ignore[attr-defined]
            db.add(VendorSubscription(vendor_id=vendor_id, plan=plan, status=status))
        with running(app.state.runtime):
            await plans.invalidate(db, [vendor_id])


async def over_the_limit(app: Any, client: httpx.AsyncClient) -> tuple[Store, Store, list[Person]]:
    """Store A served ``ADMITTED`` users on Basic (100), each with a line of A in their cart,
    then fell to the free tier (``LIMIT``)."""
    store = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 50}])
    other = await shop(app, client, "Store B", [{"sku": "B-1", "price": 1000, "stock": 50}])
    await set_plan(app, store, "vendor_basic_monthly", SubscriptionStatus.active)
    buyers = [await person(client) for _ in range(ADMITTED)]
    for buyer in buyers:
        assert (await view(client, store, buyer)).status_code == 200
        assert (await add(client, buyer, store.variant()["id"])).status_code == 201
    assert (await usage(client, store))["usage"]["users"] == ADMITTED
    await set_plan(app, store, "vendor_basic_monthly", SubscriptionStatus.canceled)
    found = await usage(client, store)
    assert (found["plan"], found["usage"]["limit"], found["usage"]["users"]) == (
        "free",
        LIMIT,
        ADMITTED,
    )
    return store, other, buyers


async def check_enforcement(app: Any, client: httpx.AsyncClient) -> None:
    store, other, buyers = await over_the_limit(app, client)
    lines_before = await count(app, "cart_item")
    # The allowance's users (places 1..LIMIT) keep access.
    for buyer in buyers[:LIMIT]:
        assert (await view(client, store, buyer)).status_code == 200
    # Places beyond it: the session with this store has ended, on every route of the store.
    ended = buyers[LIMIT]
    refused = await view(client, store, ended)
    assert (refused.status_code, error_code(refused)) == (401, "store_session_ended")
    assert refused.json()["error"]["details"]["vendor_id"] == store.id
    added = await add(client, ended, store.variant()["id"])
    assert (added.status_code, error_code(added)) == (401, "store_session_ended")
    cart = await client.get("/cart", headers=ended.headers)
    assert cart.status_code == 200
    ((line,),) = [shop_lines["lines"] for shop_lines in cart.json()["stores"]]
    paying = await checkout(client, ended)
    assert (paying.status_code, error_code(paying)) == (401, "store_session_ended")
    assert [ref["cart_item_id"] for ref in paying.json()["error"]["details"]["lines"]] == [
        line["id"]
    ]
    # Nothing changed: the lines are kept, no order or payment, nobody newly counted.
    assert await count(app, "cart_item") == lines_before
    assert await count(app, "store_order") == 0
    assert await count(app, "payment") == 0
    assert (await usage(client, store))["usage"]["users"] == ADMITTED
    # A new user meets the full store; other stores are unaffected for everyone.
    late = await person(client)
    full = await view(client, store, late)
    assert (full.status_code, error_code(full)) == (403, "store_traffic_limit")
    assert (await view(client, other, ended)).status_code == 200
    assert (await add(client, ended, other.variant()["id"])).status_code == 201

    # An upgrade restores every counted user at once.
    await set_plan(app, store, "vendor_basic_monthly", SubscriptionStatus.active)
    assert (await view(client, store, ended)).status_code == 200
    await set_plan(app, store, "vendor_basic_monthly", SubscriptionStatus.canceled)
    assert (await view(client, store, buyers[-1])).status_code == 401


async def test_a_store_over_its_limit_ends_the_sessions_beyond_its_allowance(
    app: Any, client: httpx.AsyncClient
) -> None:
    await check_enforcement(app, client)


async def test_the_period_rollover_ends_the_enforcement(
    app: Any, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _, buyers = await over_the_limit(app, client)
    assert (await view(client, store, buyers[-1])).status_code == 401
    _, end = quota.window("month")
    monkeypatch.setattr(quota, "utcnow", lambda: end + timedelta(minutes=1))
    # A new period: places are given again in order of arrival.
    assert (await view(client, store, buyers[-1])).status_code == 200
    assert (await usage(client, store))["usage"]["users"] == 1


@pytest.fixture
async def redis_app(settings: Settings, jobs: Jobs) -> AsyncIterator[Any]:
    from oja.main import create_app

    application = create_app(settings.replace(redis_url=service_url("redis")), publisher=jobs)
    yield application
    await application.state.runtime.close()


@pytest.fixture
async def redis_client(redis_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=redis_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.mark.redis
async def test_with_redis_a_store_over_its_limit_ends_the_same_sessions(
    redis_app: Any, redis_client: httpx.AsyncClient
) -> None:
    await check_enforcement(redis_app, redis_client)
    assert await count(redis_app, "store_visitor") == 0  # the places live in Redis


class CountingRedis:
    """The Redis client with its round trips counted (a command, or a whole pipeline)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.trips = 0

    def pipeline(self, *args: Any, **kwargs: Any) -> Any:
        self.trips += 1
        return self.inner.pipeline(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.inner, name)
        if not inspect.iscoroutinefunction(found):
            return found

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.trips += 1
            return await found(*args, **kwargs)

        return counted


async def counted_check(app: Any, store: Store, user_id: str) -> tuple[int, list[str]]:
    """One traffic check of ``user_id`` at ``store`` (Redis): its round trips and SQL statements."""
    runtime = app.state.runtime
    visitors = visitors_for(runtime)
    assert isinstance(visitors, RedisVisitors)
    counting = CountingRedis(visitors._redis)
    script = visitors._admit

    async def admit_script(*args: Any, **kwargs: Any) -> Any:
        counting.trips += 1  # the admission's script runs on the client it was registered on
        return await script(*args, **kwargs)

    visitors._redis = counting  # type: ignore[assignment]
    visitors._admit = admit_script  # type: ignore[assignment]
    try:
        with running(runtime), statement_log(runtime.database.engine) as log, log.on():
            async with unit_of_work(runtime.database) as db:
                await plans.admit(db, uuid.UUID(store.id), uuid.UUID(user_id))
    finally:
        visitors._redis = counting.inner
        visitors._admit = script
    return counting.trips, log.statements


@pytest.mark.redis
async def test_with_redis_a_counted_users_check_is_one_round_trip_and_no_sql(
    redis_app: Any, redis_client: httpx.AsyncClient
) -> None:
    app, client = redis_app, redis_client
    store = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 50}])
    buyer = await person(client)
    assert (await view(client, store, buyer)).status_code == 200  # counted; the plan cached
    assert await counted_check(app, store, buyer.id) == (1, [])
    # A plan change anywhere bumps the version: the next check reads the plan again.
    await set_plan(app, store, "vendor_basic_monthly", SubscriptionStatus.active)
    _, statements = await counted_check(app, store, buyer.id)
    assert len([s for s in statements if "vendor_subscription" in s]) == 1
    found = await usage(client, store)
    assert (found["plan"], found["usage"]["limit"]) == ("vendor_basic_monthly", 100)
