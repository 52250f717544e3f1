"""A small marketplace for the authorization matrix and the scoping check: two approved stores (A
and B), a buyer, an admin, anonymous — and every vendor route with the status each must get."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from .conftest import Person, admin, approved_store, open_store, person

PRINCIPALS = ("anonymous", "buyer", "admin", "vendor_b", "vendor_a")
"""The order each route is called in: vendor A (the owner of every object named) last."""
VENDORS = frozenset({"vendor_a", "vendor_b"})

Body = dict[str, Any] | Callable[[str], dict[str, Any]] | None


@dataclass
class Case:
    method: str
    path: str
    expected: dict[str, int]
    body: Body = None
    vendor_route: bool = True
    """Vendor routes' SQL is checked for tenant scoping."""


@dataclass
class World:
    people: dict[str, Person]
    stores: dict[str, dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        return {} if who == "anonymous" else self.people[who].headers


def mine(own: int, *, other_vendor: int = 404) -> dict[str, int]:
    """A vendor route on one object of vendor A's: the others never learn it exists."""
    return {
        "anonymous": 401,
        "buyer": 403,
        "admin": 403,
        "vendor_b": other_vendor,
        "vendor_a": own,
    }


def own_store(status: int) -> dict[str, int]:
    """A vendor route on the caller's own store: each vendor gets ``status``."""
    return {"anonymous": 401, "buyer": 403, "admin": 403, "vendor_b": status, "vendor_a": status}


def admin_only(status: int) -> dict[str, int]:
    return {"anonymous": 401, "buyer": 403, "admin": status, "vendor_b": 403, "vendor_a": 403}


def public(status: int) -> dict[str, int]:
    return dict.fromkeys(PRINCIPALS, status)


async def build(app: Any, client: httpx.AsyncClient) -> World:
    boss = await admin(app, client)
    people = {
        "admin": boss,
        "buyer": await person(client),
        "vendor_a": await person(client, "vendora"),
        "vendor_b": await person(client, "vendorb"),
    }
    stores = {
        "a": await approved_store(client, people["vendor_a"], boss, "Store A"),
        "b": await approved_store(client, people["vendor_b"], boss, "Store B"),
        "pending": await open_store(client, await person(client), "Pending One"),
        "pending2": await open_store(client, await person(client), "Pending Two"),
        "c": await approved_store(client, await person(client), boss, "Store C"),
    }
    world = World(people, stores)
    clerk = await person(client, "clerk")
    added = await client.post(
        "/vendors/me/staff", json={"user_id": clerk.id}, headers=people["vendor_a"].headers
    )
    assert added.status_code == 201, added.text
    world.extra["clerk"] = clerk
    world.extra["newcomers"] = {who: await person(client, "new") for who in VENDORS}
    category = await client.post("/categories", json={"name": "Food"}, headers=boss.headers)
    spare = await client.post("/categories", json={"name": "Spare"}, headers=boss.headers)
    world.extra["category"], world.extra["spare"] = category.json(), spare.json()
    for name, who, status in (
        ("draft", "vendor_a", "draft"),
        ("active", "vendor_a", "active"),
        ("b", "vendor_b", "active"),
    ):
        created = await client.post(
            "/products",
            json={
                "title": f"Product {name}",
                "status": status,
                "category_id": category.json()["id"],
                "variants": [
                    {"sku": f"{name}-1", "price": 1000, "stock": 10},
                    {"sku": f"{name}-2", "price": 2000},
                ],
            },
            headers=people[who].headers,
        )
        assert created.status_code == 201, created.text
        world.extra[name] = created.json()
    return world


def vendor_cases(world: World) -> list[Case]:
    clerk = world.extra["clerk"]
    newcomers = world.extra["newcomers"]
    a, pending, pending2, c = (world.stores[k] for k in ("a", "pending", "pending2", "c"))
    return [
        Case("GET", "/vendors/me", own_store(200)),
        Case("PATCH", "/vendors/me", own_store(200), {"description": "Fresh daily"}),
        Case("GET", "/vendors/me/staff", own_store(200)),
        Case(
            "POST",
            "/vendors/me/staff",
            own_store(201),
            lambda who: (
                {"user_id": newcomers[who].id} if who in newcomers else {"user_id": clerk.id}
            ),
        ),
        Case("DELETE", f"/vendors/me/staff/{clerk.id}", mine(204)),
        Case("GET", f"/vendors/{a['slug']}", public(200), vendor_route=False),
        Case("GET", f"/vendors/{a['id']}", public(200), vendor_route=False),
        Case("GET", f"/vendors/{pending['slug']}", public(404), vendor_route=False),
        Case("GET", "/admin/vendors", admin_only(200), vendor_route=False),
        Case(
            "POST", f"/admin/vendors/{pending['id']}/approve", admin_only(200), vendor_route=False
        ),
        Case(
            "POST",
            f"/admin/vendors/{pending2['id']}/reject",
            admin_only(200),
            {"reason": "incomplete"},
            vendor_route=False,
        ),
        Case(
            "POST",
            f"/admin/vendors/{c['id']}/suspend",
            admin_only(200),
            {"reason": "complaints"},
            vendor_route=False,
        ),
    ]


def catalog_cases(world: World) -> list[Case]:
    draft, active = world.extra["draft"], world.extra["active"]
    category, spare = world.extra["category"], world.extra["spare"]
    pid, first, second = draft["id"], draft["variants"][0]["id"], draft["variants"][1]["id"]
    hidden = {"anonymous": 404, "buyer": 404, "admin": 404, "vendor_b": 404, "vendor_a": 200}
    return [
        Case("GET", "/categories", public(200), vendor_route=False),
        Case("GET", f"/categories/{category['slug']}", public(200), vendor_route=False),
        Case(
            "POST",
            "/categories",
            admin_only(201),
            lambda who: {"name": f"Made by {who}"},
            vendor_route=False,
        ),
        Case(
            "PATCH",
            f"/categories/{category['id']}",
            admin_only(200),
            {"name": "Food and drink"},
            vendor_route=False,
        ),
        Case("DELETE", f"/categories/{spare['id']}", admin_only(204), vendor_route=False),
        Case("GET", "/products", public(200), vendor_route=False),
        Case("GET", f"/products/{active['id']}", public(200), vendor_route=False),
        Case("GET", f"/products/{pid}", hidden, vendor_route=False),
        Case("GET", f"/products/{pid}/price-history", hidden, vendor_route=False),
        Case(
            "POST",
            "/products",
            own_store(201),
            lambda who: {"title": "New", "sku": f"NEW-{who}", "price": 500},
        ),
        Case("PATCH", f"/products/{pid}", mine(200), {"title": "Renamed"}),
        Case(
            "POST",
            f"/products/{pid}/variants",
            mine(201),
            lambda who: {"sku": f"V-{who}", "price": 700},
        ),
        Case("PATCH", f"/products/{pid}/variants/{first}", mine(200), {"price": 900}),
        Case("POST", f"/products/{pid}/variants/{first}/stock", mine(200), {"adjust": -1}),
        Case("GET", "/vendors/me/inventory", own_store(200)),
        Case("GET", "/vendors/me/discounts", own_store(200)),
        Case(
            "POST",
            "/vendors/me/discounts",
            own_store(201),
            {"type": "percentage", "value": 10, "scope": "store"},
        ),
        Case(
            "POST",
            "/vendors/me/discounts",
            mine(201),
            {"type": "percentage", "value": 10, "scope": "product", "target_id": pid},
        ),
        Case("DELETE", f"/products/{pid}/variants/{second}", mine(204)),
        Case("DELETE", f"/products/{pid}", mine(200)),
    ]


def closing_cases() -> list[Case]:
    """Routes that change who belongs where: run last."""
    return [
        Case(
            "POST",
            "/vendors",
            {"anonymous": 401, "buyer": 201, "admin": 201, "vendor_b": 409, "vendor_a": 409},
            lambda who: {"name": f"New store of {who}"},
        )
    ]


async def call(client: httpx.AsyncClient, world: World, case: Case, who: str) -> httpx.Response:
    body = case.body(who) if callable(case.body) else case.body
    return await client.request(case.method, case.path, json=body, headers=world.headers(who))


async def delivered_order(
    app: Any,
    buyer_id: str,
    vendor_id: str,
    product_ids: list[str],
    *,
    status: str = "delivered",
) -> dict[str, Any]:
    """A store order of ``buyer_id`` from ``vendor_id`` with one line per product, written straight
    to the order tables (checkout is another module's): ``{"order_id", "line_ids"}``."""
    import uuid as uuid_
    from datetime import timedelta

    from oja.core.clock import utcnow
    from oja.core.db import unit_of_work
    from oja.marketplace.orders.models import OrderGroup, OrderLine, StoreOrder

    now = utcnow()
    buyer, vendor = uuid_.UUID(buyer_id), uuid_.UUID(vendor_id)
    total = 1000 * len(product_ids)
    async with unit_of_work(app.state.runtime.database) as db:
        group = OrderGroup(
            buyer_id=buyer,
            status="paid",
            currency="NGN",
            subtotal=total,
            discount_total=0,
            total=total,
            shipping_address={},
            provider="paystack",
            expires_at=now + timedelta(1),
            paid_at=now,
        )
        db.add(group)
        await db.flush()
        order = StoreOrder(
            group_id=group.id,
            vendor_id=vendor,
            buyer_id=buyer,
            status=status,
            currency="NGN",
            subtotal=total,
            discount_total=0,
            total=total,
            refunded_amount=0,
            delivered_at=now if status == "delivered" else None,
        )
        db.add(order)
        await db.flush()
        lines = [
            OrderLine(
                order_id=order.id,
                vendor_id=vendor,
                product_id=uuid_.UUID(pid),
                title="Item",
                sku=f"SKU-{i}",
                options={},
                quantity=1,
                unit_price=1000,
                unit_discount=0,
                tax=0,
                line_total=1000,
                returned_quantity=0,
            )
            for i, pid in enumerate(product_ids)
        ]
        db.add_all(lines)
        await db.flush()
        return {"order_id": str(order.id), "line_ids": [str(line.id) for line in lines]}


async def with_review(app: Any, client: httpx.AsyncClient, world: World) -> None:
    """A delivered order of vendor A's active product by the buyer, reviewed: for review_cases."""
    buyer, active = world.people["buyer"], world.extra["active"]
    await delivered_order(app, buyer.id, world.stores["a"]["id"], [active["id"]])
    created = await client.post(
        f"/products/{active['id']}/reviews",
        json={"rating": 4, "title": "Good", "body": "Arrived fresh."},
        headers=buyer.headers,
    )
    assert created.status_code == 201, created.text
    world.extra["review"] = created.json()


def review_cases(world: World) -> list[Case]:
    review = world.extra["review"]
    return [
        Case("POST", f"/reviews/{review['id']}/reply", mine(200), {"body": "Thank you!"}),
    ]
