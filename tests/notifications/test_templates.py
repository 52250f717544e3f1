"""Admin templates: overrides are used, broken or escaping templates are refused with 422, and only
admins reach the routes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Jobs
from tests.marketplace.conftest import admin, count, error_code
from tests.notifications.conftest import SHIPPED, Fakes, emit, reachable

PATH = "/admin/notification-templates/order.shipped/email"


async def test_an_override_is_used_for_the_next_notifications(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    boss, ada = await admin(app, client), await reachable(app, client)
    default = await client.get(PATH, headers=boss.headers)
    assert default.status_code == 200
    assert default.json()["customised"] is False
    assert default.json()["subject"] == "Order {{ order_number|default(order_id) }} is on its way"
    assert "tracking_number" in default.json()["variables"]

    saved = await client.put(
        PATH,
        json={
            "subject": "Shipped: {{ order_number|upper }}",
            "body": "{% if tracking_number %}Track {{ tracking_number }}.{% endif %} "
            "Thanks, {{ recipient_name }}.",
        },
        headers=boss.headers,
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["customised"] is True
    assert (await client.get(PATH, headers=boss.headers)).json()["subject"] == (
        "Shipped: {{ order_number|upper }}"
    )

    await emit(app, "order.shipped", [ada], **{**SHIPPED, "order_number": "oja-5"})
    await jobs.run(app)
    [mail] = fakes.sendgrid.messages
    assert (mail.subject, mail.text) == ("Shipped: OJA-5", "Track GIG777. Thanks, Ada.")
    listed = await client.get("/admin/notification-templates", headers=boss.headers)
    customised = [t for t in listed.json() if t["customised"]]
    assert [(t["event"], t["channel"], t["locale"]) for t in customised] == [
        ("order.shipped", "email", "en")
    ]


@pytest.mark.parametrize(
    ("subject", "body", "why"),
    [
        ("Hi", "Your order {{ order_numbr }} shipped", "unknown variables order_numbr"),
        (
            "Hi",
            "{{ ''.__class__.__mro__ }}",
            "access to attribute '__class__' of 'str' object is unsafe",
        ),
        ("Hi", "{{ carrier.__class__.__init__.__globals__ }}", "is unsafe"),
        ("Hi", "{{ carrier['__class__'] }}", "is unsafe"),
        ("Hi", "{{ cycler.__init__.__globals__.os }}", "unknown variables cycler"),
        ("Hi", "{% for x in range(10) %}{{ x }}{% endfor %}", "For is not allowed"),
        ("Hi", "{{ 'a' * 100000000 }}", "is not allowed"),
        ("Hi", "{{ carrier|format('x') }}", "filter 'format' is not allowed"),
        ("Hi", "{% set x = 1 %}{{ x }}", "Assign is not allowed"),
        ("Hi", "{{ order_number", "does not render"),
        ("Hi", "{{ order_number.upper() }}", "only money(amount, currency) may be called"),
        ("{{ nope }}", "Fine {{ order_number }}", "unknown variables nope"),
        (None, "No subject {{ order_number }}", "needs a subject"),
    ],
)
async def test_a_broken_or_escaping_template_is_refused_and_nothing_is_stored(
    app: Any, client: httpx.AsyncClient, subject: str | None, body: str, why: str
) -> None:
    boss = await admin(app, client)
    answer = await client.put(PATH, json={"subject": subject, "body": body}, headers=boss.headers)
    assert answer.status_code == 422, answer.text
    assert error_code(answer) == "notification_template_invalid"
    assert why in answer.json()["error"]["message"]
    assert await count(app, "notification_template") == 0


async def test_an_sms_template_has_no_subject_and_unknown_events_are_not_found(
    app: Any, client: httpx.AsyncClient
) -> None:
    boss = await admin(app, client)
    sms = "/admin/notification-templates/order.shipped/sms"
    refused = await client.put(sms, json={"subject": "x", "body": "Hi"}, headers=boss.headers)
    assert (refused.status_code, error_code(refused)) == (422, "notification_template_invalid")
    saved = await client.put(sms, json={"body": "{{ order_number }} shipped"}, headers=boss.headers)
    assert saved.status_code == 200
    unknown = await client.get(
        "/admin/notification-templates/order.teleported/email", headers=boss.headers
    )
    assert (unknown.status_code, error_code(unknown)) == (404, "notification_template_not_found")
    no_sms = await client.get(
        "/admin/notification-templates/order.canceled/sms", headers=boss.headers
    )
    assert (no_sms.status_code, error_code(no_sms)) == (404, "notification_template_not_found")
    bad_channel = await client.get(
        "/admin/notification-templates/order.shipped/fax", headers=boss.headers
    )
    assert bad_channel.status_code == 422


async def test_only_admins_reach_the_template_routes(app: Any, client: httpx.AsyncClient) -> None:
    ada = await reachable(app, client)
    body = {"subject": "x {{ order_number }}", "body": "y"}
    for headers, status in (({}, 401), (ada.headers, 403)):
        assert (
            await client.get("/admin/notification-templates", headers=headers)
        ).status_code == status
        assert (await client.get(PATH, headers=headers)).status_code == status
        assert (await client.put(PATH, json=body, headers=headers)).status_code == status
    assert await count(app, "notification_template") == 0
