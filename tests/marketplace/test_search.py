"""Product search: every filter and sort against a brute force over the same rows, on SQLite FTS5
and PostgreSQL full text; facets equal counts of the filtered rows; typos; the index kept by the
catalogue's own writes (no job per change) and by jobs only for renames touching many products."""

from __future__ import annotations

import json
import random
import re
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from oja.marketplace.catalog.models import ProductVariant
from oja.marketplace.search import service as search_service
from oja.marketplace.search.models import SearchDocument
from oja.marketplace.search.schemas import SearchPage
from tests.conftest import Jobs, use_settings

from .conftest import Person, admin, approved_store, error_code, person, rows

BOTH = pytest.mark.parametrize(
    "database_url",
    ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)
WORD = re.compile(r"[^\W_]+")
EDGES = [1_000, 5_000, 10_000, 50_000, 100_000]
TITLES = [
    "Samsung Galaxy phone",
    "Tecno Spark phone",
    "Ankara tote bag",
    "Cotton shirt",
    "Steel cooking pot",
    "Wooden spoon set",
    "Samsung earbuds",
    "Leather sandals",
    "Shea butter cream",
    "Kente scarf",
]
COLOURS = ["red", "blue", "green"]


@dataclass
class Row:
    id: uuid.UUID
    title: str
    words: list[str]
    vendor_id: uuid.UUID
    category_id: uuid.UUID | None
    category_path: str
    attributes: dict[str, str]
    price: int
    in_stock: bool
    created_at: datetime


@dataclass
class World:
    boss: Person
    owners: list[Person]
    stores: list[dict[str, Any]]
    categories: dict[str, dict[str, Any]]
    products: list[str]


async def _category(
    client: httpx.AsyncClient, boss: Person, name: str, parent: str | None = None
) -> dict[str, Any]:
    created = await client.post(
        "/categories", json={"name": name, "parent_id": parent}, headers=boss.headers
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


async def build(app: Any, client: httpx.AsyncClient, jobs: Jobs) -> World:
    boss = await admin(app, client)
    owners = [await person(client) for _ in range(3)]
    stores = [
        await approved_store(client, owner, boss, name)
        for owner, name in zip(owners, ["Lagos Gadgets", "Kano Crafts", "Abuja Home"], strict=True)
    ]
    electronics = await _category(client, boss, "Electronics")
    phones = await _category(client, boss, "Phones", electronics["id"])
    home = await _category(client, boss, "Home")
    kitchen = await _category(client, boss, "Kitchen", home["id"])
    categories = {c["slug"]: c for c in (electronics, phones, home, kitchen)}
    cats = [None, electronics["id"], phones["id"], home["id"], kitchen["id"]]
    rng = random.Random(22)
    created: list[str] = []
    for i in range(30):
        owner = owners[i % 3]
        title = f"{TITLES[i % len(TITLES)]} {i}"
        base_price = rng.choice([500, 2_500, 5_000, 7_500, 20_000, 99_999, 150_000])
        variants = [
            {"sku": f"S{i}-A", "price": base_price, "stock": rng.choice([0, 3])},
            {"sku": f"S{i}-B", "price": base_price + 700, "stock": rng.choice([0, 0, 4])},
        ]
        attributes: dict[str, Any] = {"colour": COLOURS[i % 3]}
        if i % 2:
            attributes["size"] = rng.choice(["s", "m"])
        body = {
            "title": title,
            "description": rng.choice(["Durable and light", "Made in Nigeria", None]),
            "category_id": cats[i % len(cats)],
            "attributes": attributes,
            "status": "draft" if i == 29 else "active",
            "variants": variants,
        }
        response = await client.post("/products", json=body, headers=owner.headers)
        assert response.status_code == 201, response.text
        created.append(response.json()["id"])
    discount = await client.post(
        "/vendors/me/discounts",
        json={"type": "percentage", "value": 10, "scope": "store"},
        headers=owners[1].headers,
    )
    assert discount.status_code == 201, discount.text
    # Products were indexed by their own writes; the store discount re-prices the store's rows.
    assert await jobs.run_kinds(app) == [("marketplace.search.reindex_store", "succeeded")]
    return World(boss, owners, stores, categories, created)


async def scalar(app: Any, statement: Any) -> Any:
    async with app.state.runtime.database.engine.connect() as conn:
        return await conn.scalar(statement)


async def _reindex(app: Any, jobs: Jobs) -> None:
    from oja.core.db import unit_of_work
    from oja.marketplace.search.jobs import reindex

    async with unit_of_work(app.state.runtime.database) as db:
        reindex.enqueue(db)
    await jobs.run(app)


async def truth(app: Any, client: httpx.AsyncClient) -> list[Row]:
    """The searchable rows, computed from the catalogue itself (not from the index)."""
    products = await rows(
        app,
        "SELECT p.id, p.title, p.description, p.category_id, p.attributes, p.created_at, "
        "v.id, v.name, c.name, c.path FROM product p JOIN vendor v ON v.id = p.vendor_id "
        "LEFT JOIN category c ON c.id = p.category_id "
        "WHERE p.status = 'active' AND v.status = 'approved'",
    )
    out = []
    for pid, title, desc, cat_id, raw, created, vid, vname, cname, cpath in products:
        attrs = json.loads(raw) if isinstance(raw, str) else raw
        shown = (await client.get(f"/products/{uuid.UUID(str(pid))}")).json()
        price = min(v["effective_price"] for v in shown["variants"])
        stocked = any(v["stock_status"] != "out" for v in shown["variants"])
        text = " ".join([title, desc or "", cname or "", vname, *sorted(map(str, attrs.values()))])
        out.append(
            Row(
                id=uuid.UUID(str(pid)),
                title=title,
                words=[w.lower() for w in WORD.findall(text)],
                vendor_id=uuid.UUID(str(vid)),
                category_id=uuid.UUID(str(cat_id)) if cat_id else None,
                category_path=cpath or "",
                attributes={k: str(v) for k, v in attrs.items()},
                price=price,
                in_stock=stocked,
                created_at=shown_created(created),
            )
        )
    return out


def shown_created(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return datetime.fromisoformat(str(value)).replace(tzinfo=None)


def brute(rows_: list[Row], params: dict[str, Any], world: World) -> list[Row]:
    out = []
    for row in rows_:
        if "q" in params:
            wanted = [w.lower() for w in WORD.findall(params["q"])]
            if not all(any(word.startswith(w) for word in row.words) for w in wanted):
                continue
        if "category" in params:
            cat = world.categories[params["category"]]
            if f"/{cat['id']}/" not in row.category_path:
                continue
        if "vendor" in params and str(row.vendor_id) != params["vendor"]:
            continue
        if "min_price" in params and row.price < params["min_price"]:
            continue
        if "max_price" in params and row.price > params["max_price"]:
            continue
        if "in_stock" in params and row.in_stock != (params["in_stock"] == "true"):
            continue
        if "rating_gte" in params:
            continue  # no ratings yet: nothing passes
        attrs = {k[5:]: v for k, v in params.items() if k.startswith("attr.")}
        if any(row.attributes.get(k) != v for k, v in attrs.items()):
            continue
        out.append(row)
    return out


def ordered(found: list[Row], sort: str, has_q: bool) -> list[uuid.UUID]:
    if sort == "price_asc":
        found = sorted(found, key=lambda r: (r.price, r.id))
    elif sort == "price_desc":
        found = sorted(found, key=lambda r: (-r.price, r.id))
    elif sort == "rating":
        found = sorted(found, key=lambda r: r.id)
    else:  # newest, best_selling (no sales yet), relevance without q
        found = sorted(found, key=lambda r: r.id)
        found = sorted(found, key=lambda r: r.created_at, reverse=True)
    return [r.id for r in found]


def cases(world: World) -> list[dict[str, Any]]:
    return [
        {},
        {"q": "samsung"},
        {"q": "sams"},
        {"q": "phone gal"},
        {"q": "kano"},  # a store name
        {"q": "kitchen"},  # a category name
        {"q": "red"},  # an attribute value
        {"q": "nigeria"},  # description
        {"category": "electronics"},  # descendants included
        {"category": "phones"},
        {"vendor": world.stores[1]["id"]},
        {"min_price": 5_000},
        {"max_price": 7_500},
        {"min_price": 2_000, "max_price": 60_000},
        {"in_stock": "true"},
        {"in_stock": "false"},
        {"rating_gte": 3},
        {"attr.colour": "red"},
        {"attr.colour": "blue", "attr.size": "m"},
        {"q": "phone", "category": "electronics", "min_price": 1_000, "in_stock": "true"},
        {"q": "samsung", "vendor": world.stores[0]["id"], "attr.colour": "red"},
    ]


SORTS = ["relevance", "price_asc", "price_desc", "newest", "rating", "best_selling"]


def expected_facets(found: list[Row], world: World) -> dict[str, Any]:
    bucket = Counter(sum(1 for e in EDGES if r.price >= e) for r in found)
    attrs: dict[str, Counter[str]] = {}
    for r in found:
        for k, v in r.attributes.items():
            attrs.setdefault(k, Counter())[v] += 1
    return {
        "categories": Counter(str(r.category_id) for r in found if r.category_id),
        "stores": Counter(str(r.vendor_id) for r in found),
        "price": [bucket.get(i, 0) for i in range(len(EDGES) + 1)],
        "attributes": {k: dict(c) for k, c in attrs.items()},
    }


def facets_of(body: dict[str, Any]) -> dict[str, Any]:
    f = body["facets"]
    return {
        "categories": Counter({c["id"]: c["count"] for c in f["categories"]}),
        "stores": Counter({s["id"]: s["count"] for s in f["stores"]}),
        "price": [b["count"] for b in f["price"]],
        "attributes": {
            k: {v["value"]: v["count"] for v in vs} for k, vs in f["attributes"].items()
        },
    }


@BOTH
async def test_every_filter_and_sort_matches_brute_force(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, database_url: str
) -> None:
    world = await build(app, client, jobs)
    catalogue = await truth(app, client)
    assert len(catalogue) == 29  # one draft
    assert {r.id for r in catalogue} == {uuid.UUID(p) for p in world.products[:29]}
    checked = 0
    for params in cases(world):
        found = brute(catalogue, params, world)
        for sort in SORTS:
            response = await client.get("/search", params={**params, "sort": sort, "per_page": 100})
            assert response.status_code == 200, (params, response.text)
            body = response.json()
            got = [uuid.UUID(h["id"]) for h in body["items"]]
            assert body["total"] == len(found), (params, sort)
            if sort == "relevance" and "q" in params:
                assert sorted(got) == sorted(r.id for r in found), params
            else:
                assert got == ordered(found, sort, "q" in params), (params, sort)
            by_id = {r.id: r for r in found}
            assert [h["price"] for h in body["items"]] == [by_id[i].price for i in got]
            assert facets_of(body) == expected_facets(found, world), params
            checked += 1
    assert checked == len(cases(world)) * len(SORTS)
    # Some cases are not trivially empty or full.
    sizes = {len(brute(catalogue, p, world)) for p in cases(world)}
    assert 0 in sizes
    assert 29 in sizes
    assert len(sizes) > 8
    # Pagination: the second page of 7 is the brute force's slice.
    second = await client.get("/search", params={"sort": "price_asc", "per_page": 7, "page": 2})
    expected = ordered(catalogue, "price_asc", False)[7:14]
    assert [uuid.UUID(h["id"]) for h in second.json()["items"]] == expected
    assert (second.json()["total"], second.json()["pages"]) == (29, 5)
    # The store discount (10 %) is in the indexed price (the brute force's prices are the
    # catalogue's effective prices).
    discounted = (await client.get("/search", params={"vendor": world.stores[1]["slug"]})).json()
    cheapest = select(func.min(ProductVariant.price)).where(
        ProductVariant.product_id == uuid.UUID(discounted["items"][0]["id"])
    )
    base = await scalar(app, cheapest)
    assert discounted["items"][0]["price"] == base - (base + 5) // 10


@BOTH
async def test_typo_finds_samsung(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, database_url: str
) -> None:
    await build(app, client, jobs)
    body = (await client.get("/search", params={"q": "samsnug", "per_page": 100})).json()
    titles = sorted(h["title"] for h in body["items"])
    assert titles
    assert all(t.startswith("Samsung") for t in titles)
    assert body["total"] == 6  # i = 0, 6, 10, 16, 20, 26 (29 is a draft)
    nothing = (await client.get("/search", params={"q": "xqzvw"})).json()
    assert (nothing["total"], nothing["items"]) == (0, [])
    assert nothing["facets"]["categories"] == []
    assert nothing["facets"]["stores"] == []


@BOTH
async def test_facets_of_a_large_answer_count_a_sample_and_say_so(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, database_url: str
) -> None:
    world = await build(app, client, jobs)
    catalogue = await truth(app, client)
    params = {"per_page": 100, "sort": "price_asc"}
    exact = (await client.get("/search", params=params)).json()
    assert exact["facets_exact"] is True
    assert facets_of(exact) == expected_facets(catalogue, world)

    use_settings(app, search_facet_sample=10, search_cache_ttl=0)
    sampled = (await client.get("/search", params=params)).json()
    # The total, the order and the page stay exact; the facets count 10 of the 29 rows.
    assert sampled["facets_exact"] is False
    assert (sampled["total"], sampled["items"]) == (29, exact["items"])
    assert sum(s["count"] for s in sampled["facets"]["stores"]) == 10
    assert sum(b["count"] for b in sampled["facets"]["price"]) == 10
    whole = {s["id"]: s["count"] for s in exact["facets"]["stores"]}
    assert all(0 < s["count"] <= whole[s["id"]] for s in sampled["facets"]["stores"])
    # An answer within the sample is counted exactly, and says so.
    found = brute(catalogue, {"q": "samsung"}, world)
    small = (await client.get("/search", params={"q": "samsung", "per_page": 100})).json()
    assert (small["facets_exact"], small["total"]) == (True, len(found))
    assert facets_of(small) == expected_facets(found, world)


async def _hits(client: httpx.AsyncClient, q: str, **params: Any) -> list[str]:
    body = (await client.get("/search", params={"q": q, "per_page": 100, **params})).json()
    return [h["id"] for h in body["items"]]


async def _documents(app: Any, vendor_id: str | None = None) -> int:
    counted = select(func.count()).select_from(SearchDocument)
    if vendor_id is not None:
        counted = counted.where(SearchDocument.vendor_id == uuid.UUID(vendor_id))
    return int(await scalar(app, counted))


@BOTH
async def test_the_index_follows_product_writes_in_their_own_unit_of_work(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, database_url: str
) -> None:
    world = await build(app, client, jobs)
    pid = world.products[0]
    owner = world.owners[0]
    assert await _hits(client, "kaleidoscope") == []
    edited = await client.patch(
        f"/products/{pid}", json={"title": "Kaleidoscope lamp"}, headers=owner.headers
    )
    assert edited.status_code == 200, edited.text
    # Searchable as soon as the edit answers, and no job was asked for.
    assert jobs.published == []
    assert await _hits(client, "kaleidoscope") == [pid]
    assert await _hits(client, "kaleido") == [pid]
    assert await _hits(client, "galaxy 0") == []  # the old title left the index
    # A variant's new price is the indexed price at once.
    variants = (await client.get(f"/products/{pid}", headers=owner.headers)).json()["variants"]
    for variant in variants:
        changed = await client.patch(
            f"/products/{pid}/variants/{variant['id']}",
            json={"price": 123_456},
            headers=owner.headers,
        )
        assert changed.status_code == 200, changed.text
    found = (await client.get("/search", params={"q": "kaleidoscope"})).json()["items"]
    assert [h["price"] for h in found] == [123_456]
    # A new draft product is not indexed; activating it indexes it.
    draft = world.products[29]
    assert await _hits(client, "29") == []
    activated = await client.patch(
        f"/products/{draft}", json={"status": "active"}, headers=world.owners[2].headers
    )
    assert activated.status_code == 200, activated.text
    assert await _hits(client, "29") == [draft]
    # Archiving takes the product out at once: its row is gone.
    archived = await client.delete(f"/products/{pid}", headers=owner.headers)
    assert archived.status_code in (200, 204), archived.text
    assert await _hits(client, "kaleidoscope") == []
    assert await rows(
        app, "SELECT count(*) FROM search_document WHERE title = 'Kaleidoscope lamp'"
    ) == [(0,)]
    assert jobs.published == []
    assert await _documents(app) == 29  # 30 products, one archived, the draft activated


@BOTH
async def test_a_rolled_back_write_leaves_the_index_as_it_was(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, database_url: str
) -> None:
    from oja.core.db import unit_of_work
    from oja.core.runtime import running
    from oja.marketplace.catalog.models import Product

    world = await build(app, client, jobs)
    pid = uuid.UUID(world.products[1])
    vendor_id = uuid.UUID(world.stores[1]["id"])
    before = await rows(app, "SELECT title, words, price FROM search_document ORDER BY product_id")

    class Boom(Exception):
        pass

    async def write_then_fail() -> None:
        async with unit_of_work(app.state.runtime.database) as db:
            product = await db.get(Product, pid)
            assert product is not None
            product.title = "Zanzibar kettle"
            await db.flush()
            assert await search_service.index_products(db, vendor_id, [pid]) == 1
            raise Boom

    with running(app.state.runtime), pytest.raises(Boom):
        await write_then_fail()
    assert (
        await rows(app, "SELECT title, words, price FROM search_document ORDER BY product_id")
        == before
    )
    assert await _hits(client, "zanzibar") == []
    assert await rows(app, "SELECT count(*) FROM search_term WHERE term = 'zanzibar'") == [(0,)]


@BOTH
async def test_store_and_category_renames_reindex_in_one_job(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, database_url: str
) -> None:
    world = await build(app, client, jobs)
    theirs = sorted(await _hits(client, "kano"))
    assert len(theirs) == 10
    renamed = await client.patch(
        "/vendors/me", json={"name": "Zaria Crafts"}, headers=world.owners[1].headers
    )
    assert renamed.status_code == 200, renamed.text
    assert await _hits(client, "zaria") == []  # not until the store's job ran
    assert await jobs.run_kinds(app) == [("marketplace.search.reindex_store", "succeeded")]
    assert sorted(await _hits(client, "zaria")) == theirs
    assert await _hits(client, "kano") == []
    # The same name again (or another field) asks for nothing.
    same = await client.patch(
        "/vendors/me",
        json={"name": "Zaria Crafts", "description": "x"},
        headers=world.owners[1].headers,
    )
    assert same.status_code == 200, same.text
    assert jobs.published == []
    # A category's rename: its own products (not its descendants', whose words hold their own
    # category's name) are found by the new name.
    kitchen = world.categories["kitchen"]
    in_kitchen = sorted(await _hits(client, "kitchen"))
    assert len(in_kitchen) == 5  # 4, 9, 14, 19, 24 (29 is the draft)
    patched = await client.patch(
        f"/categories/{kitchen['id']}", json={"name": "Cookware"}, headers=world.boss.headers
    )
    assert patched.status_code == 200, patched.text
    assert await jobs.run_kinds(app) == [("marketplace.search.reindex_category", "succeeded")]
    assert sorted(await _hits(client, "cookware")) == in_kitchen
    assert await _hits(client, "kitchen") == []
    # Moving a category needs no job: the tree is read at query time.
    home = world.categories["home"]
    assert len(await _hits(client, "", category=home["slug"])) == 11
    moved = await client.patch(
        f"/categories/{kitchen['id']}", json={"parent_id": None}, headers=world.boss.headers
    )
    assert moved.status_code == 200, moved.text
    assert jobs.published == []
    assert len(await _hits(client, "", category=home["slug"])) == 6


@BOTH
async def test_store_status_is_read_at_query_time(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, database_url: str
) -> None:
    world = await build(app, client, jobs)
    store = world.stores[2]
    before = sorted(await _hits(client, "abuja"))
    assert len(before) == 9  # 10 products, one of them the draft
    suspended = await client.post(
        f"/admin/vendors/{store['id']}/suspend", json={"reason": "x"}, headers=world.boss.headers
    )
    assert suspended.status_code == 200
    assert await _hits(client, "abuja") == []
    assert await _hits(client, "home", vendor=store["slug"]) == []
    assert jobs.published == []
    await _reindex(app, jobs)
    assert await _hits(client, "abuja") == []
    assert await _documents(app, store["id"]) == 9  # kept, hidden at query time
    reinstated = await client.post(
        f"/admin/vendors/{store['id']}/approve", headers=world.boss.headers
    )
    assert reinstated.status_code == 200, reinstated.text
    assert sorted(await _hits(client, "abuja")) == before
    assert jobs.published == []


@BOTH
async def test_suggest_and_errors(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, database_url: str
) -> None:
    await build(app, client, jobs)
    got = (await client.get("/search/suggest", params={"q": "pho"})).json()
    assert got[0] == {"kind": "category", "id": got[0]["id"], "text": "Phones", "slug": "phones"}
    products = [s["text"] for s in got if s["kind"] == "product"]
    assert products
    assert all("phone" in t.lower() for t in products)
    assert len(got) <= 10
    sam = (await client.get("/search/suggest", params={"q": "sam ear"})).json()
    assert [s["text"] for s in sam] == [
        "Samsung earbuds 16",
        "Samsung earbuds 26",
        "Samsung earbuds 6",
    ]
    missing = await client.get("/search", params={"category": "no-such"})
    assert (missing.status_code, error_code(missing)) == (404, "category_not_found")
    missing = await client.get("/search", params={"vendor": "no-such"})
    assert (missing.status_code, error_code(missing)) == (404, "vendor_not_found")
    bad = await client.get("/search", params={"sort": "cheapest"})
    assert bad.status_code == 422


async def test_a_cached_answer_is_the_computed_one_byte_for_byte(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    """A hit sends the stored body as it is: the same bytes the miss sent, which are what the
    response model writes; the search is recorded with the same top category either way."""
    await build(app, client, jobs)
    hits, misses = search_service.stats.hits, search_service.stats.misses
    params = {"q": "cotton", "per_page": 2}
    browser = {"X-Client-Id": "cached-answer-1"}
    first = await client.get("/search", params=params, headers=browser)
    second = await client.get("/search", params=params, headers=browser)
    assert (search_service.stats.hits, search_service.stats.misses) == (hits + 1, misses + 1)
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.headers["content-type"] == second.headers["content-type"] == "application/json"
    assert first.content == second.content
    page = SearchPage.model_validate_json(first.content)
    assert first.content == page.model_dump_json().encode()
    assert (page.total, len(page.items)) == (3, 2)
    top = page.facets.categories[0].id
    recorded = await rows(
        app,
        "SELECT category_id FROM behaviour_event WHERE subject = :s AND kind = 'search'",
        s="c:cached-answer-1",
    )
    assert [uuid.UUID(str(r[0])) for r in recorded] == [top, top]


async def test_answers_are_cached_until_the_index_changes(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    world = await build(app, client, jobs)
    hits = search_service.stats.hits
    first = (await client.get("/search", params={"q": "cotton"})).json()
    second = (await client.get("/search", params={"q": "cotton"})).json()
    assert first == second
    assert search_service.stats.hits == hits + 1
    pid = world.products[3]  # "Cotton shirt 3"
    await client.patch(
        f"/products/{pid}", json={"title": "Linen shirt 3"}, headers=world.owners[0].headers
    )
    assert jobs.published == []
    third = (await client.get("/search", params={"q": "cotton"})).json()
    assert third["total"] == first["total"] - 1
