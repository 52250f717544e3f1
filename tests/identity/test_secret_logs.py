"""OTPs, link tokens, TOTP secrets and recovery codes never reach the logs."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from oja.sandbox.smtp import SmtpCapture

from .conftest import bearer, user_with_token
from .support import install_clock, token_in, totp_now, use_smtp


@pytest.fixture
def smtp() -> Iterator[SmtpCapture]:
    with SmtpCapture() as capture:
        yield capture


async def test_new_flows_log_no_secret(
    client: httpx.AsyncClient, app: Any, smtp: SmtpCapture, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    root = logging.getLogger()
    rendered = io.StringIO()
    handler = logging.StreamHandler(rendered)
    handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    use_smtp(app, smtp.port)
    clock = install_clock(app)
    secrets: list[str] = []
    try:
        mobile = "+2348031234567"
        code = (await client.post("/auth/send-otp", json={"mobile": mobile})).json()["otp"]
        secrets.append(code)
        await client.post("/auth/verify-otp", json={"mobile": mobile, "otp": "999999"})
        await client.post("/auth/verify-otp", json={"mobile": mobile, "otp": code})
        user, pair = await user_with_token(client)
        await client.post("/auth/forgot-password", json={"email": user["email"]})
        secrets.append(token_in(smtp.messages[-1].text or ""))
        headers = bearer(pair["access_token"])
        setup = (await client.post("/auth/mfa/setup", headers=headers)).json()
        secrets.append(setup["secret"])
        totp = totp_now(setup["secret"], clock.now)
        enabled = await client.post("/auth/mfa/enable", json={"code": totp}, headers=headers)
        secrets += enabled.json()["recovery_codes"]
        clock.shift(30)
        challenge = (
            await client.post(
                "/auth/login", json={"email": user["email"], "password": "correct horse battery"}
            )
        ).json()
        secrets.append(challenge["mfa_token"])
        verified = await client.post(
            "/auth/mfa/verify",
            json={
                "mfa_token": challenge["mfa_token"],
                "recovery_code": enabled.json()["recovery_codes"][0],
            },
        )
        assert verified.status_code == 200
    finally:
        root.removeHandler(handler)
    output = rendered.getvalue() + caplog.text
    assert "identity.login.mfa_required" in output
    assert "identity.mfa.recovery_code_used" in output
    # Bounded match: a 6-digit code could otherwise turn up inside a timestamp by chance.
    leaked = [
        s for s in secrets if re.search(rf"(?<![0-9A-Za-z]){re.escape(s)}(?![0-9A-Za-z])", output)
    ]
    assert leaked == []
