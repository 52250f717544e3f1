"""The SendGrid and Twilio fakes call back over real HTTP, signed as Oja verifies."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import SecretStr

from oja.channels.config import ChannelSettings
from oja.notifications import callbacks
from oja.notifications.errors import CallbackSignatureInvalid
from oja.sandbox.sendgrid import SendGridFake
from oja.sandbox.server import SandboxServer
from oja.sandbox.twilio import TwilioFake


def _capture() -> tuple[FastAPI, list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> dict[str, bool]:
        received.append({"headers": dict(request.headers), "body": await request.body()})
        return {"ok": True}

    return app, received


async def test_twilio_status_callbacks_carry_a_signature_oja_accepts() -> None:
    fake = TwilioFake()
    app, received = _capture()
    with SandboxServer(fake.app) as api, SandboxServer(app) as hook:
        url = hook.url + "/hook"
        auth = (fake.account_sid, fake.auth_token)
        async with httpx.AsyncClient(auth=auth) as client:
            created = await client.post(
                f"{api.url}/2010-04-01/Accounts/{fake.account_sid}/Messages.json",
                data={
                    "To": "+2348012345678",
                    "From": "+15005550006",
                    "Body": "Hi",
                    "StatusCallback": url,
                },
            )
        assert created.status_code == 201
        sid = created.json()["sid"]
        assert await fake.send_status(sid, "delivered") == 200
    [call] = received
    params = dict(httpx.QueryParams(call["body"].decode()))
    assert (params["MessageSid"], params["MessageStatus"]) == (sid, "delivered")
    settings = ChannelSettings(twilio_auth_token=SecretStr(fake.auth_token))
    callbacks.verify_twilio(settings, url, params, call["headers"]["x-twilio-signature"])
    with pytest.raises(CallbackSignatureInvalid):
        callbacks.verify_twilio(
            settings, url + "?x=1", params, call["headers"]["x-twilio-signature"]
        )


async def test_sendgrid_event_batches_carry_a_signature_oja_accepts() -> None:
    app, received = _capture()
    with SandboxServer(app) as hook:
        fake = SendGridFake(webhook_url=hook.url + "/hook")
        with SandboxServer(fake.app) as api:
            async with httpx.AsyncClient() as client:
                sent = await client.post(
                    f"{api.url}/v3/mail/send",
                    headers={"Authorization": f"Bearer {fake.api_key}"},
                    json={
                        "personalizations": [{"to": [{"email": "ada@example.com"}]}],
                        "from": {"email": "no-reply@oja.ng"},
                        "subject": "Hi",
                        "content": [{"type": "text/plain", "value": "Hello"}],
                    },
                )
                refused = await client.post(
                    f"{api.url}/v3/mail/send",
                    headers={"Authorization": f"Bearer {fake.api_key}"},
                    json={"personalizations": [], "from": {"email": "no-reply@oja.ng"}},
                )
            assert (sent.status_code, sent.content) == (202, b"")
            assert sent.headers["x-message-id"] == fake.messages[0].message_id
            assert refused.status_code == 400
            assert refused.json()["errors"][0]["field"] == "personalizations"
            assert await fake.deliver_events([fake.event(fake.messages[0], "delivered")]) == 200
    [call] = received
    headers = call["headers"]
    settings = ChannelSettings(sendgrid_webhook_public_key=fake.public_key)
    callbacks.verify_sendgrid(
        settings,
        headers["x-twilio-email-event-webhook-timestamp"],
        call["body"],
        headers["x-twilio-email-event-webhook-signature"],
    )
    with pytest.raises(CallbackSignatureInvalid):
        callbacks.verify_sendgrid(
            settings,
            headers["x-twilio-email-event-webhook-timestamp"],
            call["body"] + b" ",
            headers["x-twilio-email-event-webhook-signature"],
        )
