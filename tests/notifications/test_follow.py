"""Following a store: POST/DELETE /vendors/{id}/follow, and followers told of its new products
once a day at most — one message per store per day, however many products it listed."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from oja.core.clock import utcnow
from oja.core.db import unit_of_work
from oja.core.runtime import running
from oja.marketplace.catalog.models import Product
from oja.marketplace.vendors.jobs import announce_new_products
from tests.conftest import Jobs
from tests.marketplace.conftest import Person, admin, approved_store, count, open_store, person
from tests.notifications.conftest import Fakes, reachable


async def _product(
    client: httpx.AsyncClient, owner: Person, title: str, status: str = "active"
) -> str:
    created = await client.post(
        "/products",
        json={"title": title, "status": status, "sku": f"{title}-1", "price": 150000 + len(title)},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_follow_and_unfollow_a_store(app: Any, client: httpx.AsyncClient) -> None:
    boss, owner, ada = await admin(app, client), await person(client, "owner"), await person(client)
    store = await approved_store(client, owner, boss)
    path = f"/vendors/{store['id']}/follow"
    for _ in range(2):  # idempotent
        followed = await client.post(path, headers=ada.headers)
        assert followed.status_code == 200, followed.text
        assert followed.json() == {"vendor_id": store["id"], "following": True, "followers": 1}
    assert await count(app, "store_follow") == 1
    assert (await client.post(path)).status_code == 401

    pending = await open_store(client, await person(client, "owner"), "Not Yet Approved")
    for method in ("POST", "DELETE"):
        for vendor_id in (pending["id"], str(uuid.uuid4())):
            answer = await client.request(
                method, f"/vendors/{vendor_id}/follow", headers=ada.headers
            )
            assert answer.status_code == 404, (method, vendor_id)
    assert await count(app, "store_follow") == 1

    gone = await client.delete(path, headers=ada.headers)
    assert gone.json() == {"vendor_id": store["id"], "following": False, "followers": 0}
    assert (await client.delete(path, headers=ada.headers)).status_code == 200
    assert await count(app, "store_follow") == 0


async def _a_day_ago(app: Any, **where: Any) -> None:
    """Every product (or those matching ``where``) created and last changed yesterday."""
    yesterday = utcnow() - timedelta(days=1)
    async with app.state.runtime.database.engine.begin() as conn:
        await conn.execute(
            update(Product).filter_by(**where).values(created_at=yesterday, updated_at=yesterday)
        )


async def _announce(app: Any) -> None:
    runtime = app.state.runtime
    with running(runtime):
        async with unit_of_work(runtime.database) as session:
            announce_new_products.enqueue(session)


async def test_followers_hear_of_a_day_of_new_products_in_one_message(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    boss = await admin(app, client)
    owner, quiet_owner = await person(client, "owner"), await person(client, "owner")
    store = await approved_store(client, owner, boss, "Mama Put Foods")
    unfollowed = await approved_store(client, quiet_owner, boss, "Nobody Follows")
    ada, bob = await reachable(app, client), await reachable(app, client, name="Bob")
    carl = await reachable(app, client, name="Carl")
    for follower in (ada, bob):
        await client.post(f"/vendors/{store['id']}/follow", headers=follower.headers)
    await client.post(f"/vendors/{unfollowed['id']}/follow", headers=carl.headers)
    await client.delete(f"/vendors/{unfollowed['id']}/follow", headers=carl.headers)

    first = await _product(client, owner, "Jollof")
    for title in ("Suya", "Puff"):
        await _product(client, owner, title)
    await _product(client, owner, "Draft", status="draft")  # not listed: not announced
    await _product(client, quiet_owner, "Zobo")
    assert await jobs.run(app) == []  # nothing is said while the day runs
    # The day is over: the products were created yesterday.
    await _a_day_ago(app)

    await _announce(app)
    outcomes = [o for k, o in await jobs.run_kinds(app)]
    assert outcomes == ["succeeded"] * 3  # the announcement, one fan-out, one send of two emails
    for follower in (ada, bob):
        page = (await client.get("/notifications", headers=follower.headers)).json()
        [item] = page["items"]
        assert item["event"] == "product.new_from_followed_store"
        assert item["title"] == "New from Mama Put Foods: Jollof"
        assert item["body"] == (
            "Mama Put Foods just listed Jollof for NGN 1,500.06 and 2 more products."
        )
        assert item["data"]["product_id"] == first
    assert (await client.get("/notifications", headers=carl.headers)).json()["total"] == 0
    assert sorted(m.to for m in fakes.sendgrid.messages) == sorted([ada.email, bob.email])
    assert all("List-Unsubscribe" in m.headers for m in fakes.sendgrid.messages)
    assert fakes.twilio.messages == []  # promotions are not texted by default

    # Announcing the same day again tells no one twice.
    await _announce(app)
    await jobs.run(app)
    assert await count(app, "notification") == 2
    assert len(fakes.sendgrid.messages) == 2


async def test_a_draft_is_announced_on_the_day_it_goes_live_and_an_edit_is_not_news(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    boss, owner = await admin(app, client), await person(client, "owner")
    store = await approved_store(client, owner, boss, "Adire House")
    ada = await reachable(app, client)
    await client.post(f"/vendors/{store['id']}/follow", headers=ada.headers)
    draft = await _product(client, owner, "Wrap", status="draft")
    await _a_day_ago(app)
    await _announce(app)
    await jobs.run(app)
    assert await count(app, "notification") == 0  # a draft is not news
    assert await count(app, "product_announcement") == 0

    live = await client.patch(
        f"/products/{draft}", json={"status": "active"}, headers=owner.headers
    )
    assert live.status_code == 200, live.text
    await _a_day_ago(app)  # it went live yesterday
    await _announce(app)
    await jobs.run(app)
    [item] = (await client.get("/notifications", headers=ada.headers)).json()["items"]
    assert item["title"] == "New from Adire House: Wrap"
    assert await count(app, "product_announcement") == 1

    # Edited the next day: the same product is not announced again.
    edited = await client.patch(
        f"/products/{draft}", json={"title": "Indigo wrap"}, headers=owner.headers
    )
    assert edited.status_code == 200, edited.text
    async with app.state.runtime.database.engine.begin() as conn:
        await conn.execute(update(Product).values(updated_at=utcnow() - timedelta(hours=25)))
    await _announce(app)
    await jobs.run(app)
    assert await count(app, "notification") == 1
    assert len(fakes.sendgrid.messages) == 1
