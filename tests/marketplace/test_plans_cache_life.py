"""With Redis a store's cached allowance lives ``OJA_VENDOR_PLAN_CACHE_CHECKED_SECONDS`` (its
version is read with every check), not the 5 s that made a third of the shopping day's product
pages read the plan on their path (issue 25). That is only safe because a plan change bumps the
version again after its commit: a check between the first bump and the commit caches the new
version with the old plan."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from oja.core.db import unit_of_work
from oja.core.runtime import running
from oja.marketplace.plans import cache as plan_cache
from oja.marketplace.plans import service as plans
from oja.marketplace.plans.models import VendorSubscription
from oja.marketplace.plans.traffic import RedisVisitors, visitors_for

from .conftest import error_code, person
from .shop import shop
from .test_plans import LIMIT, settings, usage, view
from .test_plans_sessions import counted_check, paystack, paystack_server, redis_app, redis_client

__all__ = ["paystack", "paystack_server", "redis_app", "redis_client", "settings"]


@pytest.mark.redis
async def test_a_checked_entry_outlives_the_unchecked_ttl(
    redis_app: Any, redis_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client = redis_app, redis_client
    store = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 50}])
    buyer = await person(client)
    assert (await view(client, store, buyer)).status_code == 200  # cached, counted
    runtime = app.state.runtime
    visitors = visitors_for(runtime)
    assert isinstance(visitors, RedisVisitors)
    settings = runtime.settings.section(plans.VendorPlanSettings)
    assert (settings.plan_cache_seconds, settings.plan_cache_checked_seconds) == (5.0, 300.0)

    async def check_later(seconds: float) -> tuple[int, list[str]]:
        now = time.monotonic() + seconds
        monkeypatch.setattr(plan_cache.time, "monotonic", lambda: now)
        try:
            return await counted_check(app, store, buyer.id)
        finally:
            monkeypatch.undo()

    # A minute on (12 times the unchecked TTL): the hot path's one round trip, no SQL.
    assert await check_later(60.0) == (1, [])
    # Past the checked life: the plan is read again (one statement), with the version and place.
    trips, statements = await check_later(301.0)
    assert trips == 1
    assert len(statements) == 1
    assert "vendor_subscription" in statements[0]


@pytest.mark.redis
async def test_a_check_during_an_uncommitted_upgrade_does_not_keep_the_old_plan(
    redis_app: Any, redis_client: httpx.AsyncClient
) -> None:
    app, client = redis_app, redis_client
    runtime = app.state.runtime
    store = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 50}])
    vendor_id = uuid.UUID(store.id)
    for _ in range(LIMIT):
        assert (await view(client, store, await person(client))).status_code == 200
    late = await person(client)
    full = await view(client, store, late)
    assert (full.status_code, error_code(full)) == (403, "store_traffic_limit")
    async with unit_of_work(runtime.database) as db:
        db.add(VendorSubscription(vendor_id=vendor_id, plan="vendor_basic_monthly"))
        await db.flush()
        with running(runtime):
            await plans.invalidate(db, [vendor_id])
        # Another request's check between the first bump and the commit: the new version, the old
        # plan (the upgrade is not visible to it), cached together.
        during = await view(client, store, late)
        assert (during.status_code, error_code(during)) == (403, "store_traffic_limit")
        entry = plans._cache(runtime).get(vendor_id)
        assert entry is not None
        assert entry[0].plan == plans.FREE
        assert entry[1] == (await visitors_for(runtime).versions([vendor_id]))[0]  # type: ignore[attr-defined]
    # Committed: the second bump leaves that entry stale, so the next check reads the upgrade.
    assert (await view(client, store, late)).status_code == 200
    entry = plans._cache(runtime).get(vendor_id)
    assert entry is not None
    assert entry[0].plan == "vendor_basic_monthly"
    found = await usage(client, store)
    assert (found["plan"], found["usage"]["users"], found["usage"]["limit"]) == (
        "vendor_basic_monthly",
        LIMIT + 1,
        100,
    )
