"""An order moving through every state notifies exactly what the preferences allow, on the chosen
channels, once each — while the email provider answers 429 and the SMS provider 503 before they
recover."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import httpx
from sqlalchemy import update

from oja.identity.models import User
from oja.marketplace.orders.models import OrderStatus
from oja.sandbox.paystack import PaystackFake
from tests.conftest import Jobs
from tests.marketplace import orders_kit
from tests.marketplace.orders_kit import place, shop
from tests.notifications.conftest import Fakes, deliveries_of

paystack_server, paystack, settings = (
    orders_kit.paystack_server,
    orders_kit.paystack,
    orders_kit.settings,
)
ROAD = [
    ("confirm", None),
    ("ship", {"carrier": "GIG Logistics", "tracking_number": "GIG-1"}),
    ("deliver", None),
]


async def test_every_state_notifies_what_the_preferences_allow_once_each(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes, paystack: PaystackFake
) -> None:
    store = await shop(app, client)
    buyer, owner = store.buyer, store.owner
    mobile = "+2348031234567"
    async with app.state.runtime.database.engine.begin() as conn:
        await conn.execute(update(User).where(User.id == uuid.UUID(buyer.id)).values(mobile=mobile))
    # The buyer wants order news by SMS, not email (a confirmation is emailed anyway).
    off = {"preferences": [{"category": "orders", "channel": "email", "enabled": False}]}
    assert (
        await client.put("/notifications/preferences", json=off, headers=buyer.headers)
    ).status_code == 200
    placed = await place(app, paystack, store, [(0, 1)], status=OrderStatus.pending)
    await jobs.run(app)
    fakes.sendgrid.fail_next(1, status=429, message="too many requests")
    fakes.twilio.fail_next(2, status=503)

    base = f"/vendors/me/orders/{placed.order_id}"
    for action, body in ROAD:
        moved = await client.post(f"{base}/{action}", json=body, headers=owner.headers)
        assert moved.status_code == 200, moved.text
        await jobs.run(app)
    await jobs.run(app)

    for person in (buyer, owner):
        page = (await client.get("/notifications", headers=person.headers)).json()
        assert sorted(item["event"] for item in page["items"]) == [
            "order.confirmed",
            "order.delivered",
            "order.shipped",
        ]
    ref = placed.order_id
    emails = Counter((m.to, m.subject) for m in fakes.sendgrid.messages)
    assert emails == {
        (buyer.email, f"Order {ref} confirmed"): 1,  # mandatory: despite the opt-out
        (owner.email, f"Order {ref} confirmed"): 1,
        (owner.email, f"Order {ref} is on its way"): 1,
        (owner.email, f"Order {ref} delivered"): 1,
    }
    texts = Counter(
        (m.to, m.body.removeprefix(f"Oja: order {ref} ").split(" ")[0].rstrip(".,"))
        for m in fakes.twilio.messages
    )
    # The store owner has no number; the buyer gets each state once.
    assert texts == {(mobile, "confirmed"): 1, (mobile, "shipped"): 1, (mobile, "delivered"): 1}
    # Every delivery ended sent, the refused ones on a later attempt.
    rows = [*await deliveries_of(app, buyer), *await deliveries_of(app, owner)]
    assert Counter(r.status for r in rows) == {"sent": 7}
    assert Counter(c.status for c in fakes.sendgrid.calls) == {429: 1, 202: 4}
    assert Counter(c.status for c in fakes.twilio.calls) == {503: 2, 201: 3}
    # Nothing is left to send, and running again sends nothing.
    assert await jobs.run(app) == []
    assert (len(fakes.sendgrid.messages), len(fakes.twilio.messages)) == (4, 3)
