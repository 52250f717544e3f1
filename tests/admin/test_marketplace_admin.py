"""The marketplace pages of the operator UI over HTTP: what each lists, and what each action changes
through the module's service — and that a refused or cross-site action changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from oja.core.db import unit_of_work
from oja.identity.models import User, UserRole
from oja.marketplace.ledger.models import Dispute, DisputeStatus
from oja.marketplace.plans.models import VendorSubscription
from oja.marketplace.reviews.models import Review, ReviewDecision
from oja.marketplace.vendors.models import Vendor, VendorStatusChange
from tests.admin.conftest import ADMIN_EMAIL
from tests.admin.marketplace_kit import (
    add_delivery,
    add_order,
    add_product,
    add_review,
    all_of,
    get,
    store,
    summary_count,
)
from tests.marketplace.conftest import person

pytestmark = pytest.mark.usefixtures("admin_user")


async def roles_of(app: Any, user_id: str) -> list[str]:
    rows = await all_of(app, select(UserRole.role).where(UserRole.user_id == uuid.UUID(user_id)))
    return sorted(rows)


async def changes_of(app: Any, vendor_id: uuid.UUID) -> list[tuple[str, str, str | None, Any]]:
    rows = await all_of(
        app,
        select(VendorStatusChange)
        .where(VendorStatusChange.vendor_id == vendor_id)
        .order_by(VendorStatusChange.created_at),
    )
    return [(r.from_status, r.to_status, r.reason, r.actor_id) for r in rows]


async def toast(client: httpx.AsyncClient, response: httpx.Response) -> str:
    assert response.status_code == 302, response.text
    return (await client.get(response.headers["location"])).text


# Stores


async def test_stores_are_listed_and_filter_by_status(
    admin_client: httpx.AsyncClient, app: Any
) -> None:
    _, pending = await store(admin_client, "Pending Plantains")
    _, approved = await store(admin_client, "Approved Agbada")
    await admin_client.get("/admin/vendor/action/approve", params={"pks": str(approved)})

    everything = (await admin_client.get("/admin/vendor/list")).text
    waiting = (await admin_client.get("/admin/vendor/list", params={"status": "pending"})).text
    found = (await admin_client.get("/admin/vendor/list", params={"search": "agbada"})).text

    assert "Pending Plantains" in everything
    assert "Approved Agbada" in everything
    assert "Pending Plantains" in waiting
    assert "Approved Agbada" not in waiting
    assert "Approved Agbada" in found
    assert "Pending Plantains" not in found


async def test_approve_moves_the_store_through_the_service_and_records_who(
    admin_client: httpx.AsyncClient, app: Any, admin_user: dict[str, Any], log_output: Any
) -> None:
    owner, vendor_id = await store(admin_client, "Mama Put Foods")
    assert await roles_of(app, owner.id) == ["buyer"]

    response = await admin_client.get(
        "/admin/vendor/action/approve", params={"pks": str(vendor_id)}
    )

    assert response.headers["location"] == "http://testserver/admin/vendor/list"
    assert "Approved 1 of 1 selected." in await toast(admin_client, response)
    assert (await get(app, Vendor, vendor_id)).status == "approved"
    assert await changes_of(app, vendor_id) == [
        ("pending", "approved", None, uuid.UUID(admin_user["id"]))
    ]
    assert await roles_of(app, owner.id) == ["buyer", "vendor"]  # the service's role grant
    logged = [
        e for e in log_output.events() if e.get("event") == "marketplace.vendor.status_changed"
    ]
    assert [(e["vendor_id"], e["to_status"], e["actor_id"]) for e in logged] == [
        (str(vendor_id), "approved", admin_user["id"])
    ]


async def test_suspend_asks_for_a_reason_then_records_it(
    admin_client: httpx.AsyncClient, app: Any, admin_user: dict[str, Any]
) -> None:
    _, vendor_id = await store(admin_client, "Suya Spot")
    await admin_client.get("/admin/vendor/action/approve", params={"pks": str(vendor_id)})

    form = await admin_client.get("/admin/vendor/action/suspend", params={"pks": str(vendor_id)})

    assert form.status_code == 200
    assert f'name="pks" value="{vendor_id}"' in form.text
    assert 'action="http://testserver/admin/vendor/decide/suspend"' in form.text
    assert (await get(app, Vendor, vendor_id)).status == "approved"  # asking changes nothing

    response = await admin_client.post(
        "/admin/vendor/decide/suspend",
        data={"pks": str(vendor_id), "reason": "Counterfeit goods reported."},
    )

    assert "Suspended 1 of 1 selected." in await toast(admin_client, response)
    row = await get(app, Vendor, vendor_id)
    assert (row.status, row.status_reason) == ("suspended", "Counterfeit goods reported.")
    assert (await changes_of(app, vendor_id))[-1] == (
        "approved",
        "suspended",
        "Counterfeit goods reported.",
        uuid.UUID(admin_user["id"]),
    )
    details = (await admin_client.get(f"/admin/vendor/details/{vendor_id}")).text
    assert "approved → suspended (Counterfeit goods reported.)" in details


async def test_a_decision_the_service_refuses_changes_nothing_and_says_why(
    admin_client: httpx.AsyncClient, app: Any
) -> None:
    _, pending = await store(admin_client, "Waiting Wares")

    blank = await admin_client.post(
        "/admin/vendor/decide/reject", data={"pks": str(pending), "reason": "  "}
    )
    assert "A reason is required to reject a store." in await toast(admin_client, blank)
    suspend = await admin_client.post(
        "/admin/vendor/decide/suspend", data={"pks": str(pending), "reason": "Too early."}
    )
    # The service's own words ("A pending store cannot be ...").
    assert "Suspended 0 of 1 selected. A pending store cannot be" in await toast(
        admin_client, suspend
    )
    unknown = await admin_client.post(
        "/admin/vendor/decide/reject", data={"pks": str(uuid.uuid4()), "reason": "Ghost."}
    )
    assert "No such store." in await toast(admin_client, unknown)

    row = await get(app, Vendor, pending)
    assert (row.status, row.status_reason) == ("pending", None)
    assert await changes_of(app, pending) == []


async def test_reject_records_the_reason(admin_client: httpx.AsyncClient, app: Any) -> None:
    owner, pending = await store(admin_client, "Unverified Stalls")

    response = await admin_client.post(
        "/admin/vendor/decide/reject",
        data={"pks": str(pending), "reason": "Registration could not be verified."},
    )

    assert "Rejected 1 of 1 selected." in await toast(admin_client, response)
    row = await get(app, Vendor, pending)
    assert (row.status, row.status_reason) == ("rejected", "Registration could not be verified.")
    assert await roles_of(app, owner.id) == ["buyer"]


async def test_cross_site_and_signed_out_decisions_are_refused(
    admin_client: httpx.AsyncClient, app: Any, client: httpx.AsyncClient
) -> None:
    _, pending = await store(admin_client, "Guarded Goods")
    body = {"pks": str(pending), "reason": "Forged."}

    cross = await admin_client.post(
        "/admin/vendor/decide/reject", data=body, headers={"Sec-Fetch-Site": "cross-site"}
    )
    cross_get = await admin_client.get(
        "/admin/vendor/action/approve",
        params={"pks": str(pending)},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert (cross.status_code, cross_get.status_code) == (403, 403)
    assert (await admin_client.get("/admin/logout")).status_code == 302
    signed_out = await client.post("/admin/vendor/decide/reject", data=body)
    assert signed_out.status_code == 302
    assert signed_out.headers["location"] == "http://testserver/admin/login"
    malformed = await admin_client.post(
        "/admin/vendor/decide/reject", data={"pks": "nope", "reason": "x"}
    )
    assert malformed.status_code == 302  # signed out: to the login page, nothing parsed

    assert (await get(app, Vendor, pending)).status == "pending"
    assert await changes_of(app, pending) == []


async def test_a_buyer_cannot_reach_the_marketplace_pages(
    client: httpx.AsyncClient, app: Any
) -> None:
    buyer = await person(client)
    _, pending = await store(client, "Closed Doors")
    signed_in = await client.post(
        "/admin/login", data={"email": buyer.email, "password": "correct horse battery"}
    )
    assert signed_in.status_code == 400

    for path in ("/admin/vendor/list", "/admin/review/list", "/admin/notifications/templates"):
        response = await client.get(path)
        assert response.status_code == 302, path
    await client.get("/admin/vendor/action/approve", params={"pks": str(pending)})
    assert (await get(app, Vendor, pending)).status == "pending"


async def test_a_malformed_selection_or_an_overlong_reason_is_a_400(
    admin_client: httpx.AsyncClient, app: Any
) -> None:
    _, pending = await store(admin_client, "Long Story")
    author = await person(admin_client)
    review_id = await add_review(app, pending, author.id, "Held for a link")

    malformed = await admin_client.post(
        "/admin/vendor/decide/reject", data={"pks": "not-a-uuid", "reason": "x"}
    )
    long_store = await admin_client.post(
        "/admin/vendor/decide/reject", data={"pks": str(pending), "reason": "x" * 501}
    )
    long_review = await admin_client.post(
        "/admin/review/decide/hide", data={"pks": str(review_id), "reason": "x" * 501}
    )
    missing = await admin_client.post("/admin/vendor/decide/reject", data={"pks": str(pending)})

    assert [r.status_code for r in (malformed, long_store, long_review, missing)] == [400] * 4
    assert (await get(app, Vendor, pending)).status == "pending"
    assert (await get(app, Review, review_id)).status == "pending"
    assert await all_of(app, select(ReviewDecision)) == []


# Products, orders, returns, refunds


async def test_orders_show_their_lines_and_transition_history(
    admin_client: httpx.AsyncClient, app: Any
) -> None:
    buyer = await person(admin_client)
    _, vendor_id = await store(admin_client, "Tote Traders")
    ids = await add_order(app, vendor_id, buyer.id, refund=1250050)

    listed = (
        await admin_client.get("/admin/store-order/list", params={"status": "delivered"})
    ).text
    details = (await admin_client.get(f"/admin/store-order/details/{ids['order']}")).text
    none = (await admin_client.get("/admin/store-order/list", params={"status": "shipped"})).text

    assert str(ids["order"]) in listed
    assert "NGN 25,001.00" in listed
    assert f'href="http://testserver/admin/vendor/details/{vendor_id}"' in listed
    assert str(ids["order"]) not in none
    assert "Ankara tote bag" in details
    assert "NGN 12,500.50" in details
    history = details[details.index('id="order-history"') :]
    steps = ["pending", "confirmed", "shipped", "delivered"]
    positions = [history.index(f"<td>{s}</td>") for s in steps]
    assert positions == sorted(positions)
    assert "left at the gate" in history


async def test_returns_and_refunds_link_to_their_order(
    admin_client: httpx.AsyncClient, app: Any
) -> None:
    buyer = await person(admin_client)
    _, vendor_id = await store(admin_client, "Refund Row")
    ids = await add_order(app, vendor_id, buyer.id, refund=1250050)
    link = f'href="http://testserver/admin/store-order/details/{ids["order"]}"'

    returns = (await admin_client.get("/admin/return-request/list")).text
    refunds = (await admin_client.get("/admin/order-refund/list", params={"status": "failed"})).text
    processed = (
        await admin_client.get("/admin/order-refund/list", params={"status": "processed"})
    ).text
    refund = (await admin_client.get(f"/admin/order-refund/details/{ids['refund']}")).text

    assert link in returns
    assert "The strap tore on the first day." in returns
    assert link in refunds
    assert "NGN 12,500.50" in refunds
    assert "The card was closed." in refunds
    assert link not in processed
    assert link in refund


async def test_products_are_listed_by_status_with_their_store(
    admin_client: httpx.AsyncClient, app: Any
) -> None:
    _, vendor_id = await store(admin_client, "Bead Bazaar")
    await add_product(app, vendor_id, "Coral beads", "active")
    await add_product(app, vendor_id, "Draft beads", "draft")

    active = (await admin_client.get("/admin/product/list", params={"status": "active"})).text

    assert "Coral beads" in active
    assert "Draft beads" not in active
    assert f'href="http://testserver/admin/vendor/details/{vendor_id}"' in active


@pytest.mark.parametrize(
    "identity",
    [
        "vendor",
        "product",
        "store-order",
        "return-request",
        "order-refund",
        "payout",
        "dispute",
        "review",
        "store-plan",
        "notification-delivery",
    ],
)
async def test_marketplace_views_are_read_only(
    admin_client: httpx.AsyncClient, identity: str
) -> None:
    page = await admin_client.get(f"/admin/{identity}/list")
    assert page.status_code == 200
    assert f"/admin/{identity}/create" not in page.text
    pk = uuid.uuid4()
    assert (await admin_client.get(f"/admin/{identity}/create")).status_code == 403
    assert (await admin_client.post(f"/admin/{identity}/edit/{pk}", data={})).status_code == 403
    assert (await admin_client.delete(f"/admin/{identity}/delete?pks={pk}")).status_code == 403
    assert (await admin_client.get(f"/admin/{identity}/export/csv")).status_code == 403


# Reviews


async def test_the_queue_holds_pending_and_flagged_reviews_only(
    admin_client: httpx.AsyncClient, app: Any
) -> None:
    author = await person(admin_client)
    _, vendor_id = await store(admin_client, "Review Row")
    await add_review(app, vendor_id, author.id, "Held for a link")
    await add_review(app, vendor_id, author.id, "Flagged as rude", status="published", open_flags=2)
    await add_review(app, vendor_id, author.id, "Quietly fine", status="published")
    await add_review(app, vendor_id, author.id, "Already hidden", status="hidden", open_flags=1)

    queue = (await admin_client.get("/admin/review/list")).text
    flagged = (await admin_client.get("/admin/review/list", params={"queue": "flagged"})).text

    assert "Held for a link" in queue
    assert "Flagged as rude" in queue
    assert "Quietly fine" not in queue
    assert "Already hidden" not in queue
    assert "Flagged as rude" in flagged
    assert "Held for a link" not in flagged


async def test_publishing_a_held_review_counts_it_and_records_the_decision(
    admin_client: httpx.AsyncClient, app: Any, admin_user: dict[str, Any]
) -> None:
    author = await person(admin_client)
    _, vendor_id = await store(admin_client, "Publish Place")
    review_id = await add_review(app, vendor_id, author.id, "Held for a link")

    form = await admin_client.get("/admin/review/action/publish", params={"pks": str(review_id)})
    assert 'action="http://testserver/admin/review/decide/publish"' in form.text
    response = await admin_client.post(
        "/admin/review/decide/publish",
        data={"pks": str(review_id), "reason": "The link is the store's own site."},
    )

    assert "Published 1 of 1 selected." in await toast(admin_client, response)
    review = await get(app, Review, review_id)
    assert (review.status, review.screening, review.open_flags) == ("published", None, 0)
    assert await summary_count(app, review_id) == 1
    decisions = await all_of(
        app, select(ReviewDecision).where(ReviewDecision.review_id == review_id)
    )
    assert [(d.action, d.from_status, d.reason, d.actor_id) for d in decisions] == [
        ("publish", "pending", "The link is the store's own site.", uuid.UUID(admin_user["id"]))
    ]


async def test_hiding_a_flagged_review_clears_its_flags_and_its_place_in_the_summary(
    admin_client: httpx.AsyncClient, app: Any
) -> None:
    author = await person(admin_client)
    _, vendor_id = await store(admin_client, "Hide House")
    review_id = await add_review(
        app, vendor_id, author.id, "Flagged as rude", status="published", open_flags=2
    )
    assert await summary_count(app, review_id) == 1

    response = await admin_client.post(
        "/admin/review/decide/hide", data={"pks": str(review_id), "reason": "Abusive language."}
    )

    assert "Hid 1 of 1 selected." in await toast(admin_client, response)
    review = await get(app, Review, review_id)
    assert (review.status, review.open_flags) == ("hidden", 0)
    assert await summary_count(app, review_id) == 0
    assert "Flagged as rude" not in (await admin_client.get("/admin/review/list")).text


async def test_moderation_without_a_reason_changes_nothing(
    admin_client: httpx.AsyncClient, app: Any
) -> None:
    author = await person(admin_client)
    _, vendor_id = await store(admin_client, "No Reason")
    review_id = await add_review(app, vendor_id, author.id, "Held for a link")

    response = await admin_client.post(
        "/admin/review/decide/hide", data={"pks": str(review_id), "reason": ""}
    )
    cross = await admin_client.post(
        "/admin/review/decide/hide",
        data={"pks": str(review_id), "reason": "Forged."},
        headers={"Sec-Fetch-Site": "cross-site"},
    )

    assert "A reason is required." in await toast(admin_client, response)
    assert cross.status_code == 403
    assert (await get(app, Review, review_id)).status == "pending"
    assert await all_of(app, select(ReviewDecision)) == []


# Plans and traffic


async def test_each_store_shows_its_plan_period_and_distinct_users(
    admin_client: httpx.AsyncClient, app: Any
) -> None:
    from oja.core.runtime import running
    from oja.marketplace.plans import service as plans

    _, free = await store(admin_client, "Free Foods")
    _, basic = await store(admin_client, "Basic Bakes")
    buyers = [uuid.UUID((await person(admin_client)).id) for _ in range(3)]
    runtime = app.state.runtime
    async with unit_of_work(runtime.database) as db:
        db.add(VendorSubscription(vendor_id=basic, plan="vendor_basic_monthly"))
    with running(runtime):
        for buyer in buyers:
            async with unit_of_work(runtime.database) as db:
                await plans.admit(db, basic, buyer)
        async with unit_of_work(runtime.database) as db:
            await plans.admit(db, free, buyers[0])

    page = await admin_client.get("/admin/store-plan/list")
    details = (await admin_client.get(f"/admin/store-plan/details/{basic}")).text

    assert page.status_code == 200
    rows = {
        name: page.text[page.text.index(name) :][:1500] for name in ("Free Foods", "Basic Bakes")
    }
    for cell in ("<td>free</td>", "<td>1</td>", "<td>20</td>"):
        assert cell in rows["Free Foods"], cell
    for cell in ("<td>vendor_basic_monthly</td>", "<td>active</td>", "<td>3</td>", "<td>100</td>"):
        assert cell in rows["Basic Bakes"], cell
    assert "vendor_basic_monthly" in details
    assert "<td>3</td>" in details


# Notification templates and failed deliveries


async def test_templates_list_defaults_and_overrides(admin_client: httpx.AsyncClient) -> None:
    page = await admin_client.get("/admin/notifications/templates")
    shipped = await admin_client.get(
        "/admin/notifications/templates", params={"search": "order.shipped"}
    )

    assert page.status_code == 200
    assert "order.confirmed" in page.text
    assert "review.flagged" in page.text
    assert "order.shipped" in shipped.text
    assert "order.confirmed" not in shipped.text
    assert "override" not in shipped.text.split('id="templates"')[1]


async def test_a_template_opens_with_its_preview_from_the_sample(
    admin_client: httpx.AsyncClient,
) -> None:
    page = await admin_client.get("/admin/notifications/templates/order.shipped/sms")

    assert page.status_code == 200
    assert 'name="subject"' not in page.text  # SMS has none
    rendered = page.text[page.text.index('id="template-rendered"') :]
    assert "OJA-10042" in rendered  # the event's sample order number
    assert "{{" not in rendered


async def test_every_default_template_opens_with_a_rendered_preview(
    admin_client: httpx.AsyncClient,
) -> None:
    from oja.notifications.catalogue import EVENTS

    for event, spec in EVENTS.items():
        for channel in spec.templates:
            page = await admin_client.get(f"/admin/notifications/templates/{event}/{channel.value}")
            assert page.status_code == 200, (event, channel)
            assert 'id="template-problem"' not in page.text, (event, channel)


async def test_saving_an_override_goes_through_the_service(
    admin_client: httpx.AsyncClient, app: Any, admin_user: dict[str, Any]
) -> None:
    from oja.notifications.models import NotificationTemplate

    body = "Hi {{ recipient_name }}, order {{ order_number }} is on its way."
    response = await admin_client.post(
        "/admin/notifications/templates/order.shipped/sms",
        data={"body": body, "locale": "en", "intent": "save"},
    )

    assert response.status_code == 302
    assert response.headers["location"].endswith(
        "/admin/notifications/templates/order.shipped/sms?locale=en&saved=1"
    )
    rows = await all_of(app, select(NotificationTemplate))
    assert [(r.event, r.channel, r.locale, r.subject, r.body, r.updated_by) for r in rows] == [
        ("order.shipped", "sms", "en", None, body, uuid.UUID(admin_user["id"]))
    ]
    page = (await admin_client.get(response.headers["location"])).text
    assert "Saved." in page
    assert "Hi Ada, order OJA-10042 is on its way." in page
    listed = (
        await admin_client.get("/admin/notifications/templates", params={"search": "order.shipped"})
    ).text
    assert "override" in listed.split('id="templates"')[1]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("{{ ''.__class__.__mro__ }}", "The template was refused"),
        ("Hello {{ password }}", "unknown variables password"),
        ("{% for x in [1] %}{{ x }}{% endfor %}", "For is not allowed"),
    ],
)
async def test_a_refused_template_is_shown_back_and_nothing_is_saved(
    admin_client: httpx.AsyncClient, app: Any, body: str, problem: str
) -> None:
    from oja.notifications.models import NotificationTemplate

    for intent in ("save", "preview"):
        response = await admin_client.post(
            "/admin/notifications/templates/order.shipped/email",
            data={"subject": "Shipped", "body": body, "locale": "en", "intent": intent},
        )
        assert response.status_code == 422, intent
        assert problem in response.text, intent
    assert await all_of(app, select(NotificationTemplate)) == []


async def test_a_preview_renders_without_saving(admin_client: httpx.AsyncClient, app: Any) -> None:
    from oja.notifications.models import NotificationTemplate

    response = await admin_client.post(
        "/admin/notifications/templates/order.shipped/email",
        data={
            "subject": "On its way: {{ order_number }}",
            "body": "Dear {{ recipient_name }}",
            "locale": "en",
            "intent": "preview",
        },
    )

    assert response.status_code == 200
    rendered = response.text[response.text.index('id="template-rendered"') :]
    assert "On its way: OJA-10042" in rendered
    assert "Dear Ada" in rendered
    assert await all_of(app, select(NotificationTemplate)) == []


async def test_template_edits_from_another_site_or_of_unknown_events_are_refused(
    admin_client: httpx.AsyncClient, app: Any
) -> None:
    from oja.notifications.models import NotificationTemplate

    cross = await admin_client.post(
        "/admin/notifications/templates/order.shipped/sms",
        data={"body": "Forged", "intent": "save"},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    unknown = await admin_client.get("/admin/notifications/templates/no.such.event/sms")
    bad_channel = await admin_client.get("/admin/notifications/templates/order.shipped/pigeon")

    assert (cross.status_code, unknown.status_code, bad_channel.status_code) == (403, 404, 404)
    assert await all_of(app, select(NotificationTemplate)) == []


async def test_only_failed_deliveries_are_listed(admin_client: httpx.AsyncClient, app: Any) -> None:
    user = await all_of(app, select(User.id).where(User.email == ADMIN_EMAIL))
    failed = await add_delivery(app, str(user[0]), "failed", "+2348030000001")
    sent = await add_delivery(app, str(user[0]), "sent", "+2348030000002")

    page = (await admin_client.get("/admin/notification-delivery/list")).text
    details = await admin_client.get(f"/admin/notification-delivery/details/{failed}")
    hidden = await admin_client.get(f"/admin/notification-delivery/details/{sent}")

    assert "+2348030000001" in page
    assert "the number is not on the network" in page
    assert "+2348030000002" not in page
    assert details.status_code == 200
    assert hidden.status_code == 404


async def test_disputes_are_listed_by_status(admin_client: httpx.AsyncClient, app: Any) -> None:
    buyer = await person(admin_client)
    _, vendor_id = await store(admin_client, "Dispute Row")
    ids = await add_order(app, vendor_id, buyer.id)
    reference = f"oja_dispute_{uuid.uuid4().hex[:12]}"
    async with unit_of_work(app.state.runtime.database) as db:
        db.add(
            Dispute(
                provider="paystack",
                provider_dispute_id="dsp_admin_1",
                reference=reference,
                group_id=ids["group"],
                status=DisputeStatus.open,
                provider_status="awaiting-merchant-feedback",
                amount=1250050,
                currency="NGN",
            )
        )

    open_ = (await admin_client.get("/admin/dispute/list", params={"status": "open"})).text
    won = (await admin_client.get("/admin/dispute/list", params={"status": "won"})).text

    assert reference in open_
    assert "NGN 12,500.50" in open_
    assert "awaiting-merchant-feedback" in open_
    assert reference not in won
