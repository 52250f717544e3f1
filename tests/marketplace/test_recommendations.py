"""Recommendations: behaviour recorded cheaply (views buffered, cart adds and purchases in their unit
of work), lists computed by the refresh jobs exactly as planted, read with every exclusion applied
at read time, trending for callers without history, and the offline evaluation as a gate."""

from __future__ import annotations

import math
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from oja.core.clock import utcnow
from oja.core.db import unit_of_work
from oja.core.runtime import running
from oja.marketplace.catalog.models import ProductVariant
from oja.marketplace.orders import transitions
from oja.marketplace.orders.models import OrderStatus, StoreOrder
from oja.marketplace.recommendations import recorder, service
from oja.marketplace.recommendations.eval import BASELINE, SERVED, SMALL, evaluate, generate
from oja.marketplace.recommendations.models import BehaviourEvent, NeighbourKind, ProductNeighbour
from oja.rag.embedding import MiniLMEmbedder
from tests.conftest import use_settings

from .conftest import PASSWORD, Person, admin, approved_store, count, error_code, person, rows
from .world import delivered_order

CLIENT = "browser-0001"


class Abandoned(Exception):
    pass


class Market:
    def __init__(self, boss: Person, owner: Person, store: dict[str, Any]) -> None:
        self.boss, self.owner, self.store = boss, owner, store
        self.ids: dict[str, str] = {}

    def names(self, items: list[dict[str, Any]]) -> list[str]:
        by_id = {v: k for k, v in self.ids.items()}
        return [by_id[item["id"]] for item in items]


async def _market(
    app: Any, client: httpx.AsyncClient, products: dict[str, str] | list[str]
) -> Market:
    boss = await admin(app, client)
    owner = await person(client, "vendor")
    market = Market(boss, owner, await approved_store(client, owner, boss, "Store A"))
    described = products if isinstance(products, dict) else dict.fromkeys(products, "")
    for i, (name, description) in enumerate(described.items()):
        market.ids[name] = await _product(client, owner, name, description, sku=f"P-{i}")
    return market


async def _product(
    client: httpx.AsyncClient, owner: Person, title: str, description: str = "", *, sku: str
) -> str:
    body: dict[str, Any] = {"title": title, "status": "active", "sku": sku, "price": 1000}
    body["stock"] = 5
    if description:
        body["description"] = description
    created = await client.post("/products", json=body, headers=owner.headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _events(
    app: Any, *planted: tuple[str, str, str, str | None], days_ago: float = 0
) -> None:
    """Behaviour rows ``(kind, subject, product id, order group or None)``, all at one time."""
    at = utcnow() - timedelta(days=days_ago)
    async with unit_of_work(app.state.runtime.database) as db:
        for kind, subject, product, group in planted:
            db.add(
                BehaviourEvent(
                    kind=kind,
                    subject=subject,
                    product_id=uuid.UUID(product),
                    group_id=uuid.UUID(group) if group else None,
                    created_at=at,
                )
            )


async def _refresh(app: Any, *, full: bool = False) -> dict[str, Any]:
    runtime = app.state.runtime
    async with unit_of_work(runtime.database) as db:
        return await service.refresh(db, runtime.settings, full=full)


async def _similar_refresh(app: Any) -> dict[str, Any]:
    runtime = app.state.runtime
    async with unit_of_work(runtime.database) as db:
        return await service.refresh_similar(db, runtime.settings)


async def _get(
    client: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    response = await client.get(url, headers=headers or {})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _neighbours(app: Any, product: str, kind: NeighbourKind) -> list[tuple[str, float]]:
    async with unit_of_work(app.state.runtime.database) as db:
        found = await db.execute(
            select(ProductNeighbour.neighbour_id, ProductNeighbour.score)
            .where(ProductNeighbour.product_id == uuid.UUID(product), ProductNeighbour.kind == kind)
            .order_by(ProductNeighbour.rank)
        )
        return [(str(n), round(score, 6)) for n, score in found.all()]


def _scored(items: list[dict[str, Any]]) -> list[tuple[str, float]]:
    return [(item["id"], pytest.approx(item["score"], abs=1e-4)) for item in items]


def _by_id(*ids: str) -> list[str]:
    return sorted(ids)


async def test_views_are_buffered_and_written_after_the_response_in_one_insert(
    app: Any, client: httpx.AsyncClient
) -> None:
    m = await _market(app, client, ["Jollof", "Suya"])
    draft = await client.post(
        "/products",
        json={"title": "Draft", "sku": "D-1", "price": 10, "stock": 1},
        headers=m.owner.headers,
    )
    buyer = await person(client)
    jollof, suya = m.ids["Jollof"], m.ids["Suya"]
    runtime = app.state.runtime
    recorder.buffer_for(runtime).rows.clear()

    await _get(client, f"/products/{jollof}", buyer.headers)
    await _get(client, f"/products/{suya}", {"X-Client-Id": CLIENT})
    await _get(client, f"/products/{suya}")  # anonymous without an id: not recorded
    await _get(client, f"/products/{suya}", {"X-Client-Id": "bad id!"})  # malformed: ignored
    await _get(client, f"/products/{draft.json()['id']}", m.owner.headers)  # a draft: not a view
    # Nothing written during the requests: the views wait in the process's buffer.
    assert await count(app, "behaviour_event") == 0
    assert len(recorder.buffer_for(runtime).rows) == 2

    assert await recorder.flush_views(runtime) == 2
    found = await rows(app, "SELECT kind, subject, product_id FROM behaviour_event")
    assert sorted((k, s, str(uuid.UUID(str(p)))) for k, s, p in found) == sorted(
        [("view", buyer.id, jollof), ("view", f"c:{CLIENT}", suya)]
    )
    assert await recorder.flush_views(runtime) == 0

    # A full buffer is written by the request's background task, after its response.
    use_settings(app, recommendation_view_batch=2)
    await _get(client, f"/products/{jollof}", {"X-Client-Id": CLIENT})
    assert await count(app, "behaviour_event") == 2
    await _get(client, f"/products/{jollof}", {"X-Client-Id": CLIENT})
    assert await count(app, "behaviour_event") == 4
    assert recorder.buffer_for(runtime).rows == []


async def test_cart_adds_and_confirmed_orders_are_recorded_in_their_unit_of_work(
    app: Any, client: httpx.AsyncClient
) -> None:
    m = await _market(app, client, ["Jollof", "Suya"])
    jollof, suya = m.ids["Jollof"], m.ids["Suya"]
    buyer = await person(client)
    product = await _get(client, f"/products/{jollof}")
    added = await client.post(
        "/cart/items",
        json={"variant_id": product["variants"][0]["id"], "quantity": 2},
        headers=buyer.headers,
    )
    assert added.status_code == 201, added.text
    assert await rows(app, "SELECT kind, subject FROM behaviour_event") == [("cart", buyer.id)]

    order = await delivered_order(app, buyer.id, m.store["id"], [jollof, suya], status="pending")
    runtime = app.state.runtime
    database = runtime.database

    async def confirm(*, then_fail: bool) -> uuid.UUID:
        with running(runtime):
            async with unit_of_work(database) as db:
                loaded = await db.get(StoreOrder, uuid.UUID(order["order_id"]))
                assert loaded is not None
                await transitions.move(db, loaded, OrderStatus.confirmed, actor_id=None)
                if then_fail:
                    raise Abandoned
                return loaded.group_id

    # A confirmation rolled back records nothing.
    with pytest.raises(Abandoned):
        await confirm(then_fail=True)
    assert await count(app, "behaviour_event", "kind = 'purchase'") == 0
    group_id = await confirm(then_fail=False)
    async with unit_of_work(database) as db:
        purchases = (
            await db.execute(
                select(
                    BehaviourEvent.subject, BehaviourEvent.product_id, BehaviourEvent.group_id
                ).where(BehaviourEvent.kind == "purchase")
            )
        ).all()
    assert sorted((s, str(p), g) for s, p, g in purchases) == sorted(
        [(buyer.id, jollof, group_id), (buyer.id, suya, group_id)]
    )

    # Search's hook: one row in the caller's unit of work, nothing for an unknown caller.
    async with unit_of_work(database) as db:
        recorder.record_search(db, buyer.id, "  zobo  ")
        recorder.record_search(db, None, "zobo")
        recorder.record_search(db, buyer.id, "   ")
    assert await rows(app, "SELECT subject, query FROM behaviour_event WHERE kind = 'search'") == [
        (buyer.id, "zobo")
    ]


async def test_co_occurrence_and_personal_lists_are_exact_on_a_planted_dataset(
    app: Any, client: httpx.AsyncClient
) -> None:
    m = await _market(app, client, ["A", "B", "C", "D"])
    a, b, c, d = (m.ids[k] for k in "ABCD")
    user = await person(client)
    await _events(
        app,
        ("view", "s1", a, None),
        ("view", "s1", b, None),
        ("purchase", "s1", c, None),
        ("view", "s2", a, None),
        ("cart", "s2", b, None),
        ("view", "s3", a, None),
        ("view", "s3", d, None),
        days_ago=1,
    )
    # A quarter of an hour ago: before the next refresh's overlap of the cursor.
    await _events(app, ("view", user.id, a, None), days_ago=0.01)
    result = await _refresh(app)
    assert (result["full"], result["subjects"], result["co_occurrence"]) == (True, 4, 4)

    # C(A,B) = 2 of n_A = 4 (with the user's) and n_B = 2; C(A,C) = C(A,D) = 1 of n = 1.
    cd = sorted([(c, round(1 / math.sqrt(4), 6)), (d, round(1 / math.sqrt(4), 6))])
    assert await _neighbours(app, a, NeighbourKind.co_occurrence) == [
        (b, round(2 / math.sqrt(8), 6)),
        *cd,
    ]
    assert await _neighbours(app, b, NeighbourKind.co_occurrence) == [
        (a, round(2 / math.sqrt(8), 6)),
        (c, round(1 / math.sqrt(2), 6)),
    ]

    # The user saw A: its neighbours, scaled to a best of 1 (no categories: no affinity).
    mine = await _get(client, "/recommendations", user.headers)
    assert mine["strategy"] == "personal"
    assert _scored(mine["items"]) == [(b, 1.0), *[(p, 0.5 / (2 / math.sqrt(8))) for p, _ in cd]]
    # Another signed-in user, and a stranger's browser, get trending, not this user's list.
    other = await person(client)
    theirs = await _get(client, "/recommendations", other.headers)
    assert theirs["strategy"] == "trending"
    # Trending: views 1, cart adds 3, purchases 5, the day-old ones decayed (half-life 3.5 days).
    old, recent = 0.5 ** (1 / 3.5), 0.5 ** (0.01 / 3.5)
    expected = {a: 3 * old + recent, b: 4 * old, c: 5 * old, d: old}
    ranked = sorted(expected, key=lambda p: (-expected[p], p))
    assert _scored(theirs["items"]) == [(p, expected[p]) for p in ranked]
    anonymous = await _get(client, "/recommendations", {"X-Client-Id": CLIENT})
    assert anonymous == theirs
    assert await _get(client, "/recommendations") == theirs

    # Incremental: a new browser's views rewrite only what they touched.
    await _events(app, ("view", f"c:{CLIENT}", d, None), ("view", f"c:{CLIENT}", c, None))
    result = await _refresh(app)
    assert (result["full"], result["subjects"], result["co_occurrence"]) == (False, 1, 2)
    assert await _neighbours(app, a, NeighbourKind.co_occurrence) == [
        (b, round(2 / math.sqrt(8), 6)),
        *cd,
    ]
    assert await _neighbours(app, d, NeighbourKind.co_occurrence) == [
        (c, round(1 / math.sqrt(2 * 2), 6)),
        (a, round(1 / math.sqrt(2 * 4), 6)),
    ]
    # The browser saw C and D: A is the neighbour of both (1/sqrt(8) twice), B, C and D of one
    # (1/2 each); scaled to a best of 1.
    browsing = await _get(client, "/recommendations", {"X-Client-Id": CLIENT})
    assert browsing["strategy"] == "personal"
    assert _scored(browsing["items"]) == [
        (a, 1.0),
        *[(p, 0.5 / (2 / math.sqrt(8))) for p in sorted([b, c, d])],
    ]


async def test_lists_exclude_bought_out_of_stock_inactive_and_unapproved(
    app: Any, client: httpx.AsyncClient
) -> None:
    m = await _market(app, client, ["A", "B", "C", "E", "F"])
    other_owner = await person(client, "other")
    other = await approved_store(client, other_owner, m.boss, "Store B")
    m.ids["D"] = await _product(client, other_owner, "D", sku="D-1")
    user = await person(client)
    planted = [("view", f"s{i}", m.ids["A"], None) for i in range(5)]
    planted += [("view", f"s{i}", m.ids[k], None) for i, k in enumerate("BCDEF")]
    await _events(app, *planted, days_ago=1)
    await _events(app, ("view", user.id, m.ids["A"], None))
    await _refresh(app)
    everything = _by_id(*(m.ids[k] for k in "BCDEF"))
    mine = await _get(client, "/recommendations?limit=5", user.headers)
    assert [i["id"] for i in mine["items"]] == everything
    together = f"/products/{m.ids['A']}/bought-together"
    assert (await _get(client, together))["items"] == []

    # Bought since the refresh; out of stock; the store suspended; the product archived.
    await _events(app, ("purchase", user.id, m.ids["B"], None))
    async with unit_of_work(app.state.runtime.database) as db:
        await db.execute(
            update(ProductVariant)
            .where(ProductVariant.product_id == uuid.UUID(m.ids["C"]))
            .values(stock=0)
        )
    suspended = await client.post(
        f"/admin/vendors/{other['id']}/suspend", json={"reason": "fraud"}, headers=m.boss.headers
    )
    assert suspended.status_code == 200, suspended.text
    archived = await client.delete(f"/products/{m.ids['E']}", headers=m.owner.headers)
    assert archived.status_code == 200, archived.text

    mine = await _get(client, "/recommendations?limit=5", user.headers)
    assert (mine["strategy"], m.names(mine["items"])) == ("personal", ["F"])
    # Trending (what a stranger gets) excludes the same, except the user's own purchase.
    stranger = await _get(client, "/recommendations?limit=10")
    assert stranger["strategy"] == "trending"
    assert sorted(m.names(stranger["items"])) == ["A", "B", "F"]
    # The suspended store's product has no public page, so no neighbours either.
    response = await client.get(f"/products/{m.ids['D']}/similar")
    assert (response.status_code, error_code(response)) == (404, "product_not_found")


async def test_bought_together_is_co_purchase_by_order_group(
    app: Any, client: httpx.AsyncClient
) -> None:
    m = await _market(app, client, ["P", "Q", "R", "S"])
    p, q, r, s = (m.ids[k] for k in "PQRS")
    g1, g2, g3 = (str(uuid.uuid4()) for _ in range(3))
    buyer = await person(client)
    await _events(
        app,
        ("purchase", "s1", p, g1),
        ("purchase", "s1", q, g1),
        ("purchase", "s1", r, g1),
        ("purchase", "s2", p, g2),
        ("purchase", "s2", q, g2),
        ("purchase", "s3", p, g3),
        ("purchase", "s3", s, g3),
        ("purchase", buyer.id, q, str(uuid.uuid4())),
        ("view", "s4", s, None),  # views are not purchases
        days_ago=1,
    )
    await _refresh(app)
    rs = sorted([(r, round(1 / math.sqrt(3), 6)), (s, round(1 / math.sqrt(3), 6))])
    together = await _get(client, f"/products/{p}/bought-together")
    assert together["strategy"] == "co_purchase"
    # C(P,Q) = 2 groups of n_P = 3 and n_Q = 3 (the buyer's own order holds Q alone).
    assert _scored(together["items"]) == [(q, 2 / 3), *rs]
    # The buyer who bought Q is not offered it again.
    mine = await _get(client, f"/products/{p}/bought-together", buyer.headers)
    assert [i["id"] for i in mine["items"]] == [x for x, _ in rs]
    assert [i["id"] for i in (await _get(client, f"/products/{s}/bought-together"))["items"]] == [p]
    missing = await client.get(f"/products/{uuid.uuid4()}/bought-together")
    assert (missing.status_code, error_code(missing)) == (404, "product_not_found")


async def test_similar_is_nearest_by_minilm_embedding_and_incremental(
    app: Any, client: httpx.AsyncClient
) -> None:
    catalogue = {
        "Red cotton t-shirt": "A soft red T-shirt in pure cotton, short sleeves.",
        "Blue cotton t-shirt": "A soft blue T-shirt in pure cotton, short sleeves.",
        "Stainless steel cooking pot": "A 5 litre pot for soups and stews.",
        "Non-stick frying pan": "A 28 cm pan for eggs and plantain.",
    }
    m = await _market(app, client, catalogue)
    result = await _similar_refresh(app)
    assert result == {"embedded": 4, "products": 4}

    texts = [f"{title}. {description}" for title, description in catalogue.items()]
    vectors = await MiniLMEmbedder().embed(texts)
    ids = [m.ids[title] for title in catalogue]
    for i, product in enumerate(ids):
        cosines = vectors @ vectors[i]
        expected = sorted(
            ((ids[j], float(cosines[j])) for j in range(4) if j != i), key=lambda kv: -kv[1]
        )
        answer = await _get(client, f"/products/{product}/similar")
        assert answer["strategy"] == "similar"
        assert _scored(answer["items"]) == expected
    shirt = await _get(client, f"/products/{m.ids['Red cotton t-shirt']}/similar?limit=1")
    assert m.names(shirt["items"]) == ["Blue cotton t-shirt"]
    pot = await _get(client, f"/products/{m.ids['Stainless steel cooking pot']}/similar?limit=1")
    assert m.names(pot["items"]) == ["Non-stick frying pan"]

    # Nothing changed: nothing embedded. One title changed: one embedded. An archived product
    # leaves every list.
    assert await _similar_refresh(app) == {"embedded": 0, "products": 4}
    renamed = await client.patch(
        f"/products/{m.ids['Blue cotton t-shirt']}",
        json={"title": "Blue linen shirt"},
        headers=m.owner.headers,
    )
    assert renamed.status_code == 200, renamed.text
    assert await _similar_refresh(app) == {"embedded": 1, "products": 4}
    archived = await client.delete(
        f"/products/{m.ids['Non-stick frying pan']}", headers=m.owner.headers
    )
    assert archived.status_code == 200
    assert await _similar_refresh(app) == {"embedded": 0, "products": 3}
    assert await count(app, "product_embedding") == 3
    pot = await _get(client, f"/products/{m.ids['Stainless steel cooking pot']}/similar")
    assert "Non-stick frying pan" not in m.names(pot["items"])
    assert len(pot["items"]) == 2


async def test_a_stores_unpublished_product_is_its_own(app: Any, client: httpx.AsyncClient) -> None:
    """Tenancy: a draft answers 404 to everyone but its store, and is never recommended."""
    m = await _market(app, client, ["A"])
    draft = await client.post(
        "/products",
        json={"title": "Secret", "description": "Not yet", "sku": "S-1", "price": 10, "stock": 3},
        headers=m.owner.headers,
    )
    draft_id = draft.json()["id"]
    stranger_store = await person(client, "rival")
    await approved_store(client, stranger_store, m.boss, "Store R")
    for headers in ({}, stranger_store.headers):
        response = await client.get(f"/products/{draft_id}/similar", headers=headers)
        assert (response.status_code, error_code(response)) == (404, "product_not_found")
    own = await _get(client, f"/products/{draft_id}/similar", m.owner.headers)
    assert own["items"] == []
    # A browser saw A and the draft: the draft is A's neighbour, never an answer.
    browser = f"c:{CLIENT}"
    await _events(app, ("view", browser, m.ids["A"], None), ("view", browser, draft_id, None))
    await _refresh(app)
    await _similar_refresh(app)
    assert await count(app, "product_embedding") == 1  # the draft is not embedded
    assert [n for n, _ in await _neighbours(app, m.ids["A"], NeighbourKind.co_occurrence)] == [
        draft_id
    ]
    mine = await _get(client, "/recommendations", {"X-Client-Id": CLIENT})
    assert (mine["strategy"], m.names(mine["items"])) == ("personal", ["A"])
    assert m.names((await _get(client, "/recommendations"))["items"]) == ["A"]


def test_the_personal_strategy_beats_the_popularity_baseline_offline() -> None:
    report = evaluate(generate(SMALL), SMALL)
    served, baseline = report.scores[SERVED], report.scores[BASELINE]
    assert served.users == baseline.users == SMALL.users
    assert served.hit_rate > baseline.hit_rate
    assert served.mean_ndcg > baseline.mean_ndcg


async def test_a_browsers_anonymous_history_follows_the_user_who_signs_in_on_it(
    app: Any, client: httpx.AsyncClient
) -> None:
    m = await _market(app, client, ["A", "B", "C"])
    a, b, c = (m.ids[k] for k in "ABC")
    user, other = await person(client), await person(client)
    # Someone saw A and B (B is A's neighbour); the other user has a history of their own.
    await _events(app, ("view", "s1", a, None), ("view", "s1", b, None), days_ago=1)
    await _events(app, ("view", other.id, c, None), days_ago=1)
    runtime = app.state.runtime
    recorder.buffer_for(runtime).rows.clear()
    await _get(client, f"/products/{a}", {"X-Client-Id": CLIENT})
    assert await recorder.flush_views(runtime) == 1
    await _refresh(app)  # the cursor passes the anonymous view
    assert (await _get(client, "/recommendations", user.headers))["strategy"] == "trending"
    browsing = await _get(client, "/recommendations", {"X-Client-Id": CLIENT})
    assert browsing["strategy"] == "personal"
    # A view still in the buffer when the browser signs in.
    await _get(client, f"/products/{c}", {"X-Client-Id": CLIENT})

    async def sign_in(who: Person) -> None:
        login = await client.post(
            "/auth/login",
            json={"email": who.email, "password": PASSWORD},
            headers={"X-Client-Id": CLIENT},
        )
        assert login.status_code == 200, login.text

    async def history() -> list[tuple[str, str, str | None, str | None]]:
        found = await rows(
            app, "SELECT kind, subject, product_id, query FROM behaviour_event ORDER BY id"
        )
        return sorted((k, s, str(uuid.UUID(str(p))) if p else None, q) for k, s, p, q in found)

    before = await history()
    await sign_in(user)
    merged = [("merge", user.id, None, f"c:{CLIENT}"), ("view", user.id, a, None)]
    untouched = [e for e in before if e[1] != f"c:{CLIENT}"]
    assert await history() == sorted([*untouched, *merged])
    assert [r["subject"] for r in recorder.buffer_for(runtime).rows] == [user.id]
    # Signing in again merges nothing more (no second marker); another user signing in on the
    # same browser gets none of this user's history, and theirs stays theirs.
    await sign_in(user)
    await sign_in(other)
    assert await history() == sorted([*untouched, *merged])
    assert await recorder.flush_views(runtime) == 1

    # The incremental refresh recomputes the user's list from the merged history (A, then C):
    # A's neighbour B; the browser's own list is gone.
    result = await _refresh(app)
    assert result["full"] is False
    mine = await _get(client, "/recommendations", user.headers)
    assert mine["strategy"] == "personal"
    assert m.names(mine["items"])[0] == "B"
    assert (await _get(client, "/recommendations", {"X-Client-Id": CLIENT}))[
        "strategy"
    ] == "trending"


async def test_searches_are_recorded_with_their_category_and_lean_the_list_to_it(
    app: Any, client: httpx.AsyncClient
) -> None:
    boss = await admin(app, client)
    owner = await person(client, "vendor")
    await approved_store(client, owner, boss, "Store A")
    categories = {}
    for name in ("Food", "Tools"):
        created = await client.post("/categories", json={"name": name}, headers=boss.headers)
        assert created.status_code == 201, created.text
        categories[name] = created.json()["id"]
    filed = {
        "Jollof rice": "Food",
        "Ofada rice": "Food",
        "Suya": "Food",
        "Rice scoop": "Tools",
        "Hammer": "Tools",
    }
    ids = {}
    for i, (title, category) in enumerate(filed.items()):
        created = await client.post(
            "/products",
            json={
                "title": title,
                "status": "active",
                "sku": f"S-{i}",
                "price": 1000,
                "stock": 5,
                "category_id": categories[category],
            },
            headers=owner.headers,
        )
        assert created.status_code == 201, created.text
        ids[title] = created.json()["id"]
    # Someone else's views make every product popular in its category.
    await _events(app, *(("view", "s1", pid, None) for pid in ids.values()), days_ago=1)
    user = await person(client)

    async def search(headers: dict[str, str], **params: Any) -> None:
        response = await client.get("/search", params=params, headers=headers)
        assert response.status_code == 200, response.text

    # "rice" finds two foods and one tool: the search is recorded with Food.
    await search(user.headers, q="Rice")
    await search({"X-Client-Id": CLIENT}, q="hammer")
    # Not recorded: a second page, a search without words, a caller we cannot tell apart.
    await search(user.headers, q="rice", page=2)
    await search(user.headers, category=categories["Tools"])
    await search({}, q="rice")
    found = await rows(
        app, "SELECT subject, query, category_id FROM behaviour_event WHERE kind = 'search'"
    )
    assert sorted((s, q, str(uuid.UUID(str(c)))) for s, q, c in found) == sorted(
        [(user.id, "Rice", categories["Food"]), (f"c:{CLIENT}", "hammer", categories["Tools"])]
    )

    # A caller who only searched gets the popular products of what they searched for.
    await _refresh(app)
    mine = await _get(client, "/recommendations", user.headers)
    assert mine["strategy"] == "personal"
    assert {item["category_id"] for item in mine["items"]} == {categories["Food"]}
    assert len(mine["items"]) == 3
    browser = await _get(client, "/recommendations", {"X-Client-Id": CLIENT})
    assert browser["strategy"] == "personal"
    assert {item["category_id"] for item in browser["items"]} == {categories["Tools"]}
