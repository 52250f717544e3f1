"""A suspended or rejected store's catalogue is frozen: every write route answers 403
``vendor_suspended`` and changes nothing, its own reads still work, and its products vanish from
the public listing and pages until it is reinstated. A pending store may prepare its catalogue."""

from __future__ import annotations

from typing import Any

import httpx

from tests.files import media

from .conftest import Person, admin, approved_store, count, error_code, open_store, person

TABLES = (
    "product",
    "product_variant",
    "product_image",
    "price_change",
    "stock_movement",
    "discount",
    "file",
)


async def _counts(app: Any) -> dict[str, int]:
    return {table: await count(app, table) for table in TABLES}


def _writes(pid: str, vid: str, image: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("POST", "/products", {"title": "New", "sku": "NEW-1", "price": 100}),
        ("PATCH", f"/products/{pid}", {"title": "Renamed"}),
        ("DELETE", f"/products/{pid}", None),
        ("POST", f"/products/{pid}/variants", {"sku": "V-2", "price": 700}),
        ("PATCH", f"/products/{pid}/variants/{vid}", {"price": 900}),
        ("DELETE", f"/products/{pid}/variants/{vid}", None),
        ("POST", f"/products/{pid}/variants/{vid}/stock", {"adjust": -1}),
        ("POST", "/vendors/me/discounts", {"type": "percentage", "value": 10, "scope": "store"}),
        ("PATCH", f"/products/{pid}/images/{image}", {"alt_text": "x"}),
        ("DELETE", f"/products/{pid}/images/{image}", None),
    ]


async def _stocked_store(
    app: Any, client: httpx.AsyncClient
) -> tuple[Person, Person, dict[str, Any], dict[str, Any], str]:
    boss = await admin(app, client)
    owner = await person(client, "vendor")
    store = await approved_store(client, owner, boss)
    product = await client.post(
        "/products",
        json={
            "title": "Zobo",
            "status": "active",
            "variants": [
                {"sku": "Z-1", "price": 1500, "stock": 10},
                {"sku": "Z-2", "price": 2500, "stock": 10},
            ],
        },
        headers=owner.headers,
    )
    assert product.status_code == 201, product.text
    image = await client.post(
        f"/products/{product.json()['id']}/images",
        files={"file": ("z.png", media.png(8, 8), "image/png")},
        headers=owner.headers,
    )
    assert image.status_code == 201, image.text
    return boss, owner, store, product.json(), str(image.json()["id"])


async def test_a_suspended_store_cannot_change_its_catalogue_but_reads_it(
    app: Any, client: httpx.AsyncClient
) -> None:
    boss, owner, store, product, image = await _stocked_store(app, client)
    pid, vid = product["id"], product["variants"][1]["id"]
    assert [p["id"] for p in (await client.get("/products")).json()["items"]] == [pid]
    suspended = await client.post(
        f"/admin/vendors/{store['id']}/suspend", json={"reason": "fraud"}, headers=boss.headers
    )
    assert suspended.status_code == 200
    before = await _counts(app)
    for method, path, body in _writes(pid, vid, image):
        response = await client.request(method, path, json=body, headers=owner.headers)
        assert (response.status_code, error_code(response)) == (403, "vendor_suspended"), path
        assert response.json()["error"]["details"] == {"status": "suspended"}
    upload = await client.post(
        f"/products/{pid}/images",
        files={"file": ("z.png", media.png(8, 8), "image/png")},
        headers=owner.headers,
    )
    assert (upload.status_code, error_code(upload)) == (403, "vendor_suspended")
    assert await _counts(app) == before
    # Its own reads still work; the public sees nothing of it.
    assert (await client.get("/vendors/me", headers=owner.headers)).json()["status"] == "suspended"
    own = await client.get(f"/products/{pid}", headers=owner.headers)
    assert (own.status_code, own.json()["title"], len(own.json()["images"])) == (200, "Zobo", 1)
    inventory = await client.get("/vendors/me/inventory", headers=owner.headers)
    assert inventory.status_code == 200
    assert inventory.json()["total"] == 2
    assert (await client.get("/vendors/me/discounts", headers=owner.headers)).status_code == 200
    assert (await client.get("/products")).json()["items"] == []
    assert (await client.get(f"/products/{pid}")).status_code == 404
    assert (await client.get(f"/products?vendor={store['slug']}")).json()["total"] == 0
    # Reinstated: it sells and edits again.
    assert (
        await client.post(f"/admin/vendors/{store['id']}/approve", headers=boss.headers)
    ).status_code == 200
    assert [p["id"] for p in (await client.get("/products")).json()["items"]] == [pid]
    renamed = await client.patch(
        f"/products/{pid}", json={"title": "Zobo, cold"}, headers=owner.headers
    )
    assert (renamed.status_code, renamed.json()["title"]) == (200, "Zobo, cold")


async def test_a_rejected_store_is_frozen_and_a_pending_one_prepares_its_catalogue(
    app: Any, client: httpx.AsyncClient
) -> None:
    boss = await admin(app, client)
    hopeful, refused = await person(client, "vendor"), await person(client, "vendor")
    await open_store(client, hopeful, "Hopeful")
    rejected = await open_store(client, refused, "Refused")
    draft = await client.post(
        "/products",
        json={"title": "Kunu", "sku": "K-1", "price": 900, "status": "active"},
        headers=hopeful.headers,
    )
    assert draft.status_code == 201, draft.text
    assert (await client.get("/products")).json()["items"] == []  # not public before approval
    assert (await client.get(f"/products/{draft.json()['id']}")).status_code == 404
    decided = await client.post(
        f"/admin/vendors/{rejected['id']}/reject", json={"reason": "no"}, headers=boss.headers
    )
    assert decided.status_code == 200
    attempt = await client.post(
        "/products", json={"title": "Pen", "sku": "P-1", "price": 300}, headers=refused.headers
    )
    assert (attempt.status_code, error_code(attempt)) == (403, "vendor_suspended")
    assert attempt.json()["error"]["details"] == {"status": "rejected"}
    assert await count(app, "product") == 1
