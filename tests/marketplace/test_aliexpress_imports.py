"""AliExpress imports: products, variants, prices, provenance and stored images from the gateway
fake over HTTP; re-imports that update and never duplicate; a lapsed token that imports nothing;
the category maps; and one store never seeing another's imports or maps."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from oja.core.clock import utcnow
from oja.core.config import Settings
from oja.marketplace.aliexpress.config import AliExpressImportSettings
from oja.marketplace.sources.aliexpress.config import AliExpressSettings
from oja.sandbox.aliexpress import (
    DEFAULT_APP_KEY,
    DEFAULT_APP_SECRET,
    FIRST_PRODUCT_ID,
    AliExpressFake,
)
from tests.conftest import Jobs, make_settings, use_settings
from tests.fakes import serving
from tests.marketplace.conftest import Person, admin, approved_store, count, person, rows

FIRST = str(FIRST_PRODUCT_ID)
IMPORT_TASK = "oja.job.marketplace.aliexpress.import"
SECTIONS = (AliExpressSettings, AliExpressImportSettings)
"""Imported so that their fields are known when the settings below are made."""
CATALOGUE_TABLES = (
    "product",
    "product_variant",
    "product_image",
    "product_source",
    "product_source_variant",
    "price_change",
    "stock_movement",
    "product_handle",
    "file",
)


def ae(n: int) -> str:
    return str(FIRST_PRODUCT_ID + n)


@pytest.fixture
def served() -> Iterator[tuple[AliExpressFake, str]]:
    yield from serving(AliExpressFake(products=60, variants=4, images=2))


@pytest.fixture
def settings(tmp_path: Path, database_url: str, served: tuple[AliExpressFake, str]) -> Settings:
    _, url = served
    return make_settings(
        tmp_path,
        database_url,
        aliexpress_base_url=url,
        aliexpress_authorize_url=url + "/oauth/authorize",
        aliexpress_app_key=DEFAULT_APP_KEY,
        aliexpress_app_secret=DEFAULT_APP_SECRET,
        aliexpress_calls_per_second=1000,
        http_allow_private_hosts=["127.0.0.1"],
    )


async def connect(client: httpx.AsyncClient, owner: Person) -> None:
    started = await client.get("/integrations/aliexpress/connect", headers=owner.headers)
    assert started.status_code == 200, started.text
    async with httpx.AsyncClient() as browser:
        consent = await browser.get(started.json()["authorize_url"])
    back = httpx.URL(consent.headers["location"])
    done = await client.get(back.path, params=dict(back.params))
    assert done.status_code == 200, done.text


async def connected_vendor(app: Any, client: httpx.AsyncClient, boss: Person) -> Person:
    owner = await person(client, "vendor")
    await approved_store(client, owner, boss, f"Store {owner.email[:10]}")
    await connect(client, owner)
    return owner


async def category(client: httpx.AsyncClient, boss: Person, name: str) -> str:
    made = await client.post("/categories", json={"name": name}, headers=boss.headers)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def run_imports(app: Any, jobs: Jobs) -> list[str]:
    """Run the published AliExpress import jobs; what they enqueue (images) stays published."""
    from oja.core.jobs.runner import execute

    outcomes = []
    while ids := [i for i in jobs.published if jobs.task_names.get(i) == IMPORT_TASK]:
        jobs.published.remove(ids[0])
        outcomes.append(await execute(str(ids[0]), app.state.runtime))
    return outcomes


async def imported(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, who: Person, body: dict[str, Any]
) -> dict[str, Any]:
    accepted = await client.post("/vendors/me/aliexpress/imports", json=body, headers=who.headers)
    assert accepted.status_code == 202, accepted.text
    assert (accepted.json()["status"], accepted.json()["format"]) == ("queued", "aliexpress")
    assert await run_imports(app, jobs) == ["succeeded"]
    detail = await client.get(f"/vendors/me/imports/{accepted.json()['id']}", headers=who.headers)
    assert detail.status_code == 200, detail.text
    return dict(detail.json())


async def counts(app: Any) -> dict[str, int]:
    return {table: await count(app, table) for table in CATALOGUE_TABLES}


async def variants(app: Any) -> list[tuple[Any, ...]]:
    found = await rows(
        app,
        "SELECT p.title, p.status, v.sku, v.price, v.currency, v.stock FROM product_variant v "
        "JOIN product p ON p.id = v.product_id ORDER BY v.sku",
    )
    return [tuple(r) for r in found]


async def test_an_import_creates_products_variants_provenance_and_stored_images(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, served: tuple[AliExpressFake, str]
) -> None:
    fake, url = served
    boss = await admin(app, client)
    kitchen = await category(client, boss, "Kitchen things")
    owner = await connected_vendor(app, client, boss)
    body = {
        "products": [
            ae(0),
            {"ae_id": ae(1), "sku_ids": [f"{ae(1)}00", f"{ae(1)}03"], "status": "active"},
        ],
        "category_id": kitchen,
        "price_rule": {"multiplier": "1.5", "markup": 10000, "currency": "NGN", "ending": "99"},
    }
    detail = await imported(app, client, jobs, owner, body)
    assert detail["progress"] == {"rows_done": 2, "rows_total": 2, "percent": 100}
    assert detail["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "failed": 0}
    assert detail["failed_rows"] == []
    # 3.99 USD × 1500 = 5,985 NGN; × 1.5 = 8,977.50; + 100.00 = 9,077.50; up to …99 → 9,099.00.
    assert await variants(app) == [
        ("Kitchen item 1", "draft", f"AE-{ae(0)}00", 909900, "NGN", 100),
        ("Kitchen item 1", "draft", f"AE-{ae(0)}01", 1029900, "NGN", 101),
        ("Kitchen item 1", "draft", f"AE-{ae(0)}02", 1139900, "NGN", 102),
        ("Kitchen item 1", "draft", f"AE-{ae(0)}03", 1249900, "NGN", 103),
        ("Lighting item 2", "active", f"AE-{ae(1)}00", 1139900, "NGN", 101),
        ("Lighting item 2", "active", f"AE-{ae(1)}03", 1479900, "NGN", 104),
    ]
    (options,) = await rows(
        app, "SELECT options FROM product_variant WHERE sku = :sku", sku=f"AE-{ae(0)}03"
    )
    assert _json(options[0]) == {"Color": "Black", "Size": "M"}
    sources = await rows(
        app,
        "SELECT source, source_id, source_url, source_category_id, source_price, "
        "source_currency, source_stock, available FROM product_source ORDER BY source_id",
    )
    assert [tuple(s) for s in sources] == [
        ("aliexpress", ae(0), f"https://www.aliexpress.com/item/{ae(0)}.html", "200000002",
         399, "USD", 406, True),
        ("aliexpress", ae(1), f"https://www.aliexpress.com/item/{ae(1)}.html", "200000003",
         499, "USD", 205, True),
    ]  # fmt: skip
    assert await count(app, "product_source_variant") == 6
    assert await count(app, "product", "category_id IS NOT NULL") == 2
    assert [c.api for c in fake.api_calls()] == [
        "/auth/token/create",
        "aliexpress.ds.product.get",
        "aliexpress.ds.product.get",
    ]  # one call a product: the least an import can make

    # The detail says which product of the store a source product became.
    (product_id,) = (await rows(app, "SELECT product_id FROM product_source ORDER BY source_id"))[0]
    shown = await client.get(f"/vendors/me/aliexpress/products/{ae(0)}", headers=owner.headers)
    assert shown.json()["imported_product_id"] == str(uuid.UUID(str(product_id)))
    shown = await client.get(f"/vendors/me/aliexpress/products/{ae(2)}", headers=owner.headers)
    assert shown.json()["imported_product_id"] is None

    # Images: fetched from the fake into stored files by the files pipeline, never hot-linked.
    await jobs.run(app)
    images = await rows(app, "SELECT source_url, file_id FROM product_image ORDER BY source_url")
    expected = sorted(
        [f"{url}/img/{ae(0)}/{n}.jpg" for n in range(2)]
        + [f"{url}/img/{ae(0)}/c{n}.jpg" for n in range(3)]
        + [f"{url}/img/{ae(1)}/{n}.jpg" for n in range(2)]
        + [f"{url}/img/{ae(1)}/c0.jpg"]
    )
    assert [i[0] for i in images] == expected
    assert all(i[1] is not None for i in images)


def _json(value: Any) -> Any:
    import json

    return json.loads(value) if isinstance(value, str) else value


async def _same_fifty_twice(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fake: AliExpressFake
) -> None:
    boss = await admin(app, client)
    owner = await connected_vendor(app, client, boss)
    body = {"products": [ae(n) for n in range(50)], "price_rule": {"currency": "USD"}}
    first = await imported(app, client, jobs, owner, body)
    assert first["counts"] == {"created": 50, "updated": 0, "unchanged": 0, "failed": 0}
    await jobs.run(app)
    before = await counts(app)
    assert before["product"] == 50
    assert before["product_variant"] == 200
    assert before["product_source"] == 50
    assert before["product_source_variant"] == 200
    assert before["product_image"] == 50 * 5
    jobs_before = await count(app, "job", "kind <> 'marketplace.aliexpress.import'")

    again = await imported(app, client, jobs, owner, body)
    assert again["counts"] == {"created": 0, "updated": 0, "unchanged": 50, "failed": 0}
    assert await counts(app) == before
    assert await count(app, "job", "kind <> 'marketplace.aliexpress.import'") == jobs_before
    assert jobs.published == []  # no image fetched again

    # The source's cost changed: the same import updates those variants, still no new row
    # but the price changes it records.
    fake.set_price(ae(0), "9.00")
    third = await imported(app, client, jobs, owner, body)
    assert third["counts"] == {"created": 0, "updated": 1, "unchanged": 49, "failed": 0}
    after = await counts(app)
    assert after == {**before, "price_change": before["price_change"] + 4}
    prices = await rows(
        app, "SELECT DISTINCT price FROM product_variant WHERE sku LIKE :s", s=f"AE-{ae(0)}%"
    )
    assert [p[0] for p in prices] == [900]


async def test_the_same_fifty_products_again_add_no_row(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, served: tuple[AliExpressFake, str]
) -> None:
    await _same_fifty_twice(app, client, jobs, served[0])


async def test_a_lapsed_connection_imports_nothing_and_says_why(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, served: tuple[AliExpressFake, str]
) -> None:
    fake, _ = served
    boss = await admin(app, client)
    owner = await connected_vendor(app, client, boss)
    body = {"products": [ae(n) for n in range(10)], "price_rule": {"currency": "USD"}}
    accepted = await client.post("/vendors/me/aliexpress/imports", json=body, headers=owner.headers)
    assert accepted.status_code == 202, accepted.text
    fake.expire_tokens()  # AliExpress refuses the token Oja still thinks live
    assert await run_imports(app, jobs) == ["succeeded"]
    detail = await client.get(f"/vendors/me/imports/{accepted.json()['id']}", headers=owner.headers)
    assert detail.json()["status"] == "failed"
    assert detail.json()["error"] == (
        "aliexpress_connection_expired: AliExpress no longer accepts this store's connection: "
        "reconnect the account."
    )
    assert detail.json()["counts"] == {"created": 0, "updated": 0, "unchanged": 0, "failed": 0}
    assert {t: n for t, n in (await counts(app)).items() if t != "file"} == {
        t: 0 for t in CATALOGUE_TABLES if t != "file"
    }
    assert jobs.published == []

    # Oja knows it lapsed: refused at once, nothing accepted.
    async with app.state.runtime.database.engine.begin() as conn:
        await conn.execute(
            text("UPDATE aliexpress_connection SET access_expires_at = :now"), {"now": utcnow()}
        )
    refused = await client.post("/vendors/me/aliexpress/imports", json=body, headers=owner.headers)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "aliexpress_connection_expired"
    assert await count(app, "product_import") == 1


async def test_bad_requests_are_refused_and_store_nothing(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    boss = await admin(app, client)
    owner = await connected_vendor(app, client, boss)
    stranger = await person(client, "vendor")
    await approved_store(client, stranger, boss, "No Connection Store")
    missing = "01938f6e-7b1a-7c3e-9a55-3f1f0c2d4e5f"
    cases = [
        ({"products": [ae(0), ae(0)]}, "product 1005000000000001 is named twice"),
        ({"products": [ae(0)], "category_id": missing}, f"no category {missing}"),
        (
            {"products": [ae(0)], "price_rule": {"currency": "EUR"}},
            "no rate from USD to EUR in OJA_ALIEXPRESS_CURRENCY_RATES",
        ),
    ]
    for body, why in cases:
        answer = await client.post(
            "/vendors/me/aliexpress/imports", json=body, headers=owner.headers
        )
        assert answer.status_code == 422, answer.text
        assert [d["msg"] for d in answer.json()["error"]["details"]] == [why]
    for body in ({"products": []}, {"products": ["abc"]}, {"products": [ae(0)], "x": 1}):
        answer = await client.post(
            "/vendors/me/aliexpress/imports", json=body, headers=owner.headers
        )
        assert answer.status_code == 422, answer.text
    unconnected = await client.post(
        "/vendors/me/aliexpress/imports", json={"products": [ae(0)]}, headers=stranger.headers
    )
    assert unconnected.status_code == 409
    assert unconnected.json()["error"]["code"] == "aliexpress_not_connected"
    assert await count(app, "product_import") == 0
    assert jobs.published == []


async def test_category_maps_route_imports_and_list_what_is_unmapped(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    boss = await admin(app, client)
    kitchen = await category(client, boss, "Kitchen")
    lamps = await category(client, boss, "Lamps")
    fallback = await category(client, boss, "Imported")
    use_settings(app, aliexpress_fallback_category="imported")
    owner = await connected_vendor(app, client, boss)
    other = await connected_vendor(app, client, boss)

    default = await client.put(
        "/admin/aliexpress/category-map",
        json={"mappings": [{"source_category_id": "200000002", "category_id": lamps}]},
        headers=boss.headers,
    )
    assert default.status_code == 200, default.text
    mine = await client.put(
        "/vendors/me/aliexpress/category-map",
        json={"mappings": [{"source_category_id": "200000002", "category_id": kitchen}]},
        headers=owner.headers,
    )
    assert mine.json() == {
        "mappings": [{"source_category_id": "200000002", "category_id": kitchen}],
        "unmapped": [],
    }
    refused = await client.put(
        "/vendors/me/aliexpress/category-map",
        json={"mappings": [{"source_category_id": "200000003", "category_id": owner.id}]},
        headers=owner.headers,
    )
    assert refused.status_code == 422
    not_admin = await client.put(
        "/admin/aliexpress/category-map", json={"mappings": []}, headers=owner.headers
    )
    assert not_admin.status_code == 403

    # Kitchen (200000002): the store's map; Lighting (200000003): nothing maps it → fallback.
    body = {"products": [ae(0), ae(1)], "price_rule": {"currency": "USD"}}
    await imported(app, client, jobs, owner, body)
    await imported(app, client, jobs, other, body)
    assert await placed(app, client, owner) == {
        "Kitchen item 1": kitchen,
        "Lighting item 2": fallback,
    }
    assert await placed(app, client, other) == {
        "Kitchen item 1": lamps,
        "Lighting item 2": fallback,
    }

    shown = await client.get("/vendors/me/aliexpress/category-map", headers=owner.headers)
    assert shown.json()["unmapped"] == [{"source_category_id": "200000003", "products": 1}]
    theirs = await client.get("/vendors/me/aliexpress/category-map", headers=other.headers)
    assert theirs.json() == {
        "mappings": [],
        "unmapped": [{"source_category_id": "200000003", "products": 1}],
    }
    admin_view = await client.get("/admin/aliexpress/category-map", headers=boss.headers)
    assert admin_view.json()["mappings"] == [
        {"source_category_id": "200000002", "category_id": lamps}
    ]


async def placed(app: Any, client: httpx.AsyncClient, who: Person) -> dict[str, str]:
    """The store's products' titles → their category ids."""
    store = str((await client.get("/vendors/me", headers=who.headers)).json()["id"])
    found = await rows(
        app,
        "SELECT p.title, CAST(p.category_id AS TEXT) FROM product p "
        "WHERE replace(CAST(p.vendor_id AS TEXT), '-', '') = :vid",
        vid=store.replace("-", ""),
    )
    return {r[0]: str(uuid.UUID(str(r[1]))) for r in found}


async def test_another_store_never_sees_an_import(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    boss = await admin(app, client)
    owner = await connected_vendor(app, client, boss)
    other = await connected_vendor(app, client, boss)
    buyer = await person(client)
    body = {"products": [ae(0)], "price_rule": {"currency": "USD"}}
    accepted = await client.post("/vendors/me/aliexpress/imports", json=body, headers=owner.headers)
    import_id = accepted.json()["id"]
    assert (
        await client.get(f"/vendors/me/imports/{import_id}", headers=other.headers)
    ).status_code == 404
    listed = await client.get("/vendors/me/imports", headers=other.headers)
    assert listed.json()["items"] == []
    assert (
        await client.post("/vendors/me/aliexpress/imports", json=body, headers=buyer.headers)
    ).status_code == 403
    assert (await client.post("/vendors/me/aliexpress/imports", json=body)).status_code == 401


async def test_an_idempotency_key_answers_the_first_import(
    app: Any, client: httpx.AsyncClient, jobs: Jobs
) -> None:
    boss = await admin(app, client)
    owner = await connected_vendor(app, client, boss)
    headers = {**owner.headers, "Idempotency-Key": "ae-import-1"}
    body = {"products": [ae(0), ae(1)], "price_rule": {"currency": "USD"}}
    first = await client.post("/vendors/me/aliexpress/imports", json=body, headers=headers)
    again = await client.post("/vendors/me/aliexpress/imports", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["id"] == first.json()["id"]
    other = await client.post(
        "/vendors/me/aliexpress/imports", json={**body, "status": "active"}, headers=headers
    )
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "import_key_reused"
    assert await count(app, "product_import") == 1
    assert await run_imports(app, jobs) == ["succeeded"]
    assert await count(app, "product") == 2
