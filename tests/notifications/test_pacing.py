"""Quiet hours defer (never drop), the promotions digest folds a day's promotion emails into one,
and the per-recipient rate limit throttles an SMS storm; mandatory events ignore all three."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select

from oja.core.clock import utcnow
from oja.core.db import unit_of_work
from oja.core.jobs import Job
from oja.core.runtime import running
from oja.notifications.jobs import send_digests
from tests.conftest import Jobs, use_settings
from tests.marketplace.conftest import count
from tests.notifications.conftest import (
    PROMOTION,
    SHIPPED,
    Fakes,
    deliveries,
    deliveries_of,
    emit,
    reachable,
    release_deferred,
)
from tests.notifications.test_preferences import CONFIRMED

LAGOS = ZoneInfo("Africa/Lagos")


def _quiet_now() -> tuple[dict[str, str], datetime]:
    """Quiet hours in Lagos that began an hour ago and end in two, and their end in UTC."""
    local = utcnow().astimezone(LAGOS)
    start, end = local - timedelta(hours=1), local + timedelta(hours=2)
    quiet = {"start": f"{start:%H:%M}", "end": f"{end:%H:%M}", "time_zone": "Africa/Lagos"}
    ends = datetime.combine(end.date(), time(end.hour, end.minute), tzinfo=LAGOS).astimezone(UTC)
    return quiet, ends


async def _sends(app: Any, person: Any) -> list[tuple[str, str, datetime | None]]:
    return sorted((r.channel, r.status, r.send_after) for r in await deliveries_of(app, person))


async def test_quiet_hours_defer_email_and_sms_until_they_end_and_then_send_them(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    ada = await reachable(app, client)
    quiet, ends = _quiet_now()
    answer = await client.put(
        "/notifications/preferences", json={"quiet_hours": quiet}, headers=ada.headers
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["quiet_hours"] == quiet

    await emit(app, "order.shipped", [ada], **SHIPPED)
    assert sorted(await jobs.run_kinds(app)) == [
        ("notifications.deliver_events", "succeeded"),
        # the email and the SMS, one job not due before the quiet hours end
        ("notifications.send_deliveries", "not_claimed"),
    ]
    assert await _sends(app, ada) == [("email", "pending", ends), ("sms", "pending", ends)]
    assert (fakes.sendgrid.messages, fakes.twilio.messages) == ([], [])
    unread = await client.get("/notifications/unread-count", headers=ada.headers)
    assert unread.json() == {"unread": 1}  # the in-app one is there at once
    async with app.state.runtime.database.engine.connect() as conn:
        queued = await conn.scalars(
            select(Job.run_after).where(Job.kind == "notifications.send_deliveries")
        )
        # The job starts when they end (its delay was taken from that moment a little earlier).
        assert [ends <= run_after < ends + timedelta(seconds=1) for run_after in queued] == [True]

    # A mandatory event ignores quiet hours.
    await emit(app, "order.confirmed", [ada], **CONFIRMED)
    await jobs.run(app)
    assert [m.subject for m in fakes.sendgrid.messages] == ["Order OJA-20001 confirmed"]
    assert len(fakes.twilio.messages) == 1

    # The quiet hours end: the deferred ones go, once each.
    assert await release_deferred(app, jobs) == 1
    assert await jobs.run(app) == ["succeeded"]
    assert sorted(m.subject for m in fakes.sendgrid.messages) == [
        "Order OJA-20001 confirmed",
        "Order OJA-20001 is on its way",
    ]
    assert len(fakes.twilio.messages) == 2
    assert [r.status for r in await deliveries(app)] == ["sent", "sent", "sent", "sent"]


async def test_outside_quiet_hours_nothing_waits_and_clearing_them_works(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    ada = await reachable(app, client)
    local = utcnow().astimezone(LAGOS)
    later, much_later = local + timedelta(hours=2), local + timedelta(hours=4)
    quiet = {"start": f"{later:%H:%M}", "end": f"{much_later:%H:%M}", "time_zone": "Africa/Lagos"}
    await client.put("/notifications/preferences", json={"quiet_hours": quiet}, headers=ada.headers)
    await emit(app, "order.delivered", [ada], **SHIPPED)
    await jobs.run(app)
    assert [(c, s, a) for c, s, a in await _sends(app, ada)] == [
        ("email", "sent", None),
        ("sms", "sent", None),
    ]
    cleared = await client.put(
        "/notifications/preferences", json={"quiet_hours": None}, headers=ada.headers
    )
    assert cleared.json()["quiet_hours"] is None


async def test_bad_quiet_hours_are_refused_and_change_nothing(
    app: Any, client: httpx.AsyncClient
) -> None:
    ada = await reachable(app, client)
    for bad in (
        {"start": "22:00", "end": "07:00", "time_zone": "Mars/Olympus"},
        {"start": "25:00", "end": "07:00", "time_zone": "UTC"},
        {"start": "07:00", "end": "07:00", "time_zone": "UTC"},
        {"start": "22:00", "end": "07:00"},
        {"start": "22:00", "end": "07:00", "time_zone": "UTC", "user_id": ada.id},
    ):
        answer = await client.put(
            "/notifications/preferences", json={"quiet_hours": bad}, headers=ada.headers
        )
        assert answer.status_code == 422, bad
    assert await count(app, "notification_setting") == 0


async def _run_digest(app: Any) -> None:
    runtime = app.state.runtime
    with running(runtime):
        async with unit_of_work(runtime.database) as session:
            send_digests.enqueue(session)


async def test_the_digest_folds_a_day_of_promotion_emails_into_one(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    ada = await reachable(app, client)
    bob = await reachable(app, client, name="Bob")
    chosen = await client.put(
        "/notifications/preferences", json={"promotions_digest": True}, headers=ada.headers
    )
    assert chosen.json()["promotions_digest"] is True
    for title in ("Jollof rice", "Suya", "Puff-puff"):
        await emit(
            app,
            "product.new_from_followed_store",
            [ada, bob],
            **{**PROMOTION, "product_title": title},
        )
    await jobs.run(app)
    # Bob did not choose the digest: three emails. Ada's wait.
    assert sorted(m.to for m in fakes.sendgrid.messages) == [bob.email] * 3
    assert [r.status for r in await deliveries_of(app, ada)] == ["held"] * 3
    assert fakes.twilio.messages == []  # promotions do not go by SMS by default

    await _run_digest(app)
    assert sorted(await jobs.run_kinds(app)) == [
        ("notifications.send_deliveries", "succeeded"),
        ("notifications.send_digests", "succeeded"),
    ]
    [digest] = [m for m in fakes.sendgrid.messages if m.to == ada.email]
    assert digest.subject == "Your Oja digest: 3 updates"
    assert digest.text.startswith(
        "Hello,\n\nWhat you missed on Oja today:\n\n"
        "- New from Mama Put Foods: Jollof rice\n"
        "- New from Mama Put Foods: Suya\n"
        "- New from Mama Put Foods: Puff-puff\n\n— Oja"
    )
    assert digest.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    mine = await deliveries_of(app, ada)
    carrier = mine[0].id
    assert [(r.status, r.digest_id) for r in mine] == [
        ("sent", None),
        ("digested", carrier),
        ("digested", carrier),
    ]
    # The next day's run has nothing to fold; nothing is sent twice.
    await _run_digest(app)
    assert await jobs.run(app) == ["succeeded"]
    assert len(fakes.sendgrid.messages) == 4


async def test_the_digest_does_not_hold_mandatory_or_other_categories(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    ada = await reachable(app, client)
    await client.put(
        "/notifications/preferences", json={"promotions_digest": True}, headers=ada.headers
    )
    await emit(app, "order.shipped", [ada], **SHIPPED)
    await emit(app, "order.confirmed", [ada], **CONFIRMED)
    await jobs.run(app)
    assert len(fakes.sendgrid.messages) == 2
    assert await count(app, "notification_delivery", "status = 'held'") == 0


async def test_a_burst_of_order_changes_is_throttled_per_recipient_and_channel(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    use_settings(app, notification_sms_per_hour=2, notification_email_per_hour=3)
    ada = await reachable(app, client)
    bob = await reachable(app, client, name="Bob")
    for n in range(5):
        await emit(app, "order.shipped", [ada], **{**SHIPPED, "order_number": f"OJA-3000{n}"})
    await emit(app, "order.shipped", [bob], **SHIPPED)
    await jobs.run(app)
    mine = Counter((r.channel, r.status) for r in await deliveries_of(app, ada))
    assert mine == {
        ("email", "sent"): 3,
        ("email", "throttled"): 2,
        ("sms", "sent"): 2,
        ("sms", "throttled"): 3,
    }
    assert len([m for m in fakes.twilio.messages if m.to == ada.mobile]) == 2  # type: ignore[attr-defined]
    assert len([m for m in fakes.twilio.messages if m.to == bob.mobile]) == 1  # type: ignore[attr-defined]
    unread = await client.get("/notifications/unread-count", headers=ada.headers)
    assert unread.json() == {"unread": 5}  # in-app tells every one

    # Mandatory messages are never throttled.
    await emit(app, "order.confirmed", [ada], **CONFIRMED)
    await jobs.run(app)
    assert len([m for m in fakes.twilio.messages if m.to == ada.mobile]) == 3  # type: ignore[attr-defined]
