"""A small marketplace for the authorization matrix and the scoping check: two approved stores (A
and B), a buyer, an admin, anonymous — and every vendor route with the status each must get."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.files import media

from .conftest import Person, admin, approved_store, open_store, person

IMAGE = media.png(8, 8)
IMPORT_CSV = b"title,sku,price\nTea,TEA-1,100\n"
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
    upload: bytes | None = None
    """Sent as the multipart ``file`` part (and ``body`` as its form fields) instead of JSON."""


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
    image = await client.post(
        f"/products/{world.extra['draft']['id']}/images",
        files={"file": ("front.png", IMAGE, "image/png")},
        headers=people["vendor_a"].headers,
    )
    assert image.status_code == 201, image.text
    world.extra["image"] = image.json()
    imported = await client.post(
        "/vendors/me/imports",
        files={"file": ("products.csv", IMPORT_CSV, "text/csv")},
        headers=people["vendor_a"].headers,
    )
    assert imported.status_code == 202, imported.text
    world.extra["import"] = imported.json()
    line = await client.post(
        "/cart/items",
        json={"variant_id": world.extra["active"]["variants"][0]["id"]},
        headers=people["buyer"].headers,
    )
    assert line.status_code == 201, line.text
    world.extra["cart_line"] = line.json()["stores"][0]["lines"][0]["id"]
    return world


REPORT_TO = datetime.now(UTC).date() + timedelta(days=1)
REPORT_FROM = REPORT_TO - timedelta(days=60)
"""A range over closed days (read from the rollups) and today (counted live from the raw rows)."""


def vendor_cases(world: World) -> list[Case]:
    clerk = world.extra["clerk"]
    newcomers = world.extra["newcomers"]
    a, pending, pending2, c = (world.stores[k] for k in ("a", "pending", "pending2", "c"))
    return [
        Case("GET", "/vendors/me", own_store(200)),
        Case("PATCH", "/vendors/me", own_store(200), {"description": "Fresh daily"}),
        Case("GET", "/vendors/me/staff", own_store(200)),
        Case("GET", f"/vendors/me/reports/sales?from={REPORT_FROM}&to={REPORT_TO}", own_store(200)),
        Case(
            "GET",
            f"/vendors/me/reports/sales?from={REPORT_FROM}&to={REPORT_TO}&tz=UTC&format=csv",
            own_store(200),
        ),
        Case("GET", "/vendors/me/performance", own_store(200)),
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
    image = world.extra["image"]["id"]
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
        Case("GET", "/vendors/me/balance", own_store(200)),
        Case("GET", "/vendors/me/ledger", own_store(200)),
        Case("GET", "/vendors/me/ledger?format=csv", own_store(200)),
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
        Case("POST", f"/products/{pid}/images", mine(201), upload=IMAGE),
        Case("PATCH", f"/products/{pid}/images/{image}", mine(200), {"alt_text": "Front"}),
        Case("DELETE", f"/products/{pid}/images/{image}", mine(204)),
        Case("DELETE", f"/products/{pid}/variants/{second}", mine(204)),
        Case("DELETE", f"/products/{pid}", mine(200)),
    ]


async def add_orders(app: Any, client: httpx.AsyncClient, world: World) -> None:
    """Unpaid orders of the buyer at store A, one per order route, and return requests."""
    from oja.marketplace.orders.models import OrderStatus

    from .orders_kit import Shop, place

    store = Shop(
        world.people["buyer"], world.people["vendor_a"], world.stores["a"], world.extra["active"]
    )
    orders: dict[str, Any] = {}
    for name, status, units in (
        ("pending", OrderStatus.pending, 1),
        ("confirmed", OrderStatus.confirmed, 1),
        ("to_cancel", OrderStatus.confirmed, 1),
        ("buyer_cancel", OrderStatus.pending, 1),
        ("shipped", OrderStatus.shipped, 1),
        ("delivered", OrderStatus.delivered, 1),
        ("returning", OrderStatus.delivered, 3),
    ):
        orders[name] = await place(app, None, store, [(0, units)], status=status, paid=False)
    returning = orders["returning"]
    returns: dict[str, str] = {}
    for name in ("approve", "reject", "receive"):
        made = await client.post(
            f"/orders/{returning.order_id}/returns",
            json={
                "lines": [{"order_line_id": returning.line_ids[0], "quantity": 1}],
                "reason": name,
            },
            headers=store.buyer.headers,
        )
        assert made.status_code == 201, made.text
        returns[name] = made.json()["id"]
    approved = await client.post(
        f"/vendors/me/returns/{returns['receive']}/approve", headers=store.owner.headers
    )
    assert approved.status_code == 200, approved.text
    world.extra["orders"] = orders
    world.extra["returns"] = returns


def order_cases(world: World) -> list[Case]:
    orders, returns = world.extra["orders"], world.extra["returns"]
    buyer_only = {"anonymous": 401, "buyer": 200, "admin": 404, "vendor_b": 404, "vendor_a": 404}
    signed_in = {"anonymous": 401, "buyer": 200, "admin": 200, "vendor_b": 200, "vendor_a": 200}
    pending, delivered = orders["pending"], orders["delivered"]
    return [
        Case("GET", "/orders", signed_in, vendor_route=False),
        Case("GET", f"/orders/{pending.order_id}", buyer_only, vendor_route=False),
        Case("GET", f"/order-groups/{pending.group_id}", buyer_only, vendor_route=False),
        Case(
            "POST",
            f"/orders/{orders['buyer_cancel'].order_id}/cancel",
            buyer_only,
            vendor_route=False,
        ),
        Case(
            "POST",
            f"/orders/{delivered.order_id}/returns",
            {**buyer_only, "buyer": 201},
            {"lines": [{"order_line_id": delivered.line_ids[0], "quantity": 1}], "reason": "x"},
            vendor_route=False,
        ),
        Case("GET", "/vendors/me/orders", own_store(200)),
        Case("GET", f"/vendors/me/orders/{pending.order_id}", mine(200)),
        Case("POST", f"/vendors/me/orders/{pending.order_id}/confirm", mine(200)),
        Case(
            "POST",
            f"/vendors/me/orders/{orders['confirmed'].order_id}/ship",
            mine(200),
            {"carrier": "GIG", "tracking_number": "T-1"},
        ),
        Case("POST", f"/vendors/me/orders/{orders['shipped'].order_id}/deliver", mine(200)),
        Case(
            "POST",
            f"/vendors/me/orders/{orders['to_cancel'].order_id}/cancel",
            mine(200),
            {"reason": "sold out"},
        ),
        Case("GET", "/vendors/me/returns", own_store(200)),
        Case("POST", f"/vendors/me/returns/{returns['approve']}/approve", mine(200)),
        Case("POST", f"/vendors/me/returns/{returns['reject']}/reject", mine(200)),
        Case("POST", f"/vendors/me/returns/{returns['receive']}/receive", mine(200)),
    ]


def import_cases(world: World) -> list[Case]:
    iid = world.extra["import"]["id"]
    return [
        Case("POST", "/vendors/me/imports", own_store(202), upload=IMPORT_CSV),
        Case("GET", "/vendors/me/imports", own_store(200)),
        Case("GET", f"/vendors/me/imports/{iid}", mine(200)),
        Case("GET", f"/vendors/me/imports/{iid}/failures", mine(200)),
    ]


def buyer_cases(world: World) -> list[Case]:
    """The buyer's own cart: every signed-in user has one; another's line is a 404."""
    variant = world.extra["b"]["variants"][0]["id"]
    line = world.extra["cart_line"]
    signed_in = {"anonymous": 401, "buyer": 200, "admin": 200, "vendor_b": 200, "vendor_a": 200}
    owner_only = {"anonymous": 401, "buyer": 200, "admin": 404, "vendor_b": 404, "vendor_a": 404}
    return [
        Case("GET", "/cart", signed_in, vendor_route=False),
        Case(
            "POST",
            "/cart/items",
            {**signed_in, "buyer": 201, "admin": 201, "vendor_b": 201, "vendor_a": 201},
            {"variant_id": variant},
            vendor_route=False,
        ),
        Case("PATCH", f"/cart/items/{line}", owner_only, {"quantity": 2}, vendor_route=False),
        Case("DELETE", f"/cart/items/{line}", owner_only, vendor_route=False),
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
    if case.upload is not None:
        return await client.request(
            case.method,
            case.path,
            files={"file": ("image.png", case.upload, "image/png")},
            data=body,
            headers=world.headers(who),
        )
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
