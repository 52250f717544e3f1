"""An operator's change of a store's plan (``POST /admin/vendors/{id}/plan``): an upgrade raises
the limit at once; a downgrade below the period's users ends the sessions beyond the new limit
(``store_session_ended``) and alerts the owners once, exactly as a downgrade through Paystack; at
exactly the new limit nobody is refused. Every change is recorded; refusals record nothing."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from oja.core.clock import utcnow
from oja.core.db import unit_of_work
from oja.core.runtime import running
from oja.marketplace.plans.models import StorePlanAlert, VendorPlanChange
from oja.marketplace.plans.subscriptions import apply_due
from tests.conftest import Jobs

from .conftest import Person, admin, count, error_code, person, rows
from .shop import Store, add, paystack, paystack_server, shop
from .test_plans import LIMIT, settings, usage, view

__all__ = ["paystack", "paystack_server", "settings"]


async def set_plan(
    client: httpx.AsyncClient, boss: Person, store: Store, plan: str, reason: str = "matrix"
) -> httpx.Response:
    return await client.post(
        f"/admin/vendors/{store.id}/plan",
        json={"plan": plan, "reason": reason},
        headers=boss.headers,
    )


async def alerts_sent(app: Any, jobs: Jobs) -> list[tuple[int, int, int]]:
    """(threshold, used, limit) of every limit warning notified, after the outbox ran."""
    await jobs.run(app)
    found = await rows(
        app,
        "SELECT data FROM notification WHERE event = 'vendor.plan_limit_warning' "
        "ORDER BY created_at",
    )
    payloads = [json.loads(d) if isinstance(d, str) else d for (d,) in found]
    return [(p["threshold"], p["used"], p["limit"]) for p in payloads]


async def served(
    app: Any, client: httpx.AsyncClient, users: int
) -> tuple[Person, Store, list[Person]]:
    """A store moved to Basic (100 users) by an operator, then ``users`` buyers who viewed it and
    put a line of it in their cart."""
    boss = await admin(app, client)
    store = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 50}])
    up = await set_plan(client, boss, store, "vendor_basic_monthly", "Paid by bank transfer.")
    assert up.status_code == 200, up.text
    assert (up.json()["plan"], up.json()["status"], up.json()["usage"]["limit"]) == (
        "vendor_basic_monthly",
        "active",
        100,
    )
    buyers = [await person(client) for _ in range(users)]
    for buyer in buyers:
        assert (await view(client, store, buyer)).status_code == 200
        assert (await add(client, buyer, store.variant()["id"])).status_code == 201
    return boss, store, buyers


async def test_a_downgrade_to_n_plus_one_users_ends_the_last_session_and_alerts_once(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    boss, store, buyers = await served(app, client, LIMIT + 1)
    assert await alerts_sent(app, jobs) == []  # 4 of 100: no threshold
    lines = await count(app, "cart_item")

    down = await set_plan(client, boss, store, "free", "Chargeback on the transfer.")
    assert down.status_code == 200, down.text
    assert (down.json()["plan"], down.json()["status"]) == ("free", "free")
    assert down.json()["usage"] | {"resets_at": None} == {
        "users": LIMIT + 1,
        "limit": LIMIT,
        "remaining": 0,
        "resets_at": None,
    }
    # Places 1..LIMIT keep access; place LIMIT + 1 meets the ended session on every route.
    for buyer in buyers[:LIMIT]:
        assert (await view(client, store, buyer)).status_code == 200
    ended = buyers[LIMIT]
    refused = await view(client, store, ended)
    assert (refused.status_code, error_code(refused)) == (401, "store_session_ended")
    added = await add(client, ended, store.variant()["id"])
    assert (added.status_code, error_code(added)) == (401, "store_session_ended")
    newcomer = await person(client)
    full = await view(client, store, newcomer)
    assert (full.status_code, error_code(full)) == (403, "store_traffic_limit")
    assert await count(app, "cart_item") == lines
    assert (await usage(client, store))["usage"]["users"] == LIMIT + 1
    # The owners are alerted once, of the highest threshold reached (80 % and 95 % are taken too).
    assert await alerts_sent(app, jobs) == [(100, LIMIT + 1, LIMIT)]
    async with unit_of_work(app.state.runtime.database) as db:
        markers = sorted((await db.scalars(select(StorePlanAlert.threshold))).all())
    assert markers == [80, 95, 100]

    # An upgrade raises the limit at once: the ended session and a new user are served.
    up = await set_plan(client, boss, store, "vendor_premium_monthly", "Transfer cleared.")
    assert (up.status_code, up.json()["usage"]["limit"]) == (200, 300)
    assert (await view(client, store, ended)).status_code == 200
    assert (await view(client, store, newcomer)).status_code == 200
    assert (await usage(client, store))["usage"]["users"] == LIMIT + 2
    assert await alerts_sent(app, jobs) == [(100, LIMIT + 1, LIMIT)]

    async with unit_of_work(app.state.runtime.database) as db:
        changes = (
            await db.execute(
                select(
                    VendorPlanChange.from_plan,
                    VendorPlanChange.to_plan,
                    VendorPlanChange.actor_id,
                    VendorPlanChange.reason,
                )
                .where(VendorPlanChange.vendor_id == uuid.UUID(store.id))
                .order_by(VendorPlanChange.created_at)
            )
        ).all()
    assert [(f, t, str(a).replace("-", ""), r) for f, t, a, r in changes] == [
        ("free", "vendor_basic_monthly", boss.id.replace("-", ""), "Paid by bank transfer."),
        ("vendor_basic_monthly", "free", boss.id.replace("-", ""), "Chargeback on the transfer."),
        ("free", "vendor_premium_monthly", boss.id.replace("-", ""), "Transfer cleared."),
    ]


async def test_a_downgrade_to_exactly_n_users_refuses_nobody_counted(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    boss, store, buyers = await served(app, client, LIMIT)
    down = await set_plan(client, boss, store, "free", "Trial over.")
    assert down.status_code == 200, down.text
    assert down.json()["usage"]["remaining"] == 0
    for buyer in buyers:
        assert (await view(client, store, buyer)).status_code == 200
        assert (await add(client, buyer, store.variant()["id"])).status_code == 201
    late = await view(client, store, await person(client))
    assert (late.status_code, error_code(late)) == (403, "store_traffic_limit")
    assert await alerts_sent(app, jobs) == [(100, LIMIT, LIMIT)]
    # What falls due later alerts nothing again: once per threshold and period.
    with running(app.state.runtime):
        async with unit_of_work(app.state.runtime.database) as db:
            assert await apply_due(db, utcnow()) == {"downgraded": 0, "ended": 0, "lapsed": 0}
    assert await alerts_sent(app, jobs) == [(100, LIMIT, LIMIT)]


async def test_only_an_admin_changes_a_plan_and_refusals_change_nothing(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    boss = await admin(app, client)
    store = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 5}])
    owner_try = await client.post(
        f"/admin/vendors/{store.id}/plan",
        json={"plan": "vendor_diamond_monthly", "reason": "me"},
        headers=store.owner.headers,
    )
    assert owner_try.status_code == 403
    unknown = await client.post(
        f"/admin/vendors/{uuid.uuid4()}/plan",
        json={"plan": "vendor_basic_monthly", "reason": "x"},
        headers=boss.headers,
    )
    assert (unknown.status_code, error_code(unknown)) == (404, "vendor_not_found")
    same = await set_plan(client, boss, store, "free")
    assert (same.status_code, error_code(same)) == (409, "plan_unchanged")
    for body in (
        {"plan": "vendor_basic_monthly"},
        {"plan": "vendor_basic_monthly", "reason": ""},
        {"plan": "platinum", "reason": "x"},
        {"plan": "vendor_basic_monthly", "reason": "x", "status": "active"},
    ):
        bad = await client.post(f"/admin/vendors/{store.id}/plan", json=body, headers=boss.headers)
        assert bad.status_code == 422, body
    assert await count(app, "vendor_plan_change") == 0
    assert (await usage(client, store))["plan"] == "free"
    assert await alerts_sent(app, jobs) == []
