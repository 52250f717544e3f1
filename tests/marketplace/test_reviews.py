"""Reviews and ratings: verified buyers only, one review per order line or store order, the rating
summary kept with the rows (and proven equal to a recomputation), votes, flags, the store's one
reply, listing filters and sorts, and moderation."""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx
import pytest

from oja.core import events
from oja.core.db import unit_of_work
from oja.core.runtime import running
from oja.marketplace.reviews import service
from tests.conftest import Jobs

from .conftest import Person, admin, approved_store, error_code, person, rows
from .world import delivered_order


async def _product(client: httpx.AsyncClient, owner: Person, title: str = "Jollof") -> str:
    created = await client.post(
        "/products",
        json={"title": title, "status": "active", "sku": f"{title}-1", "price": 1500},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _market(app: Any, client: httpx.AsyncClient) -> dict[str, Any]:
    boss = await admin(app, client)
    owner, other_owner = await person(client, "owner"), await person(client, "other")
    store = await approved_store(client, owner, boss, "Store A")
    other = await approved_store(client, other_owner, boss, "Store B")
    products = [await _product(client, owner, t) for t in ("Jollof", "Suya")]
    return {
        "boss": boss,
        "owner": owner,
        "other_owner": other_owner,
        "store": store,
        "other": other,
        "products": products,
        "other_product": await _product(client, other_owner, "Puff"),
    }


def _review(rating: int = 5, **extra: Any) -> dict[str, Any]:
    return {"rating": rating, "title": "Very tasty", "body": "Well packed and warm.", **extra}


async def _summary(client: httpx.AsyncClient, product_id: str) -> dict[str, Any]:
    response = await client.get(f"/products/{product_id}/rating")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_only_verified_buyers_review_once_per_line(
    app: Any, client: httpx.AsyncClient
) -> None:
    m = await _market(app, client)
    jollof, suya = m["products"]
    buyer, stranger = await person(client), await person(client)
    store_id = m["store"]["id"]
    url = f"/products/{jollof}/reviews"

    assert (await client.post(url, json=_review())).status_code == 401
    response = await client.post(url, json=_review(), headers=stranger.headers)
    assert (response.status_code, error_code(response)) == (403, "not_a_verified_buyer")

    shipped = await delivered_order(app, buyer.id, store_id, [jollof], status="shipped")
    response = await client.post(url, json=_review(), headers=buyer.headers)
    assert (response.status_code, error_code(response)) == (409, "order_not_delivered")
    line = shipped["line_ids"][0]
    response = await client.post(url, json=_review(order_line_id=line), headers=buyer.headers)
    assert (response.status_code, error_code(response)) == (409, "order_not_delivered")

    delivered = await delivered_order(app, buyer.id, store_id, [jollof, suya])
    jollof_line, suya_line = delivered["line_ids"]
    # Another product's line: 422; someone else's line: 403.
    response = await client.post(url, json=_review(order_line_id=suya_line), headers=buyer.headers)
    assert (response.status_code, error_code(response)) == (422, "order_line_mismatch")
    response = await client.post(
        url, json=_review(order_line_id=jollof_line), headers=stranger.headers
    )
    assert (response.status_code, error_code(response)) == (403, "not_a_verified_buyer")
    assert await rows(app, "SELECT id FROM review") == []

    created = await client.post(url, json=_review(4), headers=buyer.headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["rating"], body["status"], body["verified"], body["subject"]) == (
        4,
        "published",
        True,
        "product",
    )
    sources = await rows(app, "SELECT source_id FROM review")
    assert [uuid.UUID(str(r[0])) for r in sources] == [uuid.UUID(jollof_line)]
    # One per line: the default finds no unreviewed delivered line, the explicit one is taken.
    response = await client.post(url, json=_review(), headers=buyer.headers)
    assert (response.status_code, error_code(response)) == (409, "already_reviewed")
    response = await client.post(
        url, json=_review(order_line_id=jollof_line), headers=buyer.headers
    )
    assert (response.status_code, error_code(response)) == (409, "already_reviewed")
    # A second delivered order of the same product is a second review.
    await delivered_order(app, buyer.id, store_id, [jollof])
    assert (await client.post(url, json=_review(2), headers=buyer.headers)).status_code == 201
    assert await _summary(client, jollof) == {
        "subject_id": jollof,
        "average": 3.0,
        "count": 2,
        "histogram": {"1": 0, "2": 1, "3": 0, "4": 1, "5": 0},
    }
    # Photos must be the buyer's files.
    response = await client.post(
        f"/products/{suya}/reviews",
        json=_review(photos=[str(uuid.uuid4())]),
        headers=buyer.headers,
    )
    assert (response.status_code, error_code(response)) == (422, "photo_not_found")
    missing = await client.post(
        f"/products/{uuid.uuid4()}/reviews", json=_review(), headers=buyer.headers
    )
    assert missing.status_code == 404
    bad = await client.post(url, json=_review(6), headers=buyer.headers)
    assert bad.status_code == 422


async def test_store_reviews_one_per_store_order(app: Any, client: httpx.AsyncClient) -> None:
    m = await _market(app, client)
    buyer = await person(client)
    url = f"/vendors/{m['store']['id']}/reviews"
    response = await client.post(url, json=_review(), headers=buyer.headers)
    assert (response.status_code, error_code(response)) == (403, "not_a_verified_buyer")
    elsewhere = await delivered_order(app, buyer.id, m["other"]["id"], [m["other_product"]])
    response = await client.post(
        url, json=_review(store_order_id=elsewhere["order_id"]), headers=buyer.headers
    )
    assert (response.status_code, error_code(response)) == (422, "order_line_mismatch")
    await delivered_order(app, buyer.id, m["store"]["id"], m["products"], status="confirmed")
    response = await client.post(url, json=_review(), headers=buyer.headers)
    assert (response.status_code, error_code(response)) == (409, "order_not_delivered")
    await delivered_order(app, buyer.id, m["store"]["id"], m["products"])
    created = await client.post(url, json=_review(3), headers=buyer.headers)
    assert created.status_code == 201, created.text
    assert created.json()["subject"] == "store"
    response = await client.post(url, json=_review(), headers=buyer.headers)
    assert (response.status_code, error_code(response)) == (409, "already_reviewed")
    listed = (await client.get(url)).json()
    assert [r["id"] for r in listed["items"]] == [created.json()["id"]]
    assert (listed["summary"]["count"], listed["summary"]["average"]) == (1, 3.0)


async def test_summary_equals_recomputation_after_1000_random_writes(
    app: Any, client: httpx.AsyncClient
) -> None:
    m = await _market(app, client)
    products = m["products"]
    buyer, boss = await person(client), m["boss"]
    store_id = m["store"]["id"]
    await delivered_order(app, buyer.id, store_id, [products[i % 2] for i in range(400)])
    rng = random.Random(22)
    texts = [
        ("Lovely", "Fresh and warm."),
        ("Spam", "Buy now at www.cheap-deals.com"),
        ("Rude", "This is shit food."),
        ("LOUD", "THIS WAS THE BEST MEAL I EVER HAD"),
    ]
    live: list[str] = []
    for _ in range(1000):
        op = rng.choice(["create", "create", "edit", "text", "delete", "hide", "publish"])
        if op == "create" or not live:
            product = rng.choice(products)
            title, body = rng.choices(texts, weights=[8, 1, 1, 1])[0]
            response = await client.post(
                f"/products/{product}/reviews",
                json={"rating": rng.randint(1, 5), "title": title, "body": body},
                headers=buyer.headers,
            )
            if response.status_code == 201:
                live.append(response.json()["id"])
            else:
                assert error_code(response) == "already_reviewed"
            continue
        review = rng.choice(live)
        if op == "edit":
            response = await client.patch(
                f"/reviews/{review}", json={"rating": rng.randint(1, 5)}, headers=buyer.headers
            )
        elif op == "text":
            title, body = rng.choice(texts)
            response = await client.patch(
                f"/reviews/{review}", json={"title": title, "body": body}, headers=buyer.headers
            )
        elif op == "delete":
            response = await client.delete(f"/reviews/{review}", headers=buyer.headers)
            live.remove(review)
        else:
            response = await client.post(
                f"/admin/reviews/{review}/{op}", json={"reason": "random"}, headers=boss.headers
            )
        assert response.status_code in (200, 204), response.text

    published = await rows(app, "SELECT subject_id, rating FROM review WHERE status = 'published'")
    assert len(published) > 50
    for product in products:
        ratings = [r for sid, r in published if uuid.UUID(str(sid)) == uuid.UUID(product)]
        assert await _summary(client, product) == {
            "subject_id": product,
            "average": round(sum(ratings) / len(ratings), 2) if ratings else None,
            "count": len(ratings),
            "histogram": {str(k): ratings.count(k) for k in range(1, 6)},
        }
    averages = {uuid.UUID(p): (await _summary(client, p))["average"] for p in products}

    async def indexed() -> dict[uuid.UUID, Any]:
        found = await rows(app, "SELECT product_id, rating FROM search_document")
        return {uuid.UUID(str(p)): r for p, r in found if uuid.UUID(str(p)) in averages}

    # The search index moved with every write: it holds the summary's average.
    assert await indexed() == averages
    with running(app.state.runtime):
        async with unit_of_work(app.state.runtime.database) as db:
            assert await service.reconcile(db) == []
        # A corrupted summary is reported, then repaired (the index with it).
        async with app.state.runtime.database.engine.begin() as conn:
            await conn.exec_driver_sql("UPDATE review_summary SET count = count + 3, r5 = r5 + 3")
            await conn.exec_driver_sql("UPDATE search_document SET rating = 1.5")
        async with unit_of_work(app.state.runtime.database) as db:
            drift = await service.reconcile(db)
        assert sorted(str(d.subject_id) for d in drift) == sorted(products)
        assert all(d.stored["count"] == d.actual["count"] + 3 for d in drift)
        async with unit_of_work(app.state.runtime.database) as db:
            assert await service.reconcile(db) == []
    assert await indexed() == averages


async def test_filters_and_sorts_are_exact(app: Any, client: httpx.AsyncClient) -> None:
    m = await _market(app, client)
    jollof = m["products"][0]
    store_id = m["store"]["id"]
    buyers = [await person(client) for _ in range(6)]
    ratings = [5, 3, 5, 1, 4, 2]
    expected: list[dict[str, Any]] = []
    for i, (buyer, rating) in enumerate(zip(buyers, ratings, strict=True)):
        await delivered_order(app, buyer.id, store_id, [jollof])
        photos: list[str] = []
        if i % 2 == 0:
            uploaded = await client.post(
                "/upload",
                files={"file": ("p.png", _png(), "image/png")},
                headers=buyer.headers,
            )
            assert uploaded.status_code in (200, 201, 202), uploaded.text
            photos = [uploaded.json()["id"]]
        created = await client.post(
            f"/products/{jollof}/reviews",
            json=_review(rating, photos=photos),
            headers=buyer.headers,
        )
        assert created.status_code == 201, created.text
        expected.append({**created.json(), "votes": 0})
    # Helpful votes: review i gets (i * 2) % 5 votes.
    for i, review in enumerate(expected):
        for voter in buyers[: (i * 2) % 5]:
            voted = await client.post(f"/reviews/{review['id']}/helpful", headers=voter.headers)
            assert voted.status_code == 200, voted.text
        review["votes"] = (i * 2) % 5
    newest = list(reversed(expected))
    orders = {
        "newest": newest,
        "oldest": expected,
        "highest": sorted(newest, key=lambda r: -r["rating"]),
        "lowest": sorted(newest, key=lambda r: r["rating"]),
        "most_helpful": sorted(newest, key=lambda r: -r["votes"]),
    }
    url = f"/products/{jollof}/reviews"
    for sort, want in orders.items():
        got = (await client.get(url, params={"sort": sort})).json()
        assert [r["id"] for r in got["items"]] == [r["id"] for r in want], sort
    filters: list[tuple[dict[str, Any], list[dict[str, Any]]]] = [
        ({"rating": 5}, [r for r in newest if r["rating"] == 5]),
        ({"with_photos": "true"}, [r for r in newest if r["photos"]]),
        ({"with_photos": "false"}, [r for r in newest if not r["photos"]]),
        ({"verified": "true"}, newest),
        ({"verified": "false"}, []),
        ({"rating": 2, "with_photos": "false"}, [r for r in newest if r["rating"] == 2]),
    ]
    for params, want in filters:
        got = (await client.get(url, params=params)).json()
        assert [r["id"] for r in got["items"]] == [r["id"] for r in want], params
        assert got["total"] == len(want)
    page = (await client.get(url, params={"sort": "oldest", "page": 2, "limit": 4})).json()
    assert [r["id"] for r in page["items"]] == [r["id"] for r in expected[4:]]
    assert (page["total"], page["pages"], page["per_page"]) == (6, 2, 4)
    assert page["summary"] == {
        "subject_id": jollof,
        "average": round(sum(ratings) / 6, 2),
        "count": 6,
        "histogram": {"1": 1, "2": 1, "3": 1, "4": 1, "5": 2},
    }
    assert (await client.get(url, params={"sort": "best"})).status_code == 422


def _png() -> bytes:
    import base64

    return base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )


async def test_helpful_and_flag_once_per_user(
    app: Any, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = await _market(app, client)
    jollof = m["products"][0]
    buyer, reader = await person(client), await person(client)
    await delivered_order(app, buyer.id, m["store"]["id"], [jollof])
    review = (
        await client.post(f"/products/{jollof}/reviews", json=_review(), headers=buyer.headers)
    ).json()
    seen: list[dict[str, Any]] = []

    async def record(**payload: Any) -> None:
        seen.append(payload)

    monkeypatch.setitem(events._handlers, "review.flagged", [record])
    url = f"/reviews/{review['id']}"
    assert (await client.post(f"{url}/helpful")).status_code == 401
    first = await client.post(f"{url}/helpful", headers=reader.headers)
    assert (first.status_code, first.json()["helpful_count"]) == (200, 1)
    again = await client.post(f"{url}/helpful", headers=reader.headers)
    assert (again.status_code, error_code(again)) == (409, "already_voted")
    assert await rows(app, "SELECT helpful_count FROM review") == [(1,)]

    flagged = await client.post(f"{url}/flag", json={"reason": "fake"}, headers=reader.headers)
    assert flagged.status_code == 202
    again = await client.post(f"{url}/flag", json={"reason": "fake"}, headers=reader.headers)
    assert (again.status_code, error_code(again)) == (409, "already_flagged")
    assert await rows(app, "SELECT open_flags FROM review") == [(1,)]
    assert len(seen) == 1
    assert str(seen[0]["review_id"]) == review["id"]
    assert [str(u) for u in seen[0]["recipient_ids"]] == [m["boss"].id]
    assert seen[0]["reason"] == "fake"


async def test_reply_once_and_only_by_the_store(app: Any, client: httpx.AsyncClient) -> None:
    m = await _market(app, client)
    jollof = m["products"][0]
    buyer = await person(client)
    await delivered_order(app, buyer.id, m["store"]["id"], [jollof])
    review = (
        await client.post(f"/products/{jollof}/reviews", json=_review(), headers=buyer.headers)
    ).json()
    url = f"/reviews/{review['id']}/reply"
    other = await client.post(url, json={"body": "Hi"}, headers=m["other_owner"].headers)
    assert (other.status_code, error_code(other)) == (404, "review_not_found")
    as_buyer = await client.post(url, json={"body": "Hi"}, headers=buyer.headers)
    assert as_buyer.status_code == 403
    replied = await client.post(url, json={"body": "Thank you!"}, headers=m["owner"].headers)
    assert (replied.status_code, replied.json()["reply"]) == (200, "Thank you!")
    again = await client.post(url, json={"body": "Again"}, headers=m["owner"].headers)
    assert (again.status_code, error_code(again)) == (409, "already_replied")
    assert await rows(app, "SELECT reply FROM review") == [("Thank you!",)]


async def test_moderation_queue_and_decisions(app: Any, client: httpx.AsyncClient) -> None:
    m = await _market(app, client)
    jollof = m["products"][0]
    boss = m["boss"]
    people = [await person(client) for _ in range(4)]
    for who in people:
        await delivered_order(app, who.id, m["store"]["id"], [jollof])

    async def post(who: Person, title: str, body: str, rating: int = 5) -> dict[str, Any]:
        r = await client.post(
            f"/products/{jollof}/reviews",
            json={"rating": rating, "title": title, "body": body},
            headers=who.headers,
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    clean = await post(people[0], "Nice", "Good food.", 4)
    link = await post(people[1], "Deal", "Visit https://spam.example for more")
    rude = await post(people[2], "Bad", "Absolute shit.", 1)
    loud = await post(people[3], "AMAZING", "BEST JOLLOF IN LAGOS HANDS DOWN")
    assert [r["status"] for r in (clean, link, rude, loud)] == [
        "published",
        "pending",
        "hidden",
        "pending",
    ]
    assert (await _summary(client, jollof))["count"] == 1
    listed = (await client.get(f"/products/{jollof}/reviews")).json()
    assert [r["id"] for r in listed["items"]] == [clean["id"]]

    queue = await client.get("/admin/reviews", params={"status": "pending"}, headers=boss.headers)
    assert [(r["id"], r["screening"]) for r in queue.json()["items"]] == [
        (link["id"], "link"),
        (loud["id"], "all caps"),
    ]
    denied = await client.get(
        "/admin/reviews", params={"status": "pending"}, headers=people[0].headers
    )
    assert denied.status_code == 403
    published = await client.post(
        f"/admin/reviews/{loud['id']}/publish", json={"reason": "enthusiasm"}, headers=boss.headers
    )
    assert (published.status_code, published.json()["status"]) == (200, "published")
    assert (await _summary(client, jollof))["count"] == 2
    no_reason = await client.post(
        f"/admin/reviews/{link['id']}/hide", json={}, headers=boss.headers
    )
    assert no_reason.status_code == 422

    # A flag puts a published review in the flagged queue; hiding it takes it out of the summary.
    assert (
        await client.post(
            f"/reviews/{clean['id']}/flag", json={"reason": "off-topic"}, headers=people[1].headers
        )
    ).status_code == 202
    flagged = await client.get("/admin/reviews", params={"status": "flagged"}, headers=boss.headers)
    assert [(r["id"], r["open_flags"]) for r in flagged.json()["items"]] == [(clean["id"], 1)]
    hidden = await client.post(
        f"/admin/reviews/{clean['id']}/hide", json={"reason": "off-topic"}, headers=boss.headers
    )
    assert (hidden.status_code, hidden.json()["status"]) == (200, "hidden")
    assert await _summary(client, jollof) == {
        "subject_id": jollof,
        "average": 5.0,
        "count": 1,
        "histogram": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1},
    }
    flagged = await client.get("/admin/reviews", params={"status": "flagged"}, headers=boss.headers)
    assert flagged.json()["items"] == []
    decisions = await rows(
        app,
        "SELECT review_id, action, from_status, reason FROM review_decision ORDER BY created_at",
    )
    assert [(str(uuid.UUID(str(r[0]))), r[1], r[2], r[3]) for r in decisions] == [
        (loud["id"], "publish", "pending", "enthusiasm"),
        (clean["id"], "hide", "published", "off-topic"),
    ]
    # Flagging a hidden review is a 404; the author's edit does not bring it back.
    assert (
        await client.post(
            f"/reviews/{clean['id']}/flag", json={"reason": "x"}, headers=people[3].headers
        )
    ).status_code == 404
    edited = await client.patch(
        f"/reviews/{clean['id']}", json={"body": "Edited text."}, headers=people[0].headers
    )
    assert (edited.status_code, edited.json()["status"]) == (200, "hidden")
    # Another user cannot edit or delete it.
    assert (
        await client.delete(f"/reviews/{clean['id']}", headers=people[1].headers)
    ).status_code == 404


async def test_reconcile_job_repairs_drift(app: Any, client: httpx.AsyncClient, jobs: Jobs) -> None:
    from oja.marketplace.reviews.jobs import reconcile_summaries

    m = await _market(app, client)
    jollof = m["products"][0]
    buyer = await person(client)
    await delivered_order(app, buyer.id, m["store"]["id"], [jollof])
    assert (
        await client.post(f"/products/{jollof}/reviews", json=_review(4), headers=buyer.headers)
    ).status_code == 201
    async with app.state.runtime.database.engine.begin() as conn:
        await conn.exec_driver_sql("UPDATE review_summary SET count = 7, total = 9, r1 = 6")
    async with unit_of_work(app.state.runtime.database) as db:
        reconcile_summaries.enqueue(db)
    assert await jobs.run(app) == ["succeeded"]
    assert await _summary(client, jollof) == {
        "subject_id": jollof,
        "average": 4.0,
        "count": 1,
        "histogram": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0},
    }
