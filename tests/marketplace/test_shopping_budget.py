"""The shopping day's four hot routes, every statement counted exactly (as ``/user/me`` is):
``POST /cart/items``, ``GET /cart``, ``POST /checkout`` (in ``test_checkout``) and
``GET /order-groups/{id}``. A new statement on one of them fails here before it costs every
request of the day a round trip."""

from __future__ import annotations

from typing import Any

import httpx

from oja.sandbox.paystack import PaystackFake
from tests.core.test_statement_budget import statements

from .conftest import admin, person
from .shop import add, checkout, paystack, paystack_server, settings, shop
from .test_checkout import shapes

__all__ = ["paystack", "paystack_server", "settings"]


async def test_add_to_cart_reads_the_cart_and_its_discounts_once(
    app: Any, client: httpx.AsyncClient
) -> None:
    """The cart with the offer (one UNION ALL), the store's admission, the discounts of its
    stores, the upsert and the behaviour row; the cart answered is the one ``GET /cart`` reads
    afterwards."""
    boss = await admin(app, client)
    variants = [{"sku": f"S-{i}", "price": 100 * (i + 1), "stock": 9} for i in range(3)]
    one = await shop(app, client, "One", variants, boss=boss)
    two = await shop(app, client, "Two", variants[:1], boss=boss)
    discount = await client.post(
        "/vendors/me/discounts",
        json={"type": "percentage", "value": 10, "scope": "store"},
        headers=two.owner.headers,
    )
    assert discount.status_code == 201, discount.text
    buyer = await person(client)
    await add(client, buyer, one.variant(0)["id"])
    await add(client, buyer, two.variant()["id"])
    for variant, quantity in ((one.variant(1)["id"], 1), (one.variant(0)["id"], 2)):
        with statements(app) as sent:
            response = await add(client, buyer, variant, quantity)
        assert response.status_code == 201, response.text
        assert shapes(sent) == [
            "SELECT user",
            "SELECT cart_item",
            "SELECT store_visitor",
            "SELECT discount",
            "INSERT cart_item",
            "INSERT behaviour_event",
        ]
        assert response.json() == (await client.get("/cart", headers=buyer.headers)).json()
    cart = response.json()
    assert [
        (ln["sku"], ln["quantity"], ln["line_total"]) for s in cart["stores"] for ln in s["lines"]
    ] == [
        ("S-0", 3, 300),
        ("S-1", 1, 200),
        ("S-0", 1, 90),
    ]
    assert (cart["total"], cart["item_count"], cart["changes"]["price_changed"]) == (590, 5, [])


async def test_order_group_is_one_select(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake
) -> None:
    """The group and its store orders in one statement, after the session check."""
    boss = await admin(app, client)
    one = await shop(app, client, "One", [{"sku": "A", "price": 100, "stock": 9}], boss=boss)
    two = await shop(app, client, "Two", [{"sku": "B", "price": 250, "stock": 9}], boss=boss)
    buyer = await person(client)
    await add(client, buyer, one.variant()["id"], 2)
    await add(client, buyer, two.variant()["id"])
    created = await checkout(client, buyer)
    assert created.status_code == 201, created.text
    group_id = created.json()["order_group_id"]
    with statements(app) as sent:
        response = await client.get(f"/order-groups/{group_id}", headers=buyer.headers)
    assert response.status_code == 200, response.text
    assert shapes(sent) == ["SELECT user", "SELECT order_group"]
    group = response.json()
    assert (group["id"], group["status"], group["total"]) == (group_id, "awaiting_payment", 450)
    assert sorted((o["vendor_id"], o["total"], o["status"]) for o in group["orders"]) == sorted(
        [(one.id, 200, "pending"), (two.id, 250, "pending")]
    )
    stranger = await person(client)
    other = await client.get(f"/order-groups/{group_id}", headers=stranger.headers)
    assert (other.status_code, other.json()["error"]["code"]) == (404, "order_group_not_found")
