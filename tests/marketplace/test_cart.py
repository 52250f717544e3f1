"""The cart: lines grouped by store, priced now by the one pricing function, flags for what
changed, one currency, buyer-owned (another buyer's line is a 404), a bounded number of reads."""

from __future__ import annotations

from typing import Any

import httpx

from tests.core.test_statement_budget import kinds, statements

from .conftest import admin, count, error_code, person
from .shop import add, paystack, paystack_server, settings, shop

__all__ = ["paystack", "paystack_server", "settings"]


async def test_cart_groups_lines_by_store_priced_with_discounts(
    app: Any, client: httpx.AsyncClient
) -> None:
    boss = await admin(app, client)
    a = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 5}], boss=boss)
    b = await shop(
        app,
        client,
        "Store B",
        [{"sku": "B-1", "price": 2500, "stock": 1}, {"sku": "B-2", "price": 999, "stock": 9}],
        boss=boss,
    )
    discount = await client.post(
        "/vendors/me/discounts",
        json={"type": "percentage", "value": 15, "scope": "store"},
        headers=b.owner.headers,
    )
    assert discount.status_code == 201, discount.text
    buyer = await person(client)
    assert (await add(client, buyer, a.variant()["id"], 2)).status_code == 201
    assert (await add(client, buyer, b.variant(0)["id"], 1)).status_code == 201
    added = await add(client, buyer, b.variant(1)["id"], 3)
    assert added.status_code == 201, added.text
    cart = added.json()
    assert [s["vendor"] for s in cart["stores"]] == [
        {"id": a.id, "name": "Store A", "slug": a.store["slug"]},
        {"id": b.id, "name": "Store B", "slug": b.store["slug"]},
    ]
    summary = [
        [
            (ln["sku"], ln["quantity"], ln["unit_price"], ln["unit_discount"], ln["line_total"])
            for ln in s["lines"]
        ]
        for s in cart["stores"]
    ]
    # 15 % of 999 is 149.85 → 150 (half-up); of 2500, 375.
    assert summary == [
        [("A-1", 2, 1000, 0, 2000)],
        [("B-1", 1, 2500, 375, 2125), ("B-2", 3, 999, 150, 2547)],
    ]
    assert [(s["subtotal"], s["discount_total"], s["total"]) for s in cart["stores"]] == [
        (2000, 0, 2000),
        (5497, 825, 4672),
    ]
    assert (cart["subtotal"], cart["discount_total"], cart["total"]) == (7497, 825, 6672)
    assert (cart["currency"], cart["item_count"]) == ("NGN", 6)
    assert cart["changes"] == {
        "price_changed": [],
        "stock_changed": [],
        "out_of_stock": [],
        "unavailable": [],
    }
    line = cart["stores"][1]["lines"][0]
    assert line["discount_ids"] == [discount.json()["id"]]
    assert (line["price_seen"], line["price_changed"], line["stock"]) == (2125, False, 1)


async def test_adding_again_adds_up_and_lines_are_the_buyers_own(
    app: Any, client: httpx.AsyncClient
) -> None:
    a = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 5}])
    buyer, other = await person(client), await person(client)
    await add(client, buyer, a.variant()["id"], 2)
    again = await add(client, buyer, a.variant()["id"], 3)
    lines = again.json()["stores"][0]["lines"]
    assert [(ln["quantity"], ln["line_total"]) for ln in lines] == [(5, 5000)]
    line_id = lines[0]["id"]
    for method, body in (("PATCH", {"quantity": 1}), ("DELETE", None)):
        stolen = await client.request(
            method, f"/cart/items/{line_id}", json=body, headers=other.headers
        )
        assert (stolen.status_code, error_code(stolen)) == (404, "cart_item_not_found")
    assert (await client.get("/cart", headers=other.headers)).json()["stores"] == []
    patched = await client.patch(
        f"/cart/items/{line_id}", json={"quantity": 4}, headers=buyer.headers
    )
    assert patched.json()["total"] == 4000
    zero = await client.patch(f"/cart/items/{line_id}", json={"quantity": 0}, headers=buyer.headers)
    assert (zero.status_code, zero.json()["stores"], zero.json()["total"]) == (200, [], 0)
    assert await count(app, "cart_item") == 0
    await add(client, buyer, a.variant()["id"])
    line_id = (await client.get("/cart", headers=buyer.headers)).json()["stores"][0]["lines"][0][
        "id"
    ]
    deleted = await client.delete(f"/cart/items/{line_id}", headers=buyer.headers)
    assert (deleted.status_code, deleted.json()["item_count"]) == (200, 0)
    gone = await client.delete(f"/cart/items/{line_id}", headers=buyer.headers)
    assert (gone.status_code, error_code(gone)) == (404, "cart_item_not_found")
    assert (await client.get("/cart")).status_code == 401


async def test_flags_say_what_changed_since_adding(app: Any, client: httpx.AsyncClient) -> None:
    a = await shop(
        app,
        client,
        "Store A",
        [
            {"sku": "P", "price": 1000, "stock": 5},
            {"sku": "S", "price": 500, "stock": 5},
            {"sku": "O", "price": 700, "stock": 1},
            {"sku": "U", "price": 300, "stock": 5},
        ],
    )
    buyer = await person(client)
    for index, quantity in enumerate((1, 4, 1, 2)):
        assert (await add(client, buyer, a.variant(index)["id"], quantity)).status_code == 201
    owner = a.owner.headers
    products = [p["id"] for p in a.products]
    price = await client.patch(
        f"/products/{products[0]}/variants/{a.variant(0)['id']}",
        json={"price": 1200},
        headers=owner,
    )
    assert price.status_code == 200, price.text
    for index, delta in ((1, -2), (2, -1)):
        url = f"/products/{products[index]}/variants/{a.variant(index)['id']}/stock"
        assert (await client.post(url, json={"adjust": delta}, headers=owner)).status_code == 200
    archived = await client.patch(
        f"/products/{products[3]}", json={"status": "archived"}, headers=owner
    )
    assert archived.status_code == 200, archived.text
    cart = (await client.get("/cart", headers=buyer.headers)).json()
    lines = {ln["sku"]: ln for ln in cart["stores"][0]["lines"]}
    flags = {
        sku: (ln["price_changed"], ln["stock_changed"], ln["out_of_stock"], ln["unavailable"])
        for sku, ln in lines.items()
    }
    assert flags == {
        "P": (True, False, False, False),
        "S": (False, True, False, False),
        "O": (False, False, True, False),
        "U": (False, False, False, True),
    }
    assert (lines["P"]["price_seen"], lines["P"]["unit_price"]) == (1000, 1200)
    assert lines["S"]["stock"] == 3
    assert cart["changes"] == {
        "price_changed": [lines["P"]["id"]],
        "stock_changed": [lines["S"]["id"]],
        "out_of_stock": [lines["O"]["id"]],
        "unavailable": [lines["U"]["id"]],
    }
    # The unavailable line is shown but not counted: 1200 + 4 × 500 + 700.
    assert cart["total"] == 3900


async def test_one_currency_and_only_variants_on_sale(app: Any, client: httpx.AsyncClient) -> None:
    boss = await admin(app, client)
    naira = await shop(app, client, "Naira", [{"sku": "N", "price": 1000, "stock": 5}], boss=boss)
    cedi = await shop(
        app, client, "Cedi", [{"sku": "G", "price": 90, "stock": 5, "currency": "GHS"}], boss=boss
    )
    buyer = await person(client)
    await add(client, buyer, naira.variant()["id"])
    refused = await add(client, buyer, cedi.variant()["id"])
    assert (refused.status_code, error_code(refused)) == (409, "cart_currency_mismatch")
    assert refused.json()["error"]["details"] == {"cart_currency": "NGN", "currency": "GHS"}
    draft = await client.post(
        "/products",
        json={"title": "Hidden", "sku": "D-1", "price": 100},
        headers=naira.owner.headers,
    )
    assert draft.status_code == 201, draft.text
    for variant_id in (draft.json()["variants"][0]["id"], naira.products[0]["id"]):
        missing = await add(client, buyer, variant_id)
        assert (missing.status_code, error_code(missing)) == (404, "variant_not_found")
    for quantity in (0, -1, 1001):
        assert (await add(client, buyer, naira.variant()["id"], quantity)).status_code == 422
    assert await count(app, "cart_item") == 1


async def test_get_cart_is_three_statements_whatever_its_size(
    app: Any, client: httpx.AsyncClient
) -> None:
    boss = await admin(app, client)
    stores = [
        await shop(
            app,
            client,
            f"Store {n}",
            [{"sku": f"S{n}-{i}", "price": 100 * (i + 1), "stock": 9} for i in range(4)],
            boss=boss,
        )
        for n in range(3)
    ]
    buyer = await person(client)
    for store in stores:
        for index in range(4):
            await add(client, buyer, store.variant(index)["id"])
    with statements(app) as sent:
        response = await client.get("/cart", headers=buyer.headers)
    assert response.json()["item_count"] == 12
    assert kinds(sent) == ["SELECT user", "SELECT cart_item", "SELECT discount"]
