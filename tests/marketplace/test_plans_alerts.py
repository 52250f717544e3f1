"""Usage alerts: the store's owners are notified at 80 %, 95 % and 100 % of the limit, once per
threshold and period, with the upgrade link — sequentially, and with new users racing across the
thresholds on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from oja.billing import quota
from oja.core.config import Settings
from oja.core.db import unit_of_work
from oja.core.runtime import running
from oja.identity.models import User
from oja.marketplace.errors import StoreTrafficLimit
from oja.marketplace.plans import alerts
from oja.marketplace.plans import service as plans
from tests.conftest import Jobs, make_settings

from .conftest import rows
from .shop import Served, Store, paystack, paystack_server, shop

__all__ = ["paystack", "paystack_server"]

FREE = 20
"""The free tier here: 80 % is the 16th user, 95 % the 19th, 100 % the 20th."""
UPGRADE_URL = "https://oja.example/vendor-plans"


@pytest.fixture
def settings(tmp_path: Path, database_url: str, paystack_server: Served) -> Settings:
    return make_settings(
        tmp_path,
        database_url,
        free_tier_users=FREE,
        plan_upgrade_url=UPGRADE_URL,
        database_pool_timeout=60.0,
    )


def test_thresholds() -> None:
    assert alerts.reached(15, 20) == []
    assert alerts.reached(16, 20) == [80]
    assert alerts.reached(19, 20) == [80, 95]
    assert alerts.reached(20, 20) == [80, 95, 100]
    assert alerts.reached(3, 3) == [80, 95, 100]
    assert alerts.reached(80, 100) == [80]
    assert alerts.reached(94, 100) == [80]


async def new_users(app: Any, n: int) -> list[uuid.UUID]:
    async with unit_of_work(app.state.runtime.database) as db:
        users = [User(email=f"alert{i}-{uuid.uuid4().hex[:8]}@example.com") for i in range(n)]
        db.add_all(users)
        await db.flush()
        return [u.id for u in users]


async def admit(app: Any, store: Store, user_id: uuid.UUID) -> bool:
    runtime = app.state.runtime
    try:
        with running(runtime):
            async with unit_of_work(runtime.database) as db:
                await plans.admit(db, uuid.UUID(store.id), user_id)
    except StoreTrafficLimit:
        return False
    return True


async def warnings(app: Any, store: Store) -> list[tuple[str, dict[str, Any]]]:
    found = await rows(
        app,
        "SELECT user_id, data FROM notification WHERE event = 'vendor.plan_limit_warning' "
        "ORDER BY created_at",
    )
    out = []
    for user_id, data in found:
        payload = json.loads(data) if isinstance(data, str) else data
        assert payload["vendor_id"] == store.id
        out.append((str(user_id).replace("-", ""), payload))
    return out


async def check(app: Any, store: Store, jobs: Jobs, expected: list[tuple[int, int]]) -> None:
    """The markers, and after the outbox's jobs ran, the owner's notifications: (threshold, used)."""
    await jobs.run(app)
    markers = await rows(app, "SELECT threshold FROM store_plan_alert ORDER BY threshold")
    assert [t for (t,) in markers] == [t for t, _ in expected]
    sent = await warnings(app, store)
    assert [(p["threshold"], p["used"], p["limit"]) for _, p in sent] == [
        (t, used, FREE) for t, used in expected
    ]
    assert {uid for uid, _ in sent} <= {store.owner.id.replace("-", "")}
    assert all(p["upgrade_url"] == UPGRADE_URL for _, p in sent)


async def test_alerts_once_per_threshold(app: Any, client: httpx.AsyncClient, jobs: Jobs) -> None:
    store = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 5}])
    users = await new_users(app, FREE + 1)
    for user_id in users[:15]:
        assert await admit(app, store, user_id)
    await check(app, store, jobs, [])
    assert await admit(app, store, users[15])
    await check(app, store, jobs, [(80, 16)])
    # Counted users coming back and more new users below the next threshold: nothing new.
    for user_id in users[:17]:
        assert await admit(app, store, user_id)
    await check(app, store, jobs, [(80, 16)])
    assert await admit(app, store, users[17])
    assert await admit(app, store, users[18])
    assert await admit(app, store, users[19])
    assert not await admit(app, store, users[20])
    await check(app, store, jobs, [(80, 16), (95, 19), (100, 20)])


# A race: proven on PostgreSQL only (SQLite serialises every writer).
@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_racing_new_users_alert_each_threshold_once(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, database_url: str
) -> None:
    store = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 5}])
    users = await new_users(app, 15 + 30)
    for user_id in users[:15]:
        assert await admit(app, store, user_id)
    admitted = await asyncio.gather(*(admit(app, store, u) for u in users[15:]))
    assert sum(admitted) == FREE - 15
    await check(app, store, jobs, [(80, 16), (95, 19), (100, 20)])


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_racing_markers_of_one_threshold_alert_once(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, database_url: str
) -> None:
    """Twenty admissions all seeing the store at its limit (as replicas on stale counts would):
    each threshold's marker is taken once, and one alert goes out."""
    store = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 5}])
    runtime = app.state.runtime
    start, _ = quota.window("month")

    async def one() -> int | None:
        with running(runtime):
            async with unit_of_work(runtime.database) as db:
                return await alerts.on_admission(db, uuid.UUID(store.id), start, FREE, FREE)

    taken = await asyncio.gather(*(one() for _ in range(20)))
    assert sorted(taken, key=str) == [100] + [None] * 19
    await jobs.run(app)
    markers = await rows(app, "SELECT threshold FROM store_plan_alert ORDER BY threshold")
    assert [t for (t,) in markers] == [80, 95, 100]
    assert [(p["threshold"], p["used"]) for _, p in await warnings(app, store)] == [(100, FREE)]
