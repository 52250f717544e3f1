"""Events become notifications: once each, on the channels allowed, through the fakes over HTTP;
never for a rolled-back change; never twice when a worker dies after the provider took it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import event as sa_event

from oja.core import events
from oja.core.db import unit_of_work
from oja.core.runtime import running
from oja.notifications import delivery
from tests.conftest import Jobs
from tests.marketplace.conftest import count
from tests.notifications.conftest import (
    SHIPPED,
    Fakes,
    deliveries,
    deliveries_of,
    emit,
    reachable,
)


async def test_an_event_notifies_in_app_and_on_each_enabled_channel_once(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    ada = await reachable(app, client)
    await emit(app, "order.shipped", [ada], **SHIPPED)
    outcomes = await jobs.run_kinds(app)
    assert sorted(outcomes) == [
        ("notifications.deliver_events", "succeeded"),
        # the email and the SMS, in one send job
        ("notifications.send_deliveries", "succeeded"),
    ]
    assert await count(app, "realtime_event", "event = 'notification.created'") == 1

    listed = await client.get("/notifications", headers=ada.headers)
    assert listed.status_code == 200
    page = listed.json()
    assert (page["total"], page["page"], page["pages"]) == (1, 1, 1)
    item = page["items"][0]
    assert item["event"] == "order.shipped"
    assert item["category"] == "orders"
    assert item["title"] == "Order OJA-20001 is on its way"
    assert item["body"] == "Your order OJA-20001 has shipped with GIG Logistics (tracking GIG777)."
    assert item["data"] == SHIPPED
    assert item["read_at"] is None

    [mail] = fakes.sendgrid.messages
    assert (mail.to, mail.subject) == (ada.email, "Order OJA-20001 is on its way")
    assert mail.text == (
        "Hello Ada,\n\nYour order OJA-20001 has shipped with GIG Logistics (tracking GIG777)."
        "\n\n— Oja"
    )
    assert mail.html is not None
    assert mail.html.startswith("<p>Hello Ada,</p>")
    [sms] = fakes.twilio.messages
    assert (sms.to, sms.sender) == (ada.mobile, "+15005550006")  # type: ignore[attr-defined]
    assert sms.body == "Oja: order OJA-20001 shipped with GIG Logistics, tracking GIG777."
    assert sms.status_callback == "http://testserver/notifications/callbacks/twilio"

    rows = await deliveries(app)
    assert [(r.channel, r.status, r.attempts, r.provider) for r in rows] == [
        ("email", "sent", 1, "sendgrid"),
        ("sms", "sent", 1, "twilio"),
    ]
    assert rows[0].provider_message_id == mail.message_id
    assert rows[1].provider_message_id == sms.sid
    assert mail.custom_args == {"oja_reference": str(uuid.UUID(str(rows[0].id)))}

    # Nothing left to run, and running the sends again sends nothing.
    assert await jobs.run(app) == []
    assert len(fakes.sendgrid.messages) == 1
    assert len(fakes.twilio.messages) == 1


async def test_a_rolled_back_emitter_notifies_no_one(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    ada = await reachable(app, client)
    runtime = app.state.runtime

    async def save_order_and_fail() -> None:
        async with unit_of_work(runtime.database):
            await events.emit("order.shipped", recipient_ids=[uuid.UUID(ada.id)], **SHIPPED)
            raise RuntimeError("order not saved")

    with running(runtime), pytest.raises(RuntimeError, match="order not saved"):
        await save_order_and_fail()
    assert jobs.published == []
    assert await jobs.run(app) == []
    assert await count(app, "notification") == 0
    assert await count(app, "notification_delivery") == 0
    assert await count(app, "realtime_event") == 0
    assert await count(app, "job", "kind LIKE 'notifications.%'") == 0
    assert fakes.sendgrid.messages == []
    assert fakes.twilio.messages == []


async def test_the_events_of_one_unit_of_work_share_one_fan_out_and_one_send_job(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    """A paid two-store cart confirms two orders in one transaction: one fan-out job for both
    events and one send job for their four messages; an event with its own id keeps its job."""
    ada = await reachable(app, client)
    runtime = app.state.runtime
    keyed = uuid.uuid4()
    with running(runtime):
        async with unit_of_work(runtime.database):
            for number in ("OJA-1", "OJA-2"):
                await events.emit(
                    "order.shipped",
                    recipient_ids=[uuid.UUID(ada.id)],
                    **{**SHIPPED, "order_number": number},
                )
            await events.emit(
                "order.delivered", recipient_ids=[uuid.UUID(ada.id)], event_id=keyed, **SHIPPED
            )
    assert sorted(await jobs.run_kinds(app)) == [
        ("notifications.deliver_event", "succeeded"),
        ("notifications.deliver_events", "succeeded"),
        ("notifications.send_deliveries", "succeeded"),
        ("notifications.send_deliveries", "succeeded"),
    ]
    assert await count(app, "notification") == 3
    assert sorted(m.subject for m in fakes.sendgrid.messages) == [
        "Order OJA-1 is on its way",
        "Order OJA-2 is on its way",
        "Order OJA-20001 delivered",
    ]
    assert len(fakes.twilio.messages) == 3
    assert [r.status for r in await deliveries(app)] == ["sent"] * 6


async def _emit_twice_then_fail(app: Any, recipient_id: str) -> None:
    runtime = app.state.runtime
    with running(runtime):
        async with unit_of_work(runtime.database):
            for _ in range(2):
                await events.emit(
                    "order.shipped", recipient_ids=[uuid.UUID(recipient_id)], **SHIPPED
                )
            raise LookupError


async def test_a_rolled_back_unit_of_work_fans_out_none_of_its_events(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    ada = await reachable(app, client)
    with pytest.raises(LookupError):
        await _emit_twice_then_fail(app, ada.id)
    assert await jobs.run_kinds(app) == []
    assert await count(app, "job") == 0
    assert await count(app, "notification") == 0


async def test_the_same_event_id_notifies_once(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    ada = await reachable(app, client)
    event_id = uuid.uuid4()
    await emit(app, "order.delivered", [ada, ada], event_id=event_id, **SHIPPED)
    await emit(app, "order.delivered", [ada], event_id=event_id, **SHIPPED)
    await jobs.run(app)
    assert await count(app, "notification") == 1
    assert len(fakes.sendgrid.messages) == 1
    assert len(fakes.twilio.messages) == 1


async def test_a_worker_dead_after_the_provider_took_it_never_sends_twice(
    app: Any,
    client: httpx.AsyncClient,
    jobs: Jobs,
    fakes: Fakes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ada = await reachable(app, client)
    calls = []

    async def crash(*args: Any, **kwargs: Any) -> None:
        calls.append(args)
        raise ConnectionError("worker lost its database after the provider answered")

    monkeypatch.setattr(delivery, "mark_sent", crash)
    await emit(app, "order.shipped", [ada], **SHIPPED)
    outcomes = await jobs.run_kinds(app)
    # Each send failed once after the provider took it (stopping that attempt of the batch), and
    # its retry sent nothing: the email's second attempt sent the SMS, the third sent nothing.
    assert sorted(outcomes) == [
        ("notifications.deliver_events", "succeeded"),
        ("notifications.send_deliveries", "retrying"),
        ("notifications.send_deliveries", "retrying"),
        ("notifications.send_deliveries", "succeeded"),
    ]
    assert len(calls) == 2
    assert len(fakes.sendgrid.messages) == 1
    assert len(fakes.twilio.messages) == 1
    rows = await deliveries(app)
    assert [(r.channel, r.status, r.attempts) for r in rows] == [
        ("email", "uncertain", 1),
        ("sms", "uncertain", 1),
    ]

    # SendGrid's event names Oja's reference: it settles the uncertain email.
    [mail] = fakes.sendgrid.messages
    body = json.dumps([fakes.sendgrid.event(mail, "delivered")]).encode()
    answer = await client.post(
        "/notifications/callbacks/sendgrid",
        content=body,
        headers=fakes.sendgrid.signed_headers(body),
    )
    assert answer.json() == {"recorded": 1}
    assert [r.status for r in await deliveries(app)] == ["delivered", "uncertain"]


async def test_a_provider_that_answers_429_then_recovers_gets_the_message_once(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    ada = await reachable(app, client)
    fakes.sendgrid.fail_next(1, status=429, message="too many requests")
    fakes.twilio.fail_next(2, status=503)
    await emit(app, "order.shipped", [ada], **SHIPPED)
    outcomes = [outcome for _, outcome in await jobs.run_kinds(app)]
    # One send job for both: both refused, then the email sent and the SMS refused, then the SMS.
    assert outcomes.count("retrying") == 2
    assert len(fakes.sendgrid.messages) == 1
    assert len(fakes.twilio.messages) == 1
    rows = await deliveries(app)
    assert [(r.channel, r.status, r.attempts) for r in rows] == [
        ("email", "sent", 2),
        ("sms", "sent", 3),
    ]


async def test_a_permanent_refusal_is_recorded_and_not_retried(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    ada = await reachable(app, client)
    fakes.twilio.fail_next(1, status=400, message="The 'To' number is not a valid phone number.")
    await emit(app, "order.shipped", [ada], **SHIPPED)
    outcomes = [outcome for _, outcome in await jobs.run_kinds(app)]
    assert "retrying" not in outcomes
    rows = await deliveries(app)
    sms = rows[1]
    assert (sms.channel, sms.status, sms.attempts) == ("sms", "failed", 1)
    assert fakes.twilio.messages == []
    assert len(fakes.sendgrid.messages) == 1


async def test_a_wrong_provider_key_fails_the_delivery(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    from tests.conftest import use_settings

    use_settings(app, sendgrid_api_key="SG.wrong", twilio_auth_token="wrong")
    ada = await reachable(app, client)
    await emit(app, "order.shipped", [ada], **SHIPPED)
    await jobs.run(app)
    rows = await deliveries(app)
    assert [(r.status, r.attempts) for r in rows] == [("failed", 1), ("failed", 1)]
    assert (fakes.sendgrid.messages, fakes.twilio.messages) == ([], [])


async def test_people_without_an_address_or_account_get_what_they_can(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    from tests.marketplace.conftest import person

    emailed_only = await person(client)
    await emit(app, "order.shipped", [emailed_only], **SHIPPED)
    # An unknown recipient id is skipped.
    runtime = app.state.runtime
    with running(runtime):
        async with unit_of_work(runtime.database):
            await events.emit("order.shipped", recipient_ids=[uuid.uuid4()], **SHIPPED)
    await jobs.run(app)
    assert await count(app, "notification") == 1
    assert [(r.channel, r.status) for r in await deliveries(app)] == [("email", "sent")]
    assert fakes.twilio.messages == []


async def test_a_provider_down_for_every_attempt_ends_failed_after_the_last(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    from oja.notifications.jobs import SEND_ATTEMPTS

    ada = await reachable(app, client)
    fakes.twilio.fail_always(503, "Service Unavailable")
    try:
        await emit(app, "order.delivered", [ada], **SHIPPED)
        outcomes = [o for kind, o in await jobs.run_kinds(app) if kind.endswith("send_deliveries")]
    finally:
        fakes.twilio.reset()
    sms_outcomes = [o for o in outcomes if o != "succeeded"]
    assert sms_outcomes == ["retrying"] * (SEND_ATTEMPTS - 1) + ["failed"]
    email, sms = await deliveries(app)
    assert (email.status, sms.status, sms.attempts) == ("sent", "failed", SEND_ATTEMPTS)
    assert fakes.twilio.messages == []


async def test_the_orders_module_payload_renders_without_optional_fields(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    """What marketplace/orders emits on a status change: ids, statuses and a note, no number."""
    ada = await reachable(app, client)
    order_id = uuid.uuid4()
    await emit(
        app,
        "order.shipped",
        [ada],
        order_id=order_id,
        group_id=uuid.uuid4(),
        vendor_id=uuid.uuid4(),
        buyer_id=uuid.UUID(ada.id),
        from_status="confirmed",
        status="shipped",
        note=None,
    )
    await jobs.run(app)
    [item] = (await client.get("/notifications", headers=ada.headers)).json()["items"]
    assert (item["title"], item["body"]) == (
        f"Order {order_id} is on its way",
        f"Your order {order_id} has shipped.",
    )
    [sms] = fakes.twilio.messages
    assert sms.body == f"Oja: order {order_id} shipped."


async def test_a_fan_out_inserts_the_email_and_the_sms_in_one_statement(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    """The deliveries' rows differ in which columns are None (the SMS has no subject): one INSERT
    all the same, the Nones stored as NULL (neither column has a default)."""
    ada = await reachable(app, client)
    bola = await reachable(app, client, name="Bola")
    await emit(app, "order.shipped", [ada, bola], **SHIPPED)
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(" ".join(statement.split()[:3]))

    engine = app.state.runtime.database.engine.sync_engine
    sa_event.listen(engine, "before_cursor_execute", record)
    try:
        assert await jobs.run_kinds(app) == [
            ("notifications.deliver_events", "succeeded"),
            ("notifications.send_deliveries", "succeeded"),
        ]
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)
    assert sent.count("INSERT INTO notification_delivery") == 1
    rows = await deliveries(app)
    assert sorted((r.channel, r.address, r.subject, r.status) for r in rows) == sorted(
        [
            ("email", ada.email, "Order OJA-20001 is on its way", "sent"),
            ("email", bola.email, "Order OJA-20001 is on its way", "sent"),
            ("sms", ada.mobile, None, "sent"),  # type: ignore[attr-defined]
            ("sms", bola.mobile, None, "sent"),  # type: ignore[attr-defined]
        ]
    )
    for someone in (ada, bola):
        assert sorted((r.channel, r.send_after) for r in await deliveries_of(app, someone)) == [
            ("email", None),
            ("sms", None),
        ]
