"""The traffic check when this process's cached allowance of the store has expired (with Redis):
the plan's version and the user's place come back in one round trip, then the plan is read —
before, the version and the place were two round trips. The answers are the same as with a warm
cache: counted users keep their place (monthly or yearly period), places beyond a lowered limit
are refused, a full store refuses newcomers."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from oja.core.runtime import running
from oja.marketplace.plans import service as plans
from oja.marketplace.plans.models import SubscriptionStatus

from .conftest import count, error_code, person
from .shop import Store, shop
from .test_plans import LIMIT, settings, usage, view
from .test_plans_sessions import (
    counted_check,
    over_the_limit,
    paystack,
    paystack_server,
    redis_app,
    redis_client,
    set_plan,
)

__all__ = ["paystack", "paystack_server", "redis_app", "redis_client", "settings"]


def expire(app: Any, store: Store) -> None:
    """This process's cached allowance of ``store`` reaches its TTL."""
    with running(app.state.runtime):
        plans._cache(app.state.runtime).forget(uuid.UUID(store.id))


async def check(app: Any, store: Store, user_id: str) -> tuple[int, list[str]]:
    """One traffic check on a cold cache: its Redis round trips and its SQL statements."""
    expire(app, store)
    return await counted_check(app, store, user_id)


@pytest.mark.redis
async def test_a_cold_cache_reads_the_version_and_the_place_in_one_round_trip(
    redis_app: Any, redis_client: httpx.AsyncClient
) -> None:
    app, client = redis_app, redis_client
    store = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 50}])
    buyer = await person(client)
    assert (await view(client, store, buyer)).status_code == 200  # counted
    trips, statements = await check(app, store, buyer.id)
    assert trips == 1
    assert len(statements) == 1
    assert "vendor_subscription" in statements[0]
    # A newcomer: that round trip, the plan, and the admission (one script).
    newcomer = await person(client)
    trips, statements = await check(app, store, newcomer.id)
    assert trips == 2
    assert len(statements) == 1
    assert "vendor_subscription" in statements[0]
    assert (await usage(client, store))["usage"]["users"] == 2
    # Cached again: the hot path's one round trip, no SQL.
    assert await counted_check(app, store, buyer.id) == (1, [])


@pytest.mark.redis
async def test_a_cold_cache_keeps_the_allowance_users_and_refuses_the_others(
    redis_app: Any, redis_client: httpx.AsyncClient
) -> None:
    app, client = redis_app, redis_client
    store, _, buyers = await over_the_limit(app, client)
    for buyer in buyers[:LIMIT]:
        expire(app, store)
        assert (await view(client, store, buyer)).status_code == 200
    expire(app, store)
    ended = await view(client, store, buyers[LIMIT])
    assert (ended.status_code, error_code(ended)) == (401, "store_session_ended")
    late = await person(client)
    expire(app, store)
    full = await view(client, store, late)
    assert (full.status_code, error_code(full)) == (403, "store_traffic_limit")
    assert (await usage(client, store))["usage"]["users"] == len(buyers)
    assert await count(app, "store_visitor") == 0  # the places live in Redis


@pytest.mark.redis
async def test_a_cold_cache_finds_the_place_in_a_yearly_plans_period(
    redis_app: Any, redis_client: httpx.AsyncClient
) -> None:
    app, client = redis_app, redis_client
    store = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 50}])
    await set_plan(app, store, "vendor_basic_yearly", SubscriptionStatus.active)
    buyers = [await person(client) for _ in range(2)]
    for buyer in buyers:
        assert (await view(client, store, buyer)).status_code == 200
    for buyer in buyers:  # already counted this year: found, not admitted again
        trips, statements = await check(app, store, buyer.id)
        assert trips == 1
        assert len(statements) == 1
    found = await usage(client, store)
    assert (found["plan"], found["usage"]["users"]) == ("vendor_basic_yearly", 2)
