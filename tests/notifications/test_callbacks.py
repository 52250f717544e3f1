"""Provider delivery-status callbacks: signed ones are recorded on the delivery row, monotonically;
unsigned or forged ones change nothing."""

from __future__ import annotations

import json
from typing import Any

import httpx

from oja.sandbox.twilio import signature
from tests.conftest import Jobs
from tests.marketplace.conftest import error_code
from tests.notifications.conftest import (
    SHIPPED,
    TWILIO_CALLBACK,
    Fakes,
    deliveries,
    emit,
    reachable,
)

TWILIO = "/notifications/callbacks/twilio"
SENDGRID = "/notifications/callbacks/sendgrid"


async def _sent(app: Any, client: httpx.AsyncClient, jobs: Jobs) -> None:
    ada = await reachable(app, client)
    await emit(app, "order.shipped", [ada], **SHIPPED)
    await jobs.run(app)


def _twilio_form(fakes: Fakes, status: str, **extra: str) -> dict[str, str]:
    [sms] = fakes.twilio.messages
    return {
        "MessageSid": sms.sid,
        "MessageStatus": status,
        "AccountSid": fakes.twilio.account_sid,
        "From": sms.sender,
        "To": sms.to,
        **extra,
    }


async def _post_twilio(
    client: httpx.AsyncClient, form: dict[str, str], token: str
) -> httpx.Response:
    headers = {"X-Twilio-Signature": signature(token, TWILIO_CALLBACK, form)}
    return await client.post(TWILIO, data=form, headers=headers)


async def test_a_signed_twilio_callback_moves_the_delivery_forward_only(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    await _sent(app, client, jobs)
    token = fakes.twilio.auth_token
    delivered = await _post_twilio(client, _twilio_form(fakes, "delivered"), token)
    assert (delivered.status_code, delivered.json()) == (200, {"recorded": 1})
    sms = (await deliveries(app))[1]
    assert (sms.status, sms.provider_status) == ("delivered", "delivered")

    # A late "sent" and a repeated "delivered" change nothing.
    late = await _post_twilio(client, _twilio_form(fakes, "sent"), token)
    assert late.json() == {"recorded": 0}
    again = await _post_twilio(client, _twilio_form(fakes, "delivered"), token)
    assert again.json() == {"recorded": 0}
    assert (await deliveries(app))[1].status == "delivered"


async def test_an_undelivered_sms_is_recorded_failed(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    await _sent(app, client, jobs)
    form = _twilio_form(fakes, "undelivered", ErrorCode="30003")
    answer = await _post_twilio(client, form, fakes.twilio.auth_token)
    assert answer.json() == {"recorded": 1}
    sms = (await deliveries(app))[1]
    assert (sms.status, sms.provider_status) == ("failed", "undelivered")


async def test_a_forged_or_unsigned_twilio_callback_is_refused(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    await _sent(app, client, jobs)
    form = _twilio_form(fakes, "failed")
    forged = await _post_twilio(client, form, "not-the-auth-token")
    assert (forged.status_code, error_code(forged)) == (403, "callback_signature_invalid")
    unsigned = await client.post(TWILIO, data=form)
    assert unsigned.status_code == 403
    # A signature over other parameters does not cover these.
    signed_other = signature(
        fakes.twilio.auth_token, TWILIO_CALLBACK, {**form, "MessageStatus": "sent"}
    )
    tampered = await client.post(TWILIO, data=form, headers={"X-Twilio-Signature": signed_other})
    assert tampered.status_code == 403
    assert (await deliveries(app))[1].status == "sent"


async def test_a_signed_sendgrid_batch_is_recorded_and_duplicates_change_nothing(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    await _sent(app, client, jobs)
    [mail] = fakes.sendgrid.messages
    batch = [
        fakes.sendgrid.event(mail, "processed"),
        fakes.sendgrid.event(mail, "delivered"),
        fakes.sendgrid.event(mail, "delivered"),
        fakes.sendgrid.event(mail, "open"),
        {"event": "delivered", "sg_message_id": "unknown.filter", "email": "x@example.com"},
    ]
    body = json.dumps(batch).encode()
    answer = await client.post(SENDGRID, content=body, headers=fakes.sendgrid.signed_headers(body))
    assert (answer.status_code, answer.json()) == (200, {"recorded": 1})
    email = (await deliveries(app))[0]
    assert (email.status, email.provider_status) == ("delivered", "delivered")


async def test_a_bounce_found_by_message_id_alone_fails_the_delivery(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    await _sent(app, client, jobs)
    [mail] = fakes.sendgrid.messages
    event = fakes.sendgrid.event(mail, "bounce", reason="550 mailbox unavailable")
    event.pop("oja_reference")
    body = json.dumps([event]).encode()
    answer = await client.post(SENDGRID, content=body, headers=fakes.sendgrid.signed_headers(body))
    assert answer.json() == {"recorded": 1}
    email = (await deliveries(app))[0]
    assert (email.status, email.provider_status) == ("failed", "bounce")


async def test_a_forged_or_unsigned_sendgrid_batch_is_refused(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    await _sent(app, client, jobs)
    [mail] = fakes.sendgrid.messages
    body = json.dumps([fakes.sendgrid.event(mail, "bounce")]).encode()
    headers = fakes.sendgrid.signed_headers(body)
    tampered = body.replace(b"bounce", b"bounce ")
    for content, sent_headers in (
        (body, {}),
        (tampered, headers),
        (body, {**headers, "X-Twilio-Email-Event-Webhook-Timestamp": "1"}),
        (body, {**headers, "X-Twilio-Email-Event-Webhook-Signature": "bm90IGEgc2lnbmF0dXJl"}),
        (body, {**headers, "X-Twilio-Email-Event-Webhook-Signature": "%%%"}),
    ):
        answer = await client.post(SENDGRID, content=content, headers=sent_headers)
        assert (answer.status_code, error_code(answer)) == (403, "callback_signature_invalid")
    assert (await deliveries(app))[0].status == "sent"


async def test_callbacks_are_refused_when_the_provider_is_not_configured(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.post(TWILIO, data={"MessageSid": "SMx"})).status_code == 403
    assert (await client.post(SENDGRID, content=b"[]")).status_code == 403
