"""Email verification by link, phone verification by OTP, and the flags on /user/me."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from oja.sandbox.smtp import SmtpCapture
from tests.identity.conftest import bearer, count_rows, signup, user_with_token
from tests.identity.support import install_clock, token_in, use_smtp


@pytest.fixture
def smtp() -> Iterator[SmtpCapture]:
    with SmtpCapture() as capture:
        yield capture


async def me(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    response = await client.get("/user/me", headers=bearer(token))
    assert response.status_code == 200
    return dict(response.json())


async def test_email_verification_by_link(
    client: httpx.AsyncClient, app: Any, smtp: SmtpCapture
) -> None:
    use_smtp(app, smtp.port)
    user, pair = await user_with_token(client)
    token = pair["access_token"]
    assert (await me(client, token))["email_verified"] is False
    sent = await client.post("/auth/verify/email/request", headers=bearer(token))
    assert sent.status_code == 200
    assert sent.json() == {
        "message": "We sent a verification link to your email address.",
        "expires_in": 86400,
    }
    (mail,) = smtp.messages
    assert mail.rcpt_tos == (user["email"],)
    link_token = token_in(mail.text or "")
    confirmed = await client.post("/auth/verify/email/confirm", json={"token": link_token})
    assert confirmed.status_code == 200
    assert confirmed.json() == {
        "user_id": user["id"],
        "email_verified": True,
        "mobile_verified": False,
    }
    profile = await me(client, token)
    assert profile["email_verified"] is True
    assert profile["email_verified_at"] is not None
    replay = await client.post("/auth/verify/email/confirm", json={"token": link_token})
    assert replay.status_code == 400
    assert replay.json()["error"]["code"] == "invalid_one_time_code"


async def test_email_verification_needs_a_login_and_a_valid_token(
    client: httpx.AsyncClient, app: Any
) -> None:
    assert (await client.post("/auth/verify/email/request")).status_code == 401
    bogus = await client.post("/auth/verify/email/confirm", json={"token": "y" * 43})
    assert bogus.status_code == 400


async def test_an_expired_email_link_verifies_nothing(
    client: httpx.AsyncClient, app: Any, smtp: SmtpCapture
) -> None:
    use_smtp(app, smtp.port)
    clock = install_clock(app)
    _, pair = await user_with_token(client)
    await client.post("/auth/verify/email/request", headers=bearer(pair["access_token"]))
    clock.shift(86401)
    late = await client.post(
        "/auth/verify/email/confirm", json={"token": token_in(smtp.messages[0].text or "")}
    )
    assert late.status_code == 400
    assert (await me(client, pair["access_token"]))["email_verified"] is False


async def test_phone_verification_by_otp(client: httpx.AsyncClient, app: Any) -> None:
    await signup(client, email="p@example.com", mobile="+2348031234567")
    pair = (
        await client.post(
            "/auth/login", json={"email": "p@example.com", "password": "correct horse battery"}
        )
    ).json()
    token = pair["access_token"]
    sent = await client.post("/auth/verify/phone/request", headers=bearer(token))
    assert sent.status_code == 200
    body = sent.json()
    assert body["message"] == "We sent a verification code to your mobile number."
    wrong = "000000" if body["otp"] != "000000" else "111111"
    refused = await client.post(
        "/auth/verify/phone/confirm", json={"otp": wrong}, headers=bearer(token)
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["details"] == {"attempts_left": 4}
    ok = await client.post(
        "/auth/verify/phone/confirm", json={"otp": body["otp"]}, headers=bearer(token)
    )
    assert ok.status_code == 200
    assert ok.json()["mobile_verified"] is True
    assert (await me(client, token))["mobile_verified"] is True
    # A verify_phone code is no login code.
    login = await client.post(
        "/auth/verify-otp", json={"mobile": "+2348031234567", "otp": body["otp"]}
    )
    assert login.status_code == 401


async def test_phone_verification_adds_a_number_to_an_account_without_one(
    client: httpx.AsyncClient, app: Any
) -> None:
    _, pair = await user_with_token(client)
    token = pair["access_token"]
    missing = await client.post("/auth/verify/phone/request", headers=bearer(token))
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "no_mobile"
    sent = await client.post(
        "/auth/verify/phone/request", json={"mobile": "08059876543"}, headers=bearer(token)
    )
    assert sent.status_code == 200
    assert (await me(client, token))["mobile"] is None  # not until confirmed
    ok = await client.post(
        "/auth/verify/phone/confirm", json={"otp": sent.json()["otp"]}, headers=bearer(token)
    )
    assert ok.status_code == 200
    profile = await me(client, token)
    assert profile["mobile"] == "+2348059876543"
    assert profile["mobile_verified"] is True


async def test_a_number_taken_meanwhile_is_a_conflict(client: httpx.AsyncClient, app: Any) -> None:
    _, pair = await user_with_token(client)
    token = pair["access_token"]
    sent = await client.post(
        "/auth/verify/phone/request", json={"mobile": "+2348059876543"}, headers=bearer(token)
    )
    await signup(client, mobile="+2348059876543")
    conflict = await client.post(
        "/auth/verify/phone/confirm", json={"otp": sent.json()["otp"]}, headers=bearer(token)
    )
    assert conflict.status_code == 409
    assert (await me(client, token))["mobile"] is None
    assert await count_rows(app, "user") == 2
