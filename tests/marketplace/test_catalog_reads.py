"""The public listing and product page read plain columns and serialise each answer once (issue
18); every answer must equal the one built the earlier way — ORM entities, the category's path from
its own table, ORM discounts, a model per product — for a catalogue with variants, categories and
overlapping discounts."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from oja.core.clock import utcnow
from oja.core.db import read_only
from oja.marketplace.catalog import repository, service
from oja.marketplace.catalog.models import Product, ProductVariant
from oja.marketplace.pricing import repository as pricing_repository

from .conftest import Person, admin, approved_store, person


async def _post(client: httpx.AsyncClient, who: Person, path: str, body: dict[str, Any]) -> Any:
    response = await client.post(path, json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def _seed(app: Any, client: httpx.AsyncClient) -> list[str]:
    boss = await admin(app, client)
    food = await _post(client, boss, "/categories", {"name": "Food"})
    drinks = await _post(client, boss, "/categories", {"name": "Drinks", "parent_id": food["id"]})
    one, two = await person(client), await person(client)
    await approved_store(client, one, boss, "One")
    await approved_store(client, two, boss, "Two")
    ids = []
    for owner, title, category, variants in (
        (one, "Zobo", drinks, [("Z-S", 999, 3, {"size": "S"}), ("Z-L", 1999, 0, {"size": "L"})]),
        (one, "Rice", food, [("R-1", 5000, 40, {})]),
        (one, "Pen", None, [("P-1", 300, 0, {}), ("P-2", 250, 9, {"ink": "blue"})]),
        (two, "Kunu", drinks, [("K-1", 1200, 9, {}), ("K-2", 1201, 1, {"size": "L"})]),
        (two, "Mug", None, [("M-1", 4500, 2, {"colour": "ünïcode ☕"})]),
    ):
        body = {
            "title": title,
            "status": "active",
            "attributes": {"origin": "Kano", "weight": 1.5},
            "category_id": category["id"] if category else None,
            "variants": [
                {"sku": sku, "price": price, "stock": stock, "options": options}
                for sku, price, stock, options in variants
            ],
        }
        ids.append((await _post(client, owner, "/products", body))["id"])
    discounts = (
        (one, {"type": "percentage", "value": 15, "scope": "store", "stackable": True}),
        (one, {"type": "fixed", "value": 100, "scope": "category", "target_id": drinks["id"]}),
        (one, {"type": "percentage", "value": 5, "scope": "product", "target_id": ids[2]}),
        (one, {"type": "fixed", "value": 50, "scope": "store", "stackable": True}),
        (one, {"type": "fixed", "value": 900, "scope": "store", "code": "SECRET"}),
        (two, {"type": "percentage", "value": 12, "scope": "category", "target_id": food["id"]}),
        (
            two,
            {
                "type": "percentage",
                "value": 50,
                "scope": "store",
                "starts_at": (utcnow() + timedelta(days=1)).isoformat(),
            },
        ),
    )
    for owner, body in discounts:
        await _post(client, owner, "/vendors/me/discounts", body)
    return ids


async def _as_before(app: Any, product_id: str) -> dict[str, Any]:
    """The product's answer built as the routes built it before: ORM entities and models."""
    async with read_only(app.state.runtime.database) as db:
        product = await db.get_one(Product, uuid.UUID(product_id))
        variants = (
            await db.scalars(
                select(ProductVariant)
                .where(ProductVariant.product_id == product.id, ProductVariant.deleted_at.is_(None))
                .order_by(ProductVariant.created_at, ProductVariant.id)
            )
        ).all()
        now = utcnow()
        pricing = service.Pricing(
            discounts=await pricing_repository.live_discounts(db, [product.vendor_id], now),
            category_path=await repository.category_path(db, product.category_id),
            now=now,
        )
        return service.product_out(product, variants, pricing).model_dump(mode="json")


async def test_listing_and_product_page_answer_as_the_entity_path_did(
    app: Any, client: httpx.AsyncClient
) -> None:
    ids = await _seed(app, client)
    expected = {pid: await _as_before(app, pid) for pid in ids}
    # the seed prices something each way: a stack, a single best, a category's, none
    assert [expected[pid]["effective_price"] for pid in ids] == [799, 4200, 162, 1056, 4500]
    for query in (
        "",
        "sort=price_asc",
        "sort=price_desc&per_page=2&page=2",
        "category=food&in_stock=true",
        "min_price=1000&max_price=2000",
    ):
        response = await client.get(f"/products?{query}")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        page = response.json()
        assert page["items"] == [expected[item["id"]] for item in page["items"]], query
    listed = (await client.get("/products")).json()
    assert (listed["total"], listed["page"], listed["per_page"], listed["pages"]) == (5, 1, 20, 1)
    assert [item["id"] for item in listed["items"]] == ids[::-1]
    for pid in ids:
        shown = await client.get(f"/products/{pid}")
        assert shown.status_code == 200, shown.text
        assert shown.json() == expected[pid]
