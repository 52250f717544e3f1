"""Objects the marketplace rows of the authorization matrix need: A's store (approved by the
admin), a category (made by the admin), A's draft product, and stores of new users for the admin's
decisions — and, for the routes of orders, returns, imports, images, carts and reviews, B as the
*other vendor* (B's own approved store, selling), so that B's cell proves tenancy: another
vendor's object answers 404. Orders are written straight to the tables as checkout writes them
(``tests/marketplace/orders_kit.py``); checkout has its own row."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from functools import partial

from oja.core.db import unit_of_work
from oja.marketplace.ledger.models import Dispute, DisputeStatus
from oja.marketplace.orders.models import OrderGroup, OrderStatus
from tests.marketplace import conftest as shop_people
from tests.marketplace.orders_kit import Shop, place
from tests.marketplace.payouts_kit import failed_payout, otp_payout
from tests.marketplace.world import IMAGE, IMPORT_CSV
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


def _shop_person(person: Person) -> shop_people.Person:
    return shop_people.Person(person.id, person.email, person.headers)


async def _selling(ctx: Ctx, ids: dict[str, str], owner: Person, buyer: Person) -> Shop:
    """``owner``'s approved store (its id in ``ids``) selling one active product with two
    variants, stock 10 each, to ``buyer``."""
    await _store(ctx, ids, owner)
    tag = uuid.uuid4().hex[:8]
    response = await ctx.client.post(
        "/products",
        json={
            "title": f"Matrix goods {tag}",
            "status": "active",
            "variants": [
                {"sku": f"G-{tag}-1", "price": 1000, "stock": 10},
                {"sku": f"G-{tag}-2", "price": 2500, "stock": 10},
            ],
        },
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    store = {"id": ids["vendor_id"]}
    return Shop(_shop_person(buyer), _shop_person(owner), store, response.json())


async def _rival_shop(ctx: Ctx, ids: dict[str, str]) -> Shop:
    """B's store, selling to A: B is the other vendor of every vendor row that needs it."""
    if "rival" not in ctx.made:
        theirs: dict[str, str] = {}
        ctx.made["rival"] = await _selling(ctx, theirs, ctx.people.b, ctx.people.a)
        ids["rival_vendor_id"] = theirs["vendor_id"]
        ids["rival_variant_id"] = ctx.made["rival"].variant(0)["id"]
    shop: Shop = ctx.made["rival"]
    return shop


async def _own_shop(ctx: Ctx, ids: dict[str, str]) -> Shop:
    """A's store selling to B — and B's own store besides (B is a vendor too)."""
    if "own" not in ctx.made:
        await _rival_shop(ctx, ids)
        ctx.made["own"] = await _selling(ctx, ids, ctx.people.a, ctx.people.b)
    shop: Shop = ctx.made["own"]
    return shop


async def _rival(ctx: Ctx, ids: dict[str, str]) -> None:
    await _rival_shop(ctx, ids)


async def _sale(status: OrderStatus, ctx: Ctx, ids: dict[str, str]) -> None:
    """An unpaid order of B's (a vendor too) at A's store, put straight into ``status``."""
    placed = await place(
        ctx.app, None, await _own_shop(ctx, ids), [(0, 3)], status=status, paid=False
    )
    ids["order_id"], ids["group_id"] = placed.order_id, placed.group_id
    ids["order_line_id"] = placed.line_ids[0]


async def _purchase(status: OrderStatus, ctx: Ctx, ids: dict[str, str]) -> None:
    """An unpaid order of A's at B's store (B, its vendor, is not its buyer), in ``status``."""
    shop = await _rival_shop(ctx, ids)
    placed = await place(ctx.app, None, shop, [(0, 3)], status=status, paid=False)
    ids["order_id"], ids["group_id"] = placed.order_id, placed.group_id
    ids["order_line_id"] = placed.line_ids[0]
    ids["product_id"], ids["vendor_id"] = shop.product["id"], shop.store["id"]


async def _return(approve: bool, ctx: Ctx, ids: dict[str, str]) -> None:
    """B's request to return one unit of a delivered order of A's store (approved by A when
    ``approve``)."""
    await _sale(OrderStatus.delivered, ctx, ids)
    made = await ctx.client.post(
        f"/orders/{ids['order_id']}/returns",
        json={"lines": [{"order_line_id": ids["order_line_id"], "quantity": 1}], "reason": "x"},
        headers=ctx.people.b.headers,
    )
    assert made.status_code == 201, made.text
    ids["return_id"] = made.json()["id"]
    if approve:
        approved = await ctx.client.post(
            f"/vendors/me/returns/{ids['return_id']}/approve", headers=ctx.people.a.headers
        )
        assert approved.status_code == 200, approved.text


async def _import(ctx: Ctx, ids: dict[str, str]) -> None:
    await _rival_shop(ctx, ids)
    await _store(ctx, ids)
    imported = await ctx.client.post(
        "/vendors/me/imports",
        files={"file": ("products.csv", IMPORT_CSV, "text/csv")},
        headers=ctx.people.a.headers,
    )
    assert imported.status_code == 202, imported.text
    ids["import_id"] = imported.json()["id"]


async def _image(ctx: Ctx, ids: dict[str, str]) -> None:
    """An image of A's draft product; B has a store of its own."""
    await _rival_shop(ctx, ids)
    await _product(ctx, ids)
    image = await ctx.client.post(
        f"/products/{ids['product_id']}/images",
        files={"file": ("front.png", IMAGE, "image/png")},
        headers=ctx.people.a.headers,
    )
    assert image.status_code == 201, image.text
    ids["image_id"] = image.json()["id"]


async def _cart_line(ctx: Ctx, ids: dict[str, str]) -> None:
    """A line of B's product in A's cart."""
    shop = await _rival_shop(ctx, ids)
    line = await ctx.client.post(
        "/cart/items", json={"variant_id": shop.variant(0)["id"]}, headers=ctx.people.a.headers
    )
    assert line.status_code == 201, line.text
    ids["item_id"] = line.json()["stores"][0]["lines"][0]["id"]
    ids["variant_id"] = shop.variant(0)["id"]


async def _review(author: Person, shop: Shop, ids: dict[str, str], ctx: Ctx) -> None:
    response = await ctx.client.post(
        f"/products/{shop.product['id']}/reviews",
        json={"rating": 4, "title": "Good", "body": "Arrived fresh."},
        headers=author.headers,
    )
    assert response.status_code == 201, response.text
    ids["review_id"] = response.json()["id"]


async def _my_review(ctx: Ctx, ids: dict[str, str]) -> None:
    """A's review of B's product, bought and delivered."""
    await _purchase(OrderStatus.delivered, ctx, ids)
    await _review(ctx.people.a, await _rival_shop(ctx, ids), ids, ctx)


async def _store_review(ctx: Ctx, ids: dict[str, str]) -> None:
    """B's review of A's product, bought and delivered: A's store may answer it."""
    await _sale(OrderStatus.delivered, ctx, ids)
    await _review(ctx.people.b, await _own_shop(ctx, ids), ids, ctx)


async def _closed_dispute(ctx: Ctx, ids: dict[str, str]) -> None:
    """A dispute (already won) of A's order group: the admin's evidence call passes authorization
    and is refused for its own reason (409), so no provider is called."""
    await _purchase(OrderStatus.confirmed, ctx, ids)
    async with unit_of_work(ctx.app.state.runtime.database) as db:
        group = await db.get(OrderGroup, uuid.UUID(ids["group_id"]))
        assert group is not None
        assert group.payment_reference is not None
        dispute = Dispute(
            provider="paystack",
            provider_dispute_id=uuid.uuid4().hex[:12],
            reference=group.payment_reference,
            group_id=group.id,
            status=DisputeStatus.won,
            provider_status="resolved",
            resolution="declined",
            amount=group.total,
            currency=group.currency,
        )
        db.add(dispute)
        await db.flush()
        ids["dispute_id"] = str(dispute.id)


async def _payout_account_pending(ctx: Ctx, ids: dict[str, str]) -> None:
    """A's store, whose payout account (resolved by the Paystack fake as ``SANDBOX ACCOUNT …``,
    unlike the store's name) waits for an admin's approval."""
    await _store(ctx, ids)
    response = await ctx.client.put(
        "/vendors/me/payout-account",
        json={"bank_code": "058", "account_number": f"{uuid.uuid4().int % 10**9 + 10**9:010d}"},
        headers=ctx.people.a.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["pending"] is not None, response.text


async def _failed_payout(ctx: Ctx, ids: dict[str, str]) -> None:
    """A failed payout of A's store, whose money is back in its available balance and whose
    account is active: the admin may retry it."""
    await _payout_account_pending(ctx, ids)
    approved = await ctx.client.post(
        f"/admin/vendors/{ids['vendor_id']}/payout-account/approve",
        headers=ctx.people.admin.headers,
    )
    assert approved.status_code == 200, approved.text
    ids["payout_id"] = await failed_payout(ctx.app, ids["vendor_id"], 150_000)


async def _otp_payout(ctx: Ctx, ids: dict[str, str]) -> None:
    """A payout of A's store held by the Paystack fake for its OTP (``otp_required``): the admin
    may finalize it or have the OTP sent again."""
    await _payout_account_pending(ctx, ids)
    approved = await ctx.client.post(
        f"/admin/vendors/{ids['vendor_id']}/payout-account/approve",
        headers=ctx.people.admin.headers,
    )
    assert approved.status_code == 200, approved.text
    paystack = ctx.app.state.sandbox_fakes.paystack
    ids["payout_id"] = await otp_payout(ctx.app, paystack, ids["vendor_id"], 150_000)


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
    "rival": _rival,
    "sale_pending": partial(_sale, OrderStatus.pending),
    "sale_confirmed": partial(_sale, OrderStatus.confirmed),
    "sale_shipped": partial(_sale, OrderStatus.shipped),
    "purchase_pending": partial(_purchase, OrderStatus.pending),
    "purchase_delivered": partial(_purchase, OrderStatus.delivered),
    "return_requested": partial(_return, False),
    "return_approved": partial(_return, True),
    "import": _import,
    "image": _image,
    "cart_line": _cart_line,
    "my_review": _my_review,
    "store_review": _store_review,
    "ae_product": _ae_product,
    "closed_dispute": _closed_dispute,
    "payout_account_pending": _payout_account_pending,
    "failed_payout": _failed_payout,
    "otp_payout": _otp_payout,
}
