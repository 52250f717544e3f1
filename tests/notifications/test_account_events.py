"""Identity's account events reach the account's owner, whatever their opt-outs: a password
changed or reset, a sign-in from a new device, two-step sign-in turned on or off."""

from __future__ import annotations

from typing import Any

import httpx
import pyotp

from tests.conftest import Jobs
from tests.marketplace.conftest import PASSWORD
from tests.notifications.conftest import Fakes, reachable


async def _inbox(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    page = (await client.get("/notifications", headers=headers)).json()
    return [item["event"] for item in page["items"]]


async def test_a_password_change_is_told_by_email_and_sms_even_when_opted_out(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    ada = await reachable(app, client)
    off = [{"category": "account", "channel": c, "enabled": False} for c in ("email", "sms")]
    await client.put("/notifications/preferences", json={"preferences": off}, headers=ada.headers)
    changed = await client.post(
        "/auth/change-password",
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        headers=ada.headers,
    )
    assert changed.status_code == 200, changed.text
    await jobs.run(app)
    assert await _inbox(client, ada.headers) == ["account.password_changed"]
    [mail] = fakes.sendgrid.messages
    assert (mail.to, mail.subject) == (ada.email, "Your password was changed")
    assert "List-Unsubscribe" not in mail.headers  # a security message is not marketing
    [sms] = fakes.twilio.messages
    assert sms.body == "Oja: your password was changed. Not you? Reset it now."


async def test_a_sign_in_from_a_new_device_is_told_and_a_known_one_is_not(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    ada = await reachable(app, client)  # its first sign-in: nothing to compare with
    again = await client.post("/auth/login", json={"email": ada.email, "password": PASSWORD})
    assert again.status_code == 200
    await jobs.run(app)
    assert await _inbox(client, ada.headers) == []
    assert fakes.sendgrid.messages == []

    elsewhere = await client.post(
        "/auth/login",
        json={"email": ada.email, "password": PASSWORD},
        headers={"User-Agent": "SomeOtherPhone/1.0"},
    )
    assert elsewhere.status_code == 200
    await jobs.run(app)
    assert await _inbox(client, ada.headers) == ["account.signed_in"]
    [mail] = fakes.sendgrid.messages
    assert mail.subject == "New sign-in to your account"
    assert "127.0.0.1" in mail.text
    # The same device again: known now.
    await client.post(
        "/auth/login",
        json={"email": ada.email, "password": PASSWORD},
        headers={"User-Agent": "SomeOtherPhone/1.0"},
    )
    await jobs.run(app)
    assert await _inbox(client, ada.headers) == ["account.signed_in"]


async def test_turning_two_step_sign_in_on_is_told(
    app: Any, client: httpx.AsyncClient, jobs: Jobs, fakes: Fakes
) -> None:
    ada = await reachable(app, client)
    setup = await client.post("/auth/mfa/setup", headers=ada.headers)
    assert setup.status_code == 200, setup.text
    code = pyotp.TOTP(setup.json()["secret"]).now()
    enabled = await client.post("/auth/mfa/enable", json={"code": code}, headers=ada.headers)
    assert enabled.status_code == 200, enabled.text
    await jobs.run(app)
    assert await _inbox(client, ada.headers) == ["account.mfa_changed"]
    [mail] = fakes.sendgrid.messages
    assert mail.subject == "Two-step sign-in was turned on"
