"""Objects the marketplace rows of the authorization matrix need: A's store (approved by the
admin), a category (made by the admin), A's draft product, and stores of new users for the admin's
decisions."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from tests.reliability.harness import Person, signup_and_login
from tests.reliability.matrix import Ctx


async def _pending_store(ctx: Ctx, ids: dict[str, str], owner: Person | None = None) -> None:
    if "vendor_id" in ids:
        return
    owner = owner or ctx.people.a
    response = await ctx.client.post(
        "/vendors", json={"name": f"Matrix {uuid.uuid4().hex[:6]}"}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    ids["vendor_id"], ids["id_or_slug"] = response.json()["id"], response.json()["slug"]
    ids["user_id"] = owner.id  # the store's last owner


async def _store(ctx: Ctx, ids: dict[str, str], owner: Person | None = None) -> None:
    await _pending_store(ctx, ids, owner)
    response = await ctx.client.post(
        f"/admin/vendors/{ids['vendor_id']}/approve", headers=ctx.people.admin.headers
    )
    assert response.status_code == 200, response.text


async def _category(ctx: Ctx, ids: dict[str, str]) -> None:
    response = await ctx.client.post(
        "/categories",
        json={"name": f"Matrix {uuid.uuid4().hex[:6]}"},
        headers=ctx.people.admin.headers,
    )
    assert response.status_code == 201, response.text
    ids["category_id"] = ids["id_or_slug"] = response.json()["id"]


async def _product(ctx: Ctx, ids: dict[str, str]) -> None:
    await _store(ctx, ids)
    response = await ctx.client.post(
        "/products",
        json={"title": "Matrix", "sku": f"M-{uuid.uuid4().hex[:8]}", "price": 100, "stock": 5},
        headers=ctx.people.a.headers,
    )
    assert response.status_code == 201, response.text
    ids["product_id"] = response.json()["id"]
    ids["variant_id"] = response.json()["variants"][0]["id"]


async def _other_pending_store(ctx: Ctx, ids: dict[str, str]) -> None:
    """A store of a new user's: admin decisions consume stores, and A can own only one."""
    await _pending_store(ctx, ids, await signup_and_login(ctx.client, "store"))


async def _other_store(ctx: Ctx, ids: dict[str, str]) -> None:
    await _store(ctx, ids, await signup_and_login(ctx.client, "store"))


async def _unwatched_order(ctx: Ctx, ids: dict[str, str]) -> None:
    """An order id no registered authorizer lets anyone watch (realtime's SSE route)."""
    ids["order_id"] = str(uuid.uuid4())


async def _notification(ctx: Ctx, ids: dict[str, str]) -> None:
    """An id no notification has: every caller, A included, is told 404 (a user's own
    notifications are proven in tests/notifications/test_inbox.py)."""
    ids.setdefault("notification_id", str(uuid.uuid4()))


async def _notification_template(ctx: Ctx, ids: dict[str, str]) -> None:
    ids["event"], ids["channel"] = "order.shipped", "email"


async def _ae_product(ctx: Ctx, ids: dict[str, str]) -> None:
    """An AliExpress product id: the store has no AliExpress connection, so none is fetched."""
    ids["ae_id"] = "1005000000000001"


MARKETPLACE_NEEDS: dict[str, Callable[[Ctx, dict[str, str]], Awaitable[None]]] = {
    "pending_store": _other_pending_store,
    "approved_store": _other_store,
    "store": _store,
    "category": _category,
    "product": _product,
    "unwatched_order": _unwatched_order,
    "notification": _notification,
    "notification_template": _notification_template,
    "ae_product": _ae_product,
}
