"""Stripe subscriptions: checkout, signed webhooks into the inbox, state re-read from Stripe."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from oja.sandbox.stripe import StripeFake
from tests.billing.conftest import auth, count, counts, new_user, rows
from tests.conftest import Jobs

WEBHOOK = "/webhook/stripe"


async def deliver(client: httpx.AsyncClient, stripe: StripeFake, event: dict[str, Any]) -> int:
    payload, header = stripe.signed(event)
    response = await client.post(
        WEBHOOK,
        content=payload,
        headers={"stripe-signature": header, "content-type": "application/json"},
    )
    return response.status_code


async def subscribed(
    client: httpx.AsyncClient, app: Any, stripe: StripeFake, jobs: Jobs
) -> tuple[dict[str, str], str, list[dict[str, Any]]]:
    user = await new_user(client)
    checkout = await client.post("/subscribe/pro", headers=auth(user))
    assert checkout.status_code == 200, checkout.text
    events = stripe.complete_checkout(checkout.json()["session_id"])
    for event in events:
        assert await deliver(client, stripe, event) == 200
    await jobs.run(app)
    subscription_id = stripe.sessions[checkout.json()["session_id"]]["subscription"]
    return user, subscription_id, events


async def test_basic_by_default_with_five_prompts_a_day(client: httpx.AsyncClient) -> None:
    user = await new_user(client)
    response = await client.get("/subscription/status", headers=auth(user))
    assert response.status_code == 200
    body = response.json()
    assert body["tier"] == "basic"
    assert body["status"] == "none"
    assert body["usage"]["prompts_today"] == 0
    assert body["usage"]["daily_limit"] == 5
    assert body["usage"]["remaining"] == 5
    assert body["usage"]["resets_at"].startswith(time.strftime("%Y-", time.gmtime()))


async def test_subscribe_complete_webhooks_make_the_user_pro(
    client: httpx.AsyncClient, app: Any, stripe: StripeFake, jobs: Jobs
) -> None:
    user = await new_user(client)
    checkout = await client.post("/subscribe/pro", headers=auth(user))
    assert checkout.status_code == 200, checkout.text
    session_id = checkout.json()["session_id"]
    assert checkout.json()["checkout_url"].endswith(f"/checkout/{session_id}")
    assert stripe.sessions[session_id]["client_reference_id"] == user["id"]
    assert await count(app, "billing_customer") == 1

    for event in stripe.complete_checkout(session_id):
        assert await deliver(client, stripe, event) == 200
    assert (await client.get("/subscription/status", headers=auth(user))).json()["tier"] == "basic"
    assert await jobs.run(app) == ["succeeded"] * 3
    status = (await client.get("/subscription/status", headers=auth(user))).json()
    assert status["tier"] == "pro"
    assert status["status"] == "active"
    assert status["usage"]["daily_limit"] is None
    assert status["current_period_end"] is not None
    assert await count(app, "subscription") == 1

    again = await client.post("/subscribe/pro", headers=auth(user))
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_subscribed"


async def test_customer_is_reused_across_checkouts(
    client: httpx.AsyncClient, app: Any, stripe: StripeFake
) -> None:
    user = await new_user(client)
    first = await client.post("/subscribe/pro", headers=auth(user))
    second = await client.post("/subscribe/pro", headers=auth(user))
    assert first.json()["session_id"] != second.json()["session_id"]
    assert stripe.calls["customers.create"] == 1
    assert len(stripe.customers) == 1


@pytest.mark.parametrize("forgery", ["missing", "wrong", "tampered", "stale"])
async def test_forged_stripe_webhooks_are_400_and_write_nothing(
    client: httpx.AsyncClient, app: Any, stripe: StripeFake, jobs: Jobs, forgery: str
) -> None:
    user = await new_user(client)
    checkout = await client.post("/subscribe/pro", headers=auth(user))
    event = stripe.complete_checkout(checkout.json()["session_id"])[1]
    payload, header = stripe.signed(event)
    headers = {"stripe-signature": header, "content-type": "application/json"}
    if forgery == "missing":
        del headers["stripe-signature"]
    elif forgery == "wrong":
        headers["stripe-signature"] = f"t={int(time.time())},v1={'0' * 64}"
    elif forgery == "tampered":
        payload = payload.replace(b'"active"', b'"activf"')
    else:
        _, headers["stripe-signature"] = stripe.signed(event, timestamp=int(time.time()) - 301)
        payload = json.dumps(event).encode()
    before = await counts(app)
    response = await client.post(WEBHOOK, content=payload, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_signature"
    assert await counts(app) == before
    assert jobs.published == []


async def test_reordered_and_duplicated_events_end_in_stripes_current_state(
    client: httpx.AsyncClient, app: Any, stripe: StripeFake, jobs: Jobs
) -> None:
    user, subscription_id, events = await subscribed(client, app, stripe, jobs)
    stripe.set_subscription(subscription_id, status="canceled", canceled_at=int(time.time()))
    deleted = stripe.event("customer.subscription.deleted", stripe.subscriptions[subscription_id])
    # The deletion arrives first, then the stale "created" and "paid" events again, twice.
    for event in [deleted, *events, *events]:
        assert await deliver(client, stripe, event) == 200
    await jobs.run(app)
    status = (await client.get("/subscription/status", headers=auth(user))).json()
    assert (status["tier"], status["status"]) == ("basic", "canceled")
    assert await count(app, "webhook_event") == 4  # three from checkout, one deletion


async def test_cancel_at_period_end_keeps_pro_until_then(
    client: httpx.AsyncClient, app: Any, stripe: StripeFake, jobs: Jobs
) -> None:
    user, subscription_id, _ = await subscribed(client, app, stripe, jobs)
    response = await client.post("/subscription/cancel", headers=auth(user))
    assert response.status_code == 200, response.text
    assert response.json()["tier"] == "pro"
    assert response.json()["cancel_at_period_end"] is True
    assert stripe.subscriptions[subscription_id]["cancel_at_period_end"] is True


async def test_cancel_without_subscription_is_404_and_portal_needs_a_customer(
    client: httpx.AsyncClient, stripe: StripeFake
) -> None:
    user = await new_user(client)
    assert (await client.post("/subscription/cancel", headers=auth(user))).status_code == 404
    assert (await client.post("/subscription/portal", headers=auth(user))).status_code == 404


async def test_portal_returns_a_billing_portal_url(
    client: httpx.AsyncClient, app: Any, stripe: StripeFake, jobs: Jobs
) -> None:
    user, _, _ = await subscribed(client, app, stripe, jobs)
    response = await client.post("/subscription/portal", headers=auth(user))
    assert response.status_code == 200
    assert "/portal/bps_" in response.json()["url"]


async def test_entitlements_are_read_locally(
    client: httpx.AsyncClient, app: Any, stripe: StripeFake, jobs: Jobs
) -> None:
    import uuid

    from oja.billing.service import entitlements
    from oja.core.db import unit_of_work

    user, _, _ = await subscribed(client, app, stripe, jobs)
    calls = dict(stripe.calls)
    async with unit_of_work(app.state.runtime.database) as session:
        granted = await entitlements(session, uuid.UUID(user["id"]))
    assert (granted.tier, granted.daily_prompt_limit) == ("pro", None)
    assert stripe.calls == calls


async def test_stripe_outage_on_subscribe_is_502(
    client: httpx.AsyncClient, app: Any, stripe: StripeFake
) -> None:
    user = await new_user(client)
    stripe.fail_next(3)  # the SDK retries twice
    response = await client.post("/subscribe/pro", headers=auth(user))
    assert response.status_code == 502
    assert await rows(app, "SELECT count(*) FROM billing_customer") == [(0,)]


async def test_plans_are_listed_publicly(client: httpx.AsyncClient) -> None:
    response = await client.get("/plans")
    assert response.status_code == 200
    plans = {p["code"]: p for p in response.json()["items"]}
    assert plans["chat_basic"]["daily_prompt_limit"] == 5
    assert plans["chat_pro"]["daily_prompt_limit"] is None
    assert [plans[c]["user_limit"] for c in sorted(plans) if c.startswith("vendor_")] == [
        100,
        150,
        None,
        None,
        300,
        700,
    ]
