"""The listing's columns on the product row (``listed``, ``min_price``, ``max_price``,
``stocked_variants``, ``category_path``) follow every write that can move them, compared after each
write with a brute-force recomputation from the source tables (migration ``c18l00000001``)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from .conftest import Person, admin, approved_store, person, rows

STORED = (
    "SELECT id, listed, min_price, max_price, stocked_variants, category_path FROM product "
    "ORDER BY id"
)
# What the columns must be, computed from the stores, categories and variants at hand.
BRUTE = """
SELECT p.id,
       CASE WHEN p.status = 'active' AND v.status = 'approved' THEN 1 ELSE 0 END,
       (SELECT min(x.price) FROM product_variant x WHERE x.product_id = p.id
          AND x.deleted_at IS NULL),
       (SELECT max(x.price) FROM product_variant x WHERE x.product_id = p.id
          AND x.deleted_at IS NULL),
       (SELECT count(*) FROM product_variant x WHERE x.product_id = p.id
          AND x.deleted_at IS NULL AND x.stock > 0),
       c.path
FROM product p JOIN vendor v ON v.id = p.vendor_id LEFT JOIN category c ON c.id = p.category_id
ORDER BY p.id
"""


def _normal(found: list[Any]) -> list[tuple[Any, ...]]:
    return [(str(uuid.UUID(str(r[0]))), bool(r[1]), r[2], r[3], int(r[4]), r[5]) for r in found]


async def _stored(app: Any) -> list[tuple[Any, ...]]:
    return _normal(await rows(app, STORED))


async def _agrees(app: Any) -> list[tuple[Any, ...]]:
    """The stored columns, asserted equal to the brute-force recomputation."""
    stored = await _stored(app)
    assert stored == _normal(await rows(app, BRUTE))
    return stored


async def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in {200, 201}, response.text
    return dict(response.json()) if response.content else {}


async def _product(client: httpx.AsyncClient, owner: Person, **body: Any) -> dict[str, Any]:
    return await _ok(await client.post("/products", json=body, headers=owner.headers))


async def test_the_columns_follow_every_write(app: Any, client: httpx.AsyncClient) -> None:
    boss = await admin(app, client)
    root = await _ok(await client.post("/categories", json={"name": "Food"}, headers=boss.headers))
    drinks = await _ok(
        await client.post(
            "/categories", json={"name": "Drinks", "parent_id": root["id"]}, headers=boss.headers
        )
    )
    other = await _ok(
        await client.post("/categories", json={"name": "Other"}, headers=boss.headers)
    )
    owner, rival = await person(client), await person(client)
    store = await approved_store(client, owner, boss, "One")
    await approved_store(client, rival, boss, "Two")
    zobo = await _product(
        client,
        owner,
        title="Zobo",
        status="active",
        category_id=drinks["id"],
        variants=[
            {"sku": "Z-S", "price": 500, "stock": 2},
            {"sku": "Z-L", "price": 900, "stock": 0},
        ],
    )
    draft = await _product(client, owner, title="Draft", sku="D", price=100, stock=1)
    await _product(client, rival, title="Pen", sku="P", price=300, status="active")
    listed = {r[0]: r for r in await _agrees(app)}
    assert listed[zobo["id"]][1:] == (True, 500, 900, 1, f"/{root['id']}/{drinks['id']}/")
    assert listed[draft["id"]][1] is False
    pid = zobo["id"]
    small, large = zobo["variants"][0]["id"], zobo["variants"][1]["id"]
    variant_url = f"/products/{pid}/variants"

    async def step(method: str, url: str, body: dict[str, Any] | None, who: Person) -> None:
        response = await client.request(method, url, json=body, headers=who.headers)
        assert response.status_code in {200, 201, 204}, (url, response.text)
        await _agrees(app)

    async def zobo_row() -> tuple[Any, ...]:
        return next(r for r in await _stored(app) if r[0] == pid)

    # Prices: a change, a cheaper new variant, its deletion.
    await step("PATCH", f"{variant_url}/{small}", {"price": 1000}, owner)
    assert (await zobo_row())[2:4] == (900, 1000)
    await step("POST", variant_url, {"sku": "Z-XS", "price": 50, "stock": 0}, owner)
    assert (await zobo_row())[2:5] == (50, 1000, 1)
    added = next(
        v for v in (await client.get(f"/products/{pid}")).json()["variants"] if v["sku"] == "Z-XS"
    )
    await step("DELETE", f"{variant_url}/{added['id']}", None, owner)
    assert (await zobo_row())[2:4] == (900, 1000)
    # Stock: out, back in, the other variant in, a set and an adjustment.
    await step("POST", f"{variant_url}/{small}/stock", {"adjust": -2, "reason": "sold"}, owner)
    assert (await zobo_row())[4] == 0
    await step("POST", f"{variant_url}/{large}/stock", {"set": 3}, owner)
    await step("POST", f"{variant_url}/{small}/stock", {"set": 1}, owner)
    assert (await zobo_row())[4] == 2
    # A conditional reservation as checkout sends it, outside every service.
    async with app.state.runtime.database.engine.begin() as conn:
        await conn.execute(
            text("UPDATE product_variant SET stock = stock - 1 WHERE stock >= 1 AND sku = 'Z-S'")
        )
    await _agrees(app)
    assert (await zobo_row())[4] == 1
    # A discount changes no column: the listing filters and sorts on stored prices.
    before = await _stored(app)
    await step(
        "POST",
        "/vendors/me/discounts",
        {"type": "percentage", "value": 50, "scope": "store"},
        owner,
    )
    assert await _stored(app) == before
    # The product's category, then a move of the category's subtree.
    await step("PATCH", f"/products/{pid}", {"category_id": other["id"]}, owner)
    await step("PATCH", f"/products/{pid}", {"category_id": drinks["id"]}, owner)
    await step("PATCH", f"/categories/{drinks['id']}", {"parent_id": other["id"]}, boss)
    assert (await zobo_row())[5] == f"/{other['id']}/{drinks['id']}/"
    assert [
        p["title"] for p in (await client.get(f"/products?category={other['id']}")).json()["items"]
    ] == ["Zobo"]
    assert (await client.get(f"/products?category={root['id']}")).json()["items"] == []
    # The store: suspended (nothing of it listed), reinstated.
    await step("POST", f"/admin/vendors/{store['id']}/suspend", {"reason": "fraud"}, boss)
    assert (await zobo_row())[1] is False
    assert [p["title"] for p in (await client.get("/products")).json()["items"]] == ["Pen"]
    await step("POST", f"/admin/vendors/{store['id']}/approve", None, boss)
    assert (await zobo_row())[1] is True
    # The product's own status: the draft published, Zobo archived.
    await step("PATCH", f"/products/{draft['id']}", {"status": "active"}, owner)
    await step("DELETE", f"/products/{pid}", None, owner)
    assert (await zobo_row())[1] is False
    titles = [p["title"] for p in (await client.get("/products")).json()["items"]]
    assert titles == ["Pen", "Draft"]


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_concurrent_changes_of_sibling_variants_all_count(
    app: Any, client: httpx.AsyncClient
) -> None:
    """Twelve transactions at once, each emptying (then each repricing) another variant of one
    product: the count and the prices end equal to a recount (a recount from each transaction's
    own snapshot would leave the product "in stock" with nothing left)."""
    boss = await admin(app, client)
    owner = await person(client)
    await approved_store(client, owner, boss)
    variants = [{"sku": f"V{i}", "price": 1000 + i, "stock": 1} for i in range(12)]
    product = await _product(client, owner, title="Many", status="active", variants=variants)
    engine = app.state.runtime.database.engine

    async def write(sql: str, sku: str) -> None:
        async with engine.begin() as conn:
            await conn.execute(text(sql), {"sku": sku})

    skus = [v["sku"] for v in variants]
    empty = "UPDATE product_variant SET stock = stock - 1 WHERE sku = :sku AND stock >= 1"
    await asyncio.gather(*(write(empty, sku) for sku in skus))
    [row] = [r for r in await _agrees(app) if r[0] == product["id"]]
    assert row[1:5] == (True, 1000, 1011, 0)
    cheaper = "UPDATE product_variant SET price = price - 900 WHERE sku = :sku"
    await asyncio.gather(*(write(cheaper, sku) for sku in skus))
    [row] = [r for r in await _agrees(app) if r[0] == product["id"]]
    assert row[2:4] == (100, 111)
    assert [p["title"] for p in (await client.get("/products?in_stock=false")).json()["items"]] == [
        "Many"
    ]
