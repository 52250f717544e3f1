"""Ratings and sales in the search index: ``rating_gte`` and ``sort=rating`` read the published-review
average the review summary shows, ``best_selling`` the units of paid store orders (less canceled
orders and received returns); each moves in the unit of work that moved its source, and a rebuild
from the sources finds the same values."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from oja.core.db import unit_of_work
from oja.core.runtime import running
from oja.marketplace.catalog.models import Product
from oja.marketplace.orders import transitions
from oja.marketplace.orders.models import OrderStatus, StoreOrder
from oja.marketplace.search import service as search_service

from .conftest import Person, admin, approved_store, person, rows, someone_waits_for_a_lock
from .world import delivered_order

BOTH = pytest.mark.parametrize(
    "database_url",
    ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)


class Abandoned(Exception):
    pass


async def _product(client: httpx.AsyncClient, owner: Person, title: str) -> str:
    created = await client.post(
        "/products",
        json={"title": title, "status": "active", "sku": f"{title}-1", "price": 1500, "stock": 9},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _market(app: Any, client: httpx.AsyncClient, titles: list[str]) -> dict[str, Any]:
    boss = await admin(app, client)
    owner = await person(client, "owner")
    store = await approved_store(client, owner, boss, "Ibadan Foods")
    ids = {t: await _product(client, owner, t) for t in titles}
    return {"boss": boss, "owner": owner, "store": store, "ids": ids}


async def _search(client: httpx.AsyncClient, **params: Any) -> list[tuple[str, Any]]:
    response = await client.get("/search", params={"per_page": 100, **params})
    assert response.status_code == 200, response.text
    return [(h["title"], h["rating"]) for h in response.json()["items"]]


async def _indexed(app: Any) -> list[tuple[str, Any, int]]:
    found = await rows(app, "SELECT title, rating, sales FROM search_document ORDER BY title")
    return [(t, r, int(s)) for t, r, s in found]


async def _rebuilt(app: Any) -> list[tuple[str, Any, int]]:
    with running(app.state.runtime):
        async with unit_of_work(app.state.runtime.database) as db:
            await search_service.rebuild(db)
    return await _indexed(app)


async def _review(
    client: httpx.AsyncClient, who: Person, product_id: str, rating: int
) -> dict[str, Any]:
    created = await client.post(
        f"/products/{product_id}/reviews",
        json={"rating": rating, "title": "Tasty", "body": "Well packed and warm."},
        headers=who.headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "published"
    return dict(created.json())


@BOTH
async def test_rating_gte_and_sort_rating_follow_the_review_summary(
    app: Any, client: httpx.AsyncClient, database_url: str
) -> None:
    m = await _market(app, client, ["Amala", "Ewedu", "Gbegiri", "Ofada"])
    ids = m["ids"]
    buyers = [await person(client) for _ in range(3)]
    for buyer in buyers:
        await delivered_order(app, buyer.id, m["store"]["id"], list(ids.values()))
    assert await _search(client, rating_gte=0) == []  # nothing rated yet
    amala_five = await _review(client, buyers[0], ids["Amala"], 5)
    await _review(client, buyers[1], ids["Amala"], 4)
    ewedu = await _review(client, buyers[0], ids["Ewedu"], 4)
    for buyer, rating in zip(buyers, (3, 4, 4), strict=True):
        await _review(client, buyer, ids["Gbegiri"], rating)

    # The index holds the average the rating summary shows (11 / 3 shows as 3.67).
    for title, average in (("Amala", 4.5), ("Ewedu", 4.0), ("Gbegiri", 3.67)):
        shown = (await client.get(f"/products/{ids[title]}/rating")).json()
        assert shown["average"] == average
    assert await _indexed(app) == [
        ("Amala", 4.5, 0),
        ("Ewedu", 4.0, 0),
        ("Gbegiri", 3.67, 0),
        ("Ofada", None, 0),
    ]
    # Boundaries are inclusive, on the shown average; the unrated never pass.
    assert await _search(client, rating_gte=4.5) == [("Amala", 4.5)]
    assert await _search(client, rating_gte=4.51) == []
    assert await _search(client, rating_gte=4, sort="price_asc") == [
        *sorted([("Amala", 4.5), ("Ewedu", 4.0)], key=lambda h: ids[h[0]])
    ]
    assert len(await _search(client, rating_gte=3.67)) == 3
    assert len(await _search(client, rating_gte=3.68)) == 2
    assert await _search(client, sort="rating") == [
        ("Amala", 4.5),
        ("Ewedu", 4.0),
        ("Gbegiri", 3.67),
        ("Ofada", None),
    ]
    facets = (await client.get("/search")).json()["facets"]["rating"]
    assert {b["rating"]: b["count"] for b in facets} == {5: 0, 4: 2, 3: 1, 2: 0, 1: 0}

    # A hidden review leaves the summary, and the index with it (the cached answer too).
    hidden = await client.post(
        f"/admin/reviews/{amala_five['id']}/hide",
        json={"reason": "off-topic"},
        headers=m["boss"].headers,
    )
    assert hidden.status_code == 200, hidden.text
    assert await _search(client, rating_gte=4.5) == []
    assert await _search(client, rating_gte=4, sort="rating") == sorted(
        [("Amala", 4.0), ("Ewedu", 4.0)], key=lambda h: ids[h[0]]
    )
    # The only review deleted by its author: unrated again, sorted last (ties by id).
    deleted = await client.delete(f"/reviews/{ewedu['id']}", headers=buyers[0].headers)
    assert deleted.status_code == 204, deleted.text
    assert await _search(client, rating_gte=0, sort="rating") == [
        ("Amala", 4.0),
        ("Gbegiri", 3.67),
    ]
    assert await _search(client, sort="rating") == [
        ("Amala", 4.0),
        ("Gbegiri", 3.67),
        *sorted([("Ewedu", None), ("Ofada", None)], key=lambda h: ids[h[0]]),
    ]
    expected = [("Amala", 4.0, 0), ("Ewedu", None, 0), ("Gbegiri", 3.67, 0), ("Ofada", None, 0)]
    assert await _indexed(app) == expected
    # The rebuild reads the same ratings; it also counts the three delivered orders, which the
    # fixture wrote straight to the tables (no payment moved them, so nothing counted them live).
    assert await _rebuilt(app) == [(t, r, 3) for t, r, _ in expected]
    # A catalogue write re-indexes the product and keeps its rating and sales.
    renamed = await client.patch(
        f"/products/{ids['Gbegiri']}", json={"title": "Gbegiri soup"}, headers=m["owner"].headers
    )
    assert renamed.status_code == 200, renamed.text
    assert ("Gbegiri soup", 3.67, 3) in await _indexed(app)


async def _move(app: Any, order_id: str, to: OrderStatus, *, then_fail: bool = False) -> None:
    runtime = app.state.runtime
    with running(runtime):
        async with unit_of_work(runtime.database) as db:
            order = await db.get(StoreOrder, uuid.UUID(order_id))
            assert order is not None
            assert await transitions.move(db, order, to, actor_id=None)
            if then_fail:
                raise Abandoned


@BOTH
async def test_best_selling_counts_paid_units_in_the_paying_unit_of_work(
    app: Any, client: httpx.AsyncClient, database_url: str
) -> None:
    m = await _market(app, client, ["Akara", "Boli", "Chinchin"])
    a, b, c = (m["ids"][t] for t in ("Akara", "Boli", "Chinchin"))
    buyer = await person(client)
    store_id = m["store"]["id"]
    first = await delivered_order(app, buyer.id, store_id, [b, c], status="pending")
    second = await delivered_order(app, buyer.id, store_id, [b], status="pending")
    third = await delivered_order(app, buyer.id, store_id, [a, a], status="pending")

    async def best() -> list[str]:
        return [t for t, _ in await _search(client, sort="best_selling")]

    # Unpaid orders sell nothing: newest first.
    assert await best() == ["Chinchin", "Boli", "Akara"]
    await _move(app, first["order_id"], OrderStatus.confirmed)
    await _move(app, second["order_id"], OrderStatus.confirmed)
    assert await best() == ["Boli", "Chinchin", "Akara"]
    assert [s for *_, s in await _indexed(app)] == [0, 2, 1]
    # A confirmation rolled back counts nothing.
    with pytest.raises(Abandoned):
        await _move(app, third["order_id"], OrderStatus.confirmed, then_fail=True)
    assert [s for *_, s in await _indexed(app)] == [0, 2, 1]
    # A paid order canceled gives its units back; equal sales fall back to newest.
    await _move(app, second["order_id"], OrderStatus.canceled)
    assert [s for *_, s in await _indexed(app)] == [0, 1, 1]
    assert await best() == ["Chinchin", "Boli", "Akara"]
    await _move(app, third["order_id"], OrderStatus.confirmed)
    assert await best() == ["Akara", "Chinchin", "Boli"]
    # Shipping and delivery move nothing.
    await _move(app, first["order_id"], OrderStatus.shipped)
    await _move(app, first["order_id"], OrderStatus.delivered)
    expected = [("Akara", None, 2), ("Boli", None, 1), ("Chinchin", None, 1)]
    assert await _indexed(app) == expected
    assert await _rebuilt(app) == expected


@BOTH
async def test_a_payment_recomputes_only_the_cached_best_selling_answers(
    app: Any, client: httpx.AsyncClient, database_url: str
) -> None:
    """Sales move on every payment and only ``best_selling`` reads them: after a payment every
    other cached answer is still served from the cache (the same answer), the best-selling one is
    computed again and shows the sale."""
    m = await _market(app, client, ["Akara", "Boli"])
    akara = m["ids"]["Akara"]
    buyer = await person(client)
    order = await delivered_order(app, buyer.id, m["store"]["id"], [akara], status="pending")
    newest = (await client.get("/search", params={"sort": "newest"})).json()
    words = (await client.get("/search", params={"q": "akara"})).json()
    assert [t for t, _ in await _search(client, sort="best_selling")] == ["Boli", "Akara"]
    hits, misses = search_service.stats.hits, search_service.stats.misses

    await _move(app, order["order_id"], OrderStatus.confirmed)

    assert [s for *_, s in await _indexed(app)] == [1, 0]
    assert (await client.get("/search", params={"sort": "newest"})).json() == newest
    assert (await client.get("/search", params={"q": "akara"})).json() == words
    assert [t for t, _ in await _search(client, sort="best_selling")] == ["Akara", "Boli"]
    assert (search_service.stats.hits, search_service.stats.misses) == (hits + 2, misses + 1)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_payment_waiting_on_a_catalogue_write_still_counts(
    app: Any, client: httpx.AsyncClient, database_url: str
) -> None:
    """A catalogue write re-indexes by upsert, keeping the row (and its lock) rather than deleting
    it: a payment whose increment waits on that write lands on the new row, not on a deleted
    one. The write is held open until the payment is seen waiting for its lock."""
    m = await _market(app, client, ["Dodo"])
    dodo, vendor_id = uuid.UUID(m["ids"]["Dodo"]), uuid.UUID(m["store"]["id"])
    buyer = await person(client)
    order = await delivered_order(app, buyer.id, m["store"]["id"], [str(dodo)], status="pending")
    runtime = app.state.runtime
    indexed, release = asyncio.Event(), asyncio.Event()

    async def held_edit() -> None:
        with running(runtime):
            async with unit_of_work(runtime.database) as db:
                product = await db.get(Product, dodo)
                assert product is not None
                product.title = "Dodo plantain"
                await db.flush()
                assert await search_service.index_products(db, vendor_id, [dodo]) == 1
                indexed.set()
                await release.wait()

    edit = asyncio.create_task(held_edit())
    await indexed.wait()
    payment = asyncio.create_task(_move(app, order["order_id"], OrderStatus.confirmed))
    await someone_waits_for_a_lock(app, "the payment never waited on the catalogue write")
    release.set()
    await edit
    await payment
    assert await _indexed(app) == [("Dodo plantain", None, 1)]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_concurrent_payments_and_a_catalogue_write_all_count(
    app: Any, client: httpx.AsyncClient, database_url: str
) -> None:
    """Sales are atomic increments, and a catalogue write's upsert leaves them alone: payments
    confirmed at the same time as each other and as an edit of the product all count."""
    m = await _market(app, client, ["Dodo"])
    dodo = m["ids"]["Dodo"]
    buyers = [await person(client) for _ in range(6)]
    orders = [
        await delivered_order(app, b.id, m["store"]["id"], [dodo], status="pending") for b in buyers
    ]

    async def edit() -> None:
        renamed = await client.patch(
            f"/products/{dodo}", json={"title": "Dodo plantain"}, headers=m["owner"].headers
        )
        assert renamed.status_code == 200, renamed.text

    await asyncio.gather(
        *(_move(app, o["order_id"], OrderStatus.confirmed) for o in orders[:3]),
        edit(),
        *(_move(app, o["order_id"], OrderStatus.confirmed) for o in orders[3:]),
    )
    assert await _indexed(app) == [("Dodo plantain", None, 6)]
    assert await _rebuilt(app) == [("Dodo plantain", None, 6)]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_payment_committing_during_a_rebuild_still_counts(
    app: Any, client: httpx.AsyncClient, database_url: str
) -> None:
    """The rebuild has read the order rows (the order still pending) and rewritten the index, not
    yet committed, when the order is paid: the payment's increment waits for the rebuild's commit
    and lands on the rebuilt row. (Before the rebuild took its lock, the increment waited on the
    old row the rebuild had deleted and then updated nothing: the sale was lost until the next
    rebuild.) The rebuild is held open until the payment is seen waiting for a lock."""
    m = await _market(app, client, ["Dodo"])
    dodo = m["ids"]["Dodo"]
    buyer = await person(client)
    order = await delivered_order(app, buyer.id, m["store"]["id"], [dodo], status="pending")
    runtime = app.state.runtime
    rebuilt, release = asyncio.Event(), asyncio.Event()

    async def held_rebuild() -> None:
        with running(runtime):
            async with unit_of_work(runtime.database) as db:
                assert await search_service.rebuild(db) == 1
                rebuilt.set()
                await release.wait()

    rebuild = asyncio.create_task(held_rebuild())
    await rebuilt.wait()
    payment = asyncio.create_task(_move(app, order["order_id"], OrderStatus.confirmed))
    await someone_waits_for_a_lock(app, "the payment never waited on the rebuild")
    release.set()
    await rebuild
    await payment
    assert await _indexed(app) == [("Dodo", None, 1)]
    assert await _rebuilt(app) == [("Dodo", None, 1)]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_rebuild_starting_during_a_payment_counts_it(
    app: Any, client: httpx.AsyncClient, database_url: str
) -> None:
    """The other order: the payment has incremented the index row, not yet committed, when the
    rebuild starts. The rebuild waits for it, then reads the order rows with the sale in them —
    counted once, not zero times (read too early) nor twice."""
    m = await _market(app, client, ["Dodo"])
    dodo = m["ids"]["Dodo"]
    buyer = await person(client)
    order = await delivered_order(app, buyer.id, m["store"]["id"], [dodo], status="pending")
    runtime = app.state.runtime
    paid, release = asyncio.Event(), asyncio.Event()

    async def held_payment() -> None:
        with running(runtime):
            async with unit_of_work(runtime.database) as db:
                found = await db.get(StoreOrder, uuid.UUID(order["order_id"]))
                assert found is not None
                assert await transitions.move(db, found, OrderStatus.confirmed, actor_id=None)
                await db.flush()
                paid.set()
                await release.wait()

    payment = asyncio.create_task(held_payment())
    await paid.wait()
    rebuild = asyncio.create_task(_rebuilt(app))
    await someone_waits_for_a_lock(app, "the rebuild never waited on the payment")
    release.set()
    await payment
    assert await rebuild == [("Dodo", None, 1)]
