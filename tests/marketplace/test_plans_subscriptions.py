"""A store's paid plan through the Paystack fake's Plans + Subscriptions, over real HTTP: the
checkout, activation only by a verified subscription, renewal, a failed renewal's grace period and
fall to the free tier, reactivation, an upgrade applied once paid, a downgrade at the period's
end, cancel at the period's end, and forged or replayed webhooks changing nothing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from oja.core.clock import utcnow
from oja.core.config import Settings
from oja.core.db import unit_of_work
from oja.core.runtime import running
from oja.marketplace.plans import subscriptions
from oja.sandbox.paystack import PaystackFake
from tests.billing.conftest import paystack_headers
from tests.conftest import Jobs, make_settings

from .conftest import error_code, person, rows
from .shop import WEBHOOK, Served, Store, paystack, paystack_server, shop

__all__ = ["paystack", "paystack_server"]


@pytest.fixture
def settings(tmp_path: Any, database_url: str, paystack_server: Served) -> Settings:
    from oja.sandbox import paystack as paystack_fake

    return make_settings(
        tmp_path,
        database_url,
        free_tier_users=3,
        paystack_base_url=paystack_server.url,
        paystack_secret_key=paystack_fake.DEFAULT_SECRET_KEY,
    )


class Inbox:
    """Posts what the fake sent (and has not been posted yet) to Oja's webhook, then runs the
    inbox jobs: the outcomes recorded on the events stored since the last run, in order."""

    def __init__(self, app: Any, client: httpx.AsyncClient, fake: PaystackFake, jobs: Jobs):
        self.app, self.client, self.fake, self.jobs = app, client, fake, jobs
        self.posted = 0
        self.seen = 0

    async def deliver(self) -> list[str]:
        outgoing = self.fake.webhooks.sent[self.posted :]
        self.posted = len(self.fake.webhooks.sent)
        for item in outgoing:
            await self.post(item.body)
        return await self.run()

    async def post(self, body: bytes) -> None:
        answer = await self.client.post(WEBHOOK, content=body, headers=paystack_headers(body))
        assert answer.status_code == 200, answer.text

    async def replay(self) -> list[str]:
        for item in self.fake.webhooks.sent:
            await self.post(item.body)
        return await self.run()

    async def run(self) -> list[str]:
        await self.jobs.run(self.app)
        stored = await rows(self.app, "SELECT outcome FROM webhook_event ORDER BY received_at, id")
        new, self.seen = stored[self.seen :], len(stored)
        return [outcome for (outcome,) in new]


@pytest.fixture
def inbox(app: Any, client: httpx.AsyncClient, paystack: PaystackFake, jobs: Jobs) -> Inbox:
    return Inbox(app, client, paystack, jobs)


async def mine(client: httpx.AsyncClient, store: Store) -> dict[str, Any]:
    answer = await client.get("/vendors/me/subscription", headers=store.owner.headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def pay(url: str) -> None:
    """The vendor presses "Pay" on the fake's checkout page."""
    async with httpx.AsyncClient() as browser:
        answer = await browser.post(f"{url}/pay", headers={"accept": "application/json"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "success"


async def subscribed(
    client: httpx.AsyncClient, inbox: Inbox, store: Store, plan: str
) -> dict[str, Any]:
    started = await client.post(
        "/vendors/me/subscription", json={"plan": plan}, headers=store.owner.headers
    )
    assert started.status_code == 201, started.text
    await pay(started.json()["authorization_url"])
    await inbox.deliver()
    return await mine(client, store)


async def due(app: Any, moment: datetime) -> dict[str, int]:
    """The periodic job's work, run at ``moment``."""
    with running(app.state.runtime):
        async with unit_of_work(app.state.runtime.database) as db:
            return await subscriptions.apply_due(db, moment)


def only_subscription(fake: PaystackFake, status: str | None = None) -> Any:
    found = [
        s for s in fake.subscriptions.subscriptions.values() if status is None or s.status == status
    ]
    assert len(found) == 1, found
    return found[0]


async def test_a_plan_applies_only_once_paystack_confirms_it(
    app: Any,
    client: httpx.AsyncClient,
    paystack: PaystackFake,
    paystack_server: Served,
    inbox: Inbox,
) -> None:
    store = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 5}])
    started = await client.post(
        "/vendors/me/subscription",
        json={"plan": "vendor_premium_monthly"},
        headers=store.owner.headers,
    )
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["plan"] == "vendor_premium_monthly"
    assert body["authorization_url"].startswith(f"{paystack_server.url}/checkout/")
    # The checkout charges the Paystack plan made for it, at the configured price.
    (plan,) = paystack.subscriptions.plans.values()
    assert (plan.name, plan.amount, plan.interval, plan.currency) == (
        "oja:vendor_premium_monthly",
        1_500_000,
        "monthly",
        "NGN",
    )
    assert paystack.transactions[body["reference"]].amount == 1_500_000
    # Unpaid: still on the free tier.
    before = await mine(client, store)
    assert (before["plan"], before["status"], before["usage"]["limit"]) == ("free", "free", 3)
    # A forged subscription.create naming a subscription Paystack does not know changes nothing.
    forged = json.dumps(
        {
            "event": "subscription.create",
            "data": {
                "subscription_code": "SUB_forged",
                "status": "active",
                "plan": {"name": "oja:vendor_diamond_yearly"},
                "customer": {"email": store.owner.email},
            },
        }
    ).encode()
    await inbox.post(forged)
    assert await inbox.run() == ["ignored:unknown_subscription"]
    assert (await mine(client, store))["plan"] == "free"

    await pay(body["authorization_url"])
    assert await inbox.deliver() == ["credited", "subscription:active"]
    sub = only_subscription(paystack)
    after = await mine(client, store)
    assert (after["plan"], after["status"], after["usage"]["limit"]) == (
        "vendor_premium_monthly",
        "active",
        300,
    )
    assert parse(after["paid_through"]) == sub.next_payment_date
    assert after["cancel_at_period_end"] is False
    # Replayed webhooks change nothing; a second checkout is refused.
    assert await inbox.replay() == []
    assert await mine(client, store) == after
    again = await client.post(
        "/vendors/me/subscription",
        json={"plan": "vendor_basic_monthly"},
        headers=store.owner.headers,
    )
    assert (again.status_code, error_code(again)) == (409, "plan_already_active")
    assert len(paystack.transactions) == 1
    # Bad input: an unknown plan is a 422 and nothing is started.
    bad = await client.post(
        "/vendors/me/subscription", json={"plan": "vendor_gold"}, headers=store.owner.headers
    )
    assert bad.status_code == 422
    assert len(paystack.transactions) == 1


async def test_renewal_failed_renewal_grace_free_tier_and_reactivation(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, inbox: Inbox
) -> None:
    store = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 5}])
    first = await subscribed(client, inbox, store, "vendor_basic_monthly")
    sub = only_subscription(paystack)
    paid_through = parse(first["paid_through"])

    await paystack.subscriptions.renew(sub.code)
    assert await inbox.deliver() == [
        "subscription:active",
        "ignored:unknown_reference",
        "subscription:active",
    ]
    renewed = await mine(client, store)
    assert parse(renewed["paid_through"]) == paid_through + timedelta(days=30)
    assert renewed["status"] == "active"

    before = utcnow()
    await paystack.subscriptions.renew(sub.code, "failed")
    await inbox.deliver()
    after = utcnow()
    failed = await mine(client, store)
    assert (failed["plan"], failed["status"], failed["usage"]["limit"]) == (
        "vendor_basic_monthly",
        "past_due",
        100,
    )
    grace_until = parse(failed["grace_until"])
    assert before + timedelta(days=3) <= grace_until <= after + timedelta(days=3)
    # The grace period holds the plan; its end puts the store on the free tier, once.
    assert await due(app, grace_until - timedelta(seconds=1)) == {
        "downgraded": 0,
        "ended": 0,
        "lapsed": 0,
    }
    assert (await mine(client, store))["plan"] == "vendor_basic_monthly"
    assert await due(app, grace_until) == {"downgraded": 0, "ended": 0, "lapsed": 1}
    assert await due(app, grace_until) == {"downgraded": 0, "ended": 0, "lapsed": 0}
    lapsed = await mine(client, store)
    assert (lapsed["plan"], lapsed["status"], lapsed["usage"]["limit"]) == ("free", "free", 3)

    # Paying again reactivates: a new checkout, a new subscription.
    back = await subscribed(client, inbox, store, "vendor_basic_monthly")
    assert (back["plan"], back["status"], back["grace_until"]) == (
        "vendor_basic_monthly",
        "active",
        None,
    )
    assert len(paystack.subscriptions.subscriptions) == 2


async def test_upgrade_once_paid_downgrade_at_period_end_and_cancel(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake, inbox: Inbox
) -> None:
    store = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 5}])
    await subscribed(client, inbox, store, "vendor_basic_monthly")
    basic = only_subscription(paystack)

    async def change(plan: str) -> httpx.Response:
        return await client.post(
            "/vendors/me/subscription/change", json={"plan": plan}, headers=store.owner.headers
        )

    # Upgrade: pending until Paystack's subscription arrives; then the limit is raised at once.
    upgrading = await change("vendor_premium_monthly")
    assert upgrading.status_code == 202, upgrading.text
    body = upgrading.json()
    assert (body["plan"], body["pending_plan"], body["pending_at"], body["usage"]["limit"]) == (
        "vendor_basic_monthly",
        "vendor_premium_monthly",
        None,
        100,
    )
    assert basic.status == "cancelled"  # the old one no longer renews
    assert await inbox.deliver() == [
        "ignored:unknown_reference",  # the upgrade's charge: not a payment Oja opened
        "subscription:active",  # the new subscription: upgraded
        "subscription:cancelled",  # the old one, disabled: no longer the store's (stale)
    ]
    premium = only_subscription(paystack, "active")
    upgraded = await mine(client, store)
    assert (upgraded["plan"], upgraded["pending_plan"], upgraded["usage"]["limit"]) == (
        "vendor_premium_monthly",
        None,
        300,
    )
    assert parse(upgraded["paid_through"]) == premium.next_payment_date
    same = await change("vendor_premium_monthly")
    assert (same.status_code, error_code(same)) == (409, "plan_unchanged")

    # Downgrade: the paid period is kept; the lower plan starts when it ends.
    downgrading = await change("vendor_basic_monthly")
    assert downgrading.status_code == 202, downgrading.text
    body = downgrading.json()
    paid_through = parse(upgraded["paid_through"])
    assert (body["plan"], body["pending_plan"], parse(body["pending_at"])) == (
        "vendor_premium_monthly",
        "vendor_basic_monthly",
        paid_through,
    )
    await inbox.deliver()
    assert (await mine(client, store))["usage"]["limit"] == 300
    assert await due(app, paid_through - timedelta(seconds=1)) == {
        "downgraded": 0,
        "ended": 0,
        "lapsed": 0,
    }
    assert await due(app, paid_through) == {"downgraded": 1, "ended": 0, "lapsed": 0}
    downgraded = await mine(client, store)
    assert (downgraded["plan"], downgraded["pending_plan"], downgraded["usage"]["limit"]) == (
        "vendor_basic_monthly",
        None,
        100,
    )
    assert parse(downgraded["paid_through"]) == paid_through + timedelta(days=30)

    # Cancel: the plan holds to the period's end, then the free tier.
    canceled = await client.post("/vendors/me/subscription/cancel", headers=store.owner.headers)
    assert canceled.status_code == 200, canceled.text
    assert (canceled.json()["plan"], canceled.json()["cancel_at_period_end"]) == (
        "vendor_basic_monthly",
        True,
    )
    assert {s.status for s in paystack.subscriptions.subscriptions.values()} == {"cancelled"}
    await inbox.deliver()
    end = parse(downgraded["paid_through"])
    assert await due(app, end - timedelta(seconds=1)) == {"downgraded": 0, "ended": 0, "lapsed": 0}
    assert await due(app, end) == {"downgraded": 0, "ended": 1, "lapsed": 0}
    final = await mine(client, store)
    assert (final["plan"], final["status"], final["usage"]["limit"]) == ("free", "free", 3)
    again = await client.post("/vendors/me/subscription/cancel", headers=store.owner.headers)
    assert (again.status_code, error_code(again)) == (409, "no_paid_plan")
    refused = await change("vendor_diamond_monthly")
    assert (refused.status_code, error_code(refused)) == (409, "no_paid_plan")


async def test_staff_cannot_buy_a_plan_and_a_store_without_one_cannot_change_it(
    app: Any, client: httpx.AsyncClient, paystack: PaystackFake
) -> None:
    store = await shop(app, client, "Store A", [{"sku": "A-1", "price": 1000, "stock": 5}])
    staff = await person(client, "staff")
    added = await client.post(
        "/vendors/me/staff",
        json={"email": staff.email, "role": "staff"},
        headers=store.owner.headers,
    )
    assert added.status_code in (200, 201), added.text
    refused = await client.post(
        "/vendors/me/subscription", json={"plan": "vendor_basic_monthly"}, headers=staff.headers
    )
    assert (refused.status_code, error_code(refused)) == (403, "vendor_role_required")
    assert paystack.transactions == {}
    assert await rows(app, "SELECT count(*) FROM vendor_subscription") == [(0,)]
