"""Preferences: opt-outs are respected, mandatory events are sent regardless and say so."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Jobs
from tests.notifications.conftest import SHIPPED, Fakes, deliveries, emit, reachable

CONFIRMED = {
    "order_id": SHIPPED["order_id"],
    "order_number": "OJA-20001",
    "total_amount": 1250050,
    "currency": "NGN",
    "store_name": "Mama Put Foods",
}


async def test_defaults_and_what_is_always_sent(app: Any, client: httpx.AsyncClient) -> None:
    ada = await reachable(app, client)
    answer = await client.get("/notifications/preferences", headers=ada.headers)
    assert answer.status_code == 200
    body = answer.json()
    assert {(p["category"], p["channel"]): p["enabled"] for p in body["preferences"]} == {
        ("orders", "email"): True,
        ("orders", "sms"): True,
        ("payments", "email"): True,
        ("payments", "sms"): False,
        ("promotions", "email"): True,
        ("promotions", "sms"): False,
        ("account", "email"): True,
        ("account", "sms"): True,
        ("store", "email"): True,
        ("store", "sms"): False,
    }
    assert {a["event"] for a in body["always_sent"]} == {
        "order.confirmed",
        "refund.processed",
        "payment.failed",
        "dispute.opened",
        "dispute.resolved",
        "payout.failed",
        "payout.account_changed",
        "account.password_changed",
        "account.email_changed",
        "account.signed_in",
        "account.mfa_changed",
    }
    assert (body["quiet_hours"], body["promotions_digest"]) == (None, False)


async def test_an_opt_out_is_respected_and_a_mandatory_event_overrides_it(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    ada = await reachable(app, client)
    changed = await client.put(
        "/notifications/preferences",
        json={"preferences": [{"category": "orders", "channel": "email", "enabled": False}]},
        headers=ada.headers,
    )
    assert changed.status_code == 200
    chosen = {(p["category"], p["channel"]): p["enabled"] for p in changed.json()["preferences"]}
    assert chosen[("orders", "email")] is False
    assert chosen[("orders", "sms")] is True

    await emit(app, "order.shipped", [ada], **SHIPPED)
    await jobs.run(app)
    assert [(r.channel, r.status) for r in await deliveries(app)] == [("sms", "sent")]
    assert fakes.sendgrid.messages == []
    assert len(fakes.twilio.messages) == 1

    # Order confirmation is transactional: it is emailed despite the opt-out.
    await emit(app, "order.confirmed", [ada], **CONFIRMED)
    await jobs.run(app)
    [mail] = fakes.sendgrid.messages
    assert mail.subject == "Order OJA-20001 confirmed"
    assert "NGN 12,500.50" in mail.text
    listed = (await client.get("/notifications", headers=ada.headers)).json()
    assert listed["total"] == 2  # in-app notifications are kept either way


async def test_opting_out_of_every_channel_still_keeps_the_in_app_notification(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    ada = await reachable(app, client)
    off = [{"category": "orders", "channel": c, "enabled": False} for c in ("email", "sms")]
    assert (
        await client.put(
            "/notifications/preferences", json={"preferences": off}, headers=ada.headers
        )
    ).status_code == 200
    await emit(app, "order.delivered", [ada], **SHIPPED)
    await jobs.run(app)
    assert await deliveries(app) == []
    assert (fakes.sendgrid.messages, fakes.twilio.messages) == ([], [])
    assert (await client.get("/notifications/unread-count", headers=ada.headers)).json() == {
        "unread": 1
    }


async def test_bad_preferences_are_refused(app: Any, client: httpx.AsyncClient) -> None:
    ada = await reachable(app, client)
    for bad in (
        {"preferences": [{"category": "orders", "channel": "in_app", "enabled": False}]},
        {"preferences": [{"category": "gossip", "channel": "email", "enabled": False}]},
        {"preferences": [{"category": "orders", "channel": "email"}]},
        {"preferences": [], "user_id": ada.id},
    ):
        answer = await client.put("/notifications/preferences", json=bad, headers=ada.headers)
        assert answer.status_code == 422, bad
    body = (await client.get("/notifications/preferences", headers=ada.headers)).json()
    assert all(p["enabled"] for p in body["preferences"] if p["channel"] == "email")
