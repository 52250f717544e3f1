"""Password recovery by mobile OTP and by emailed link; unknown accounts answer identically."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from oja.identity.models import OneTimeToken
from oja.identity.sessions.models import AuthSession
from oja.sandbox.server import SandboxServer
from oja.sandbox.sms import TermiiFake
from oja.sandbox.smtp import SmtpCapture
from tests.identity.conftest import PASSWORD, bearer, count_rows, execute, login, signup
from tests.identity.support import (
    code_in,
    install_clock,
    token_in,
    use_identity_settings,
    use_smtp,
    use_termii,
)

MOBILE = "+2348031234567"
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def smtp() -> Iterator[SmtpCapture]:
    with SmtpCapture() as capture:
        yield capture


@pytest.fixture
def termii() -> Iterator[tuple[TermiiFake, str]]:
    fake = TermiiFake()
    with SandboxServer(fake.app) as server:
        yield fake, server.url


async def revoked_sessions(app: Any) -> list[str | None]:
    rows = await execute(app, select(AuthSession.revoked_reason).order_by(AuthSession.created_at))
    return [r.revoked_reason for r in rows]


async def test_reset_by_mobile_otp_signs_out_every_session(
    client: httpx.AsyncClient, app: Any
) -> None:
    await signup(client, mobile=MOBILE, password=PASSWORD)
    first = await login(client, mobile=MOBILE)
    await login(client, mobile=MOBILE)
    forgot = await client.post("/auth/forgot-password", json={"mobile": "08031234567"})
    assert forgot.status_code == 200
    body = forgot.json()
    assert set(body) == {"message", "otp", "expires_in"}
    assert body["expires_in"] == 300

    wrong = await client.post(
        "/auth/reset-password",
        json={
            "mobile": MOBILE,
            "otp": "000000" if body["otp"] != "000000" else "111111",
            "new_password": NEW_PASSWORD,
        },
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "invalid_one_time_code"
    assert wrong.json()["error"]["details"] == {"attempts_left": 4}

    reset = await client.post(
        "/auth/reset-password",
        json={"mobile": MOBILE, "otp": body["otp"], "new_password": NEW_PASSWORD},
    )
    assert reset.status_code == 200
    assert reset.json()["message"].startswith("Your password has been changed")
    assert await revoked_sessions(app) == ["password_reset", "password_reset"]
    assert (await client.get("/user/me", headers=bearer(first["access_token"]))).status_code == 401
    old = await client.post("/auth/login", json={"mobile": MOBILE, "password": PASSWORD})
    assert old.status_code == 401
    pair = await login(client, password=NEW_PASSWORD, mobile=MOBILE)
    me = (await client.get("/user/me", headers=bearer(pair["access_token"]))).json()
    assert me["mobile_verified"] is True
    # The code worked once.
    again = await client.post(
        "/auth/reset-password",
        json={"mobile": MOBILE, "otp": body["otp"], "new_password": "yet another passphrase"},
    )
    assert again.status_code == 400


async def test_a_login_otp_cannot_reset_a_password(client: httpx.AsyncClient) -> None:
    await signup(client, mobile=MOBILE, password=PASSWORD)
    code = (await client.post("/auth/send-otp", json={"mobile": MOBILE})).json()["otp"]
    reset = await client.post(
        "/auth/reset-password", json={"mobile": MOBILE, "otp": code, "new_password": NEW_PASSWORD}
    )
    assert reset.status_code == 400
    await login(client, mobile=MOBILE)  # the password is unchanged


async def test_unknown_mobile_answers_like_a_known_one(
    client: httpx.AsyncClient, app: Any, termii: tuple[TermiiFake, str]
) -> None:
    fake, url = termii
    use_identity_settings(app, otp_in_response=False)
    use_termii(app, url)
    await signup(client, mobile=MOBILE, password=PASSWORD)
    known = await client.post("/auth/forgot-password", json={"mobile": MOBILE})
    unknown = await client.post("/auth/forgot-password", json={"mobile": "+2348059876543"})
    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json()
    assert known.json() == {
        "message": "If an account matches, it has been sent a way to reset its password.",
        "expires_in": 300,
    }
    (sms,) = fake.messages  # only the real account got a text
    assert sms.to == MOBILE.removeprefix("+")
    reset = await client.post(
        "/auth/reset-password",
        json={"mobile": MOBILE, "otp": code_in(sms.text), "new_password": NEW_PASSWORD},
    )
    assert reset.status_code == 200
    assert await count_rows(app, "user") == 1


async def test_unknown_mobile_in_mocked_mode_gets_a_code_that_works_nowhere(
    client: httpx.AsyncClient, app: Any
) -> None:
    unknown = await client.post("/auth/forgot-password", json={"mobile": "+2348059876543"})
    assert set(unknown.json()) == {"message", "otp", "expires_in"}
    reset = await client.post(
        "/auth/reset-password",
        json={
            "mobile": "+2348059876543",
            "otp": unknown.json()["otp"],
            "new_password": NEW_PASSWORD,
        },
    )
    assert reset.status_code == 400
    assert await count_rows(app, "user") == 0
    assert await count_rows(app, "otp_code") == 0


async def test_reset_by_email_link(client: httpx.AsyncClient, app: Any, smtp: SmtpCapture) -> None:
    use_smtp(app, smtp.port)
    user = await signup(client, email="ada@example.com")
    session = await login(client, email="ada@example.com")
    forgot = await client.post("/auth/forgot-password", json={"email": "ADA@example.com"})
    unknown = await client.post("/auth/forgot-password", json={"email": "ghost@example.com"})
    assert forgot.status_code == unknown.status_code == 200
    assert forgot.json() == unknown.json()
    assert forgot.json() == {
        "message": "If an account matches, it has been sent a way to reset its password.",
        "expires_in": 1800,
    }
    (mail,) = smtp.messages  # nothing went to the unknown address
    assert mail.rcpt_tos == ("ada@example.com",)
    assert mail.subject == "Reset your Oja password"
    token = token_in(mail.text or "")
    assert len(token) >= 43  # 256 bits
    (stored,) = await execute(app, select(OneTimeToken.token_hash, OneTimeToken.purpose))
    assert stored.purpose == "password_reset"
    assert token not in stored.token_hash

    reset = await client.post(
        "/auth/reset-password", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert reset.status_code == 200
    assert await revoked_sessions(app) == ["password_reset"]
    assert (
        await client.get("/user/me", headers=bearer(session["access_token"]))
    ).status_code == 401
    pair = await login(client, password=NEW_PASSWORD, email="ada@example.com")
    me = (await client.get("/user/me", headers=bearer(pair["access_token"]))).json()
    assert me["id"] == user["id"]
    assert me["email_verified"] is True
    replay = await client.post(
        "/auth/reset-password", json={"token": token, "new_password": "yet another passphrase"}
    )
    assert replay.status_code == 400
    assert replay.json()["error"]["code"] == "invalid_one_time_code"


async def test_a_reset_link_expires_after_thirty_minutes(
    client: httpx.AsyncClient, app: Any, smtp: SmtpCapture
) -> None:
    use_smtp(app, smtp.port)
    clock = install_clock(app)
    await signup(client, email="ada@example.com")
    await client.post("/auth/forgot-password", json={"email": "ada@example.com"})
    token = token_in(smtp.messages[0].text or "")
    clock.shift(1801)
    late = await client.post(
        "/auth/reset-password", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert late.status_code == 400
    await login(client, email="ada@example.com")


async def test_a_new_link_kills_the_previous_one(
    client: httpx.AsyncClient, app: Any, smtp: SmtpCapture
) -> None:
    use_smtp(app, smtp.port)
    await signup(client, email="ada@example.com")
    await client.post("/auth/forgot-password", json={"email": "ada@example.com"})
    await client.post("/auth/forgot-password", json={"email": "ada@example.com"})
    first, second = (token_in(m.text or "") for m in smtp.messages)
    old = await client.post(
        "/auth/reset-password", json={"token": first, "new_password": NEW_PASSWORD}
    )
    assert old.status_code == 400
    new = await client.post(
        "/auth/reset-password", json={"token": second, "new_password": NEW_PASSWORD}
    )
    assert new.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"mobile": MOBILE, "email": "ada@example.com"},
        {"email": "not-an-email"},
    ],
)
async def test_forgot_password_validation(client: httpx.AsyncClient, body: Any) -> None:
    response = await client.post("/auth/forgot-password", json=body)
    assert response.status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"new_password": NEW_PASSWORD},
        {"mobile": MOBILE, "new_password": NEW_PASSWORD},
        {"token": "x" * 43, "otp": "123456", "new_password": NEW_PASSWORD},
        {"token": "x" * 43, "new_password": "short"},
    ],
)
async def test_reset_password_validation(client: httpx.AsyncClient, body: Any) -> None:
    response = await client.post("/auth/reset-password", json=body)
    assert response.status_code == 422


async def test_forgot_password_shares_the_send_budget(client: httpx.AsyncClient) -> None:
    for _ in range(5):
        ok = await client.post("/auth/forgot-password", json={"email": "ghost@example.com"})
        assert ok.status_code == 200
    refused = await client.post("/auth/forgot-password", json={"email": "ghost@example.com"})
    assert refused.status_code == 429
    assert "retry-after" in refused.headers
