"""Phone OTP login: send, verify, resend, expiry, attempt cap, races, budgets, SMS delivery."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from oja.identity.models import User
from oja.identity.otp.models import OtpCode
from oja.sandbox.server import SandboxServer
from oja.sandbox.sms import TermiiFake
from tests.identity.conftest import (
    PASSWORD,
    bearer,
    client_from,
    count_rows,
    execute,
    login,
    signup,
)
from tests.identity.support import code_in, install_clock, use_identity_settings, use_termii

MOBILE = "+2348031234567"


@pytest.fixture
def termii() -> Iterator[tuple[TermiiFake, str]]:
    fake = TermiiFake()
    with SandboxServer(fake.app) as server:
        yield fake, server.url


async def send(client: httpx.AsyncClient, mobile: str = MOBILE) -> str:
    response = await client.post("/auth/send-otp", json={"mobile": mobile})
    assert response.status_code == 200, response.text
    return str(response.json()["otp"])


async def otp_rows(app: Any) -> list[Any]:
    return list(
        await execute(
            app,
            select(
                OtpCode.purpose,
                OtpCode.mobile,
                OtpCode.code_hash,
                OtpCode.attempts,
                OtpCode.consumed_at,
            ),
        )
    )


async def test_send_then_verify_creates_a_mobile_only_user(
    client: httpx.AsyncClient, app: Any
) -> None:
    response = await client.post("/auth/send-otp", json={"mobile": "0803 123 4567"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"message", "otp", "expires_in"}
    assert body["expires_in"] == 300
    assert len(body["otp"]) == 6
    assert body["otp"].isdigit()
    (row,) = await otp_rows(app)
    assert row.purpose == "login"
    assert row.mobile == MOBILE
    assert body["otp"] not in row.code_hash
    assert len(row.code_hash) == 64
    assert await count_rows(app, "user") == 0  # sending creates nothing

    verified = await client.post("/auth/verify-otp", json={"mobile": MOBILE, "otp": body["otp"]})
    assert verified.status_code == 200
    pair = verified.json()
    assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
    assert pair["token_type"] == "bearer"
    me = (await client.get("/user/me", headers=bearer(pair["access_token"]))).json()
    assert me["mobile"] == MOBILE
    assert me["email"] is None
    assert me["has_password"] is False
    assert me["mobile_verified"] is True
    assert me["email_verified"] is False
    assert me["roles"] == ["buyer"]
    assert await count_rows(app, "user") == 1
    assert await count_rows(app, "session") == 1

    # The code is spent: a second use is refused and creates no session.
    again = await client.post("/auth/verify-otp", json={"mobile": MOBILE, "otp": body["otp"]})
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "invalid_otp"
    assert again.headers["www-authenticate"] == "Bearer"
    assert await count_rows(app, "session") == 1


async def test_verify_logs_in_an_existing_user_and_marks_the_mobile_verified(
    client: httpx.AsyncClient, app: Any
) -> None:
    user = await signup(client, mobile=MOBILE, email="m@example.com")
    assert user["mobile_verified"] is False
    code = await send(client)
    pair = (await client.post("/auth/verify-otp", json={"mobile": MOBILE, "otp": code})).json()
    me = (await client.get("/user/me", headers=bearer(pair["access_token"]))).json()
    assert me["id"] == user["id"]
    assert me["mobile_verified"] is True
    assert me["has_password"] is True
    assert await count_rows(app, "user") == 1


async def test_resend_replaces_the_previous_code(client: httpx.AsyncClient, app: Any) -> None:
    first = await send(client)
    second = await send(client)
    while second == first:  # one chance in a million
        second = await send(client)
    assert len(await otp_rows(app)) == 1
    old = await client.post("/auth/verify-otp", json={"mobile": MOBILE, "otp": first})
    assert old.status_code == 401
    new = await client.post("/auth/verify-otp", json={"mobile": MOBILE, "otp": second})
    assert new.status_code == 200


async def test_a_code_expires_after_five_minutes(client: httpx.AsyncClient, app: Any) -> None:
    clock = install_clock(app)
    code = await send(client)
    clock.shift(299)
    other = await send(client, "+2348059876543")
    clock.shift(2)  # the first code is now 301 s old, the second 2 s
    expired = await client.post("/auth/verify-otp", json={"mobile": MOBILE, "otp": code})
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "invalid_otp"
    fresh = await client.post("/auth/verify-otp", json={"mobile": "+2348059876543", "otp": other})
    assert fresh.status_code == 200
    assert await count_rows(app, "user") == 1


async def test_a_thousand_wrong_guesses_check_at_most_five(
    client: httpx.AsyncClient, app: Any
) -> None:
    code = await send(client)
    wrong = [f"{n:06d}" for n in range(1000, 2001) if f"{n:06d}" != code][:1000]
    statuses: dict[int, int] = {}
    attempts_left = []
    for guess in wrong:
        response = await client.post("/auth/verify-otp", json={"mobile": MOBILE, "otp": guess})
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        details = response.json()["error"]["details"]
        if details is not None:
            attempts_left.append(details["attempts_left"])
    assert statuses == {401: 1000}
    assert attempts_left == [4, 3, 2, 1, 0]  # only five guesses were ever compared
    (row,) = await otp_rows(app)
    assert row.attempts == 5
    assert row.consumed_at is None
    # The right code is dead too.
    right = await client.post("/auth/verify-otp", json={"mobile": MOBILE, "otp": code})
    assert right.status_code == 401
    assert (await otp_rows(app))[0].attempts == 5
    assert await count_rows(app, "user") == 0
    assert await count_rows(app, "session") == 0


async def test_fifty_parallel_correct_submissions_yield_one_token_pair(
    client: httpx.AsyncClient, app: Any
) -> None:
    code = await send(client)
    responses = await asyncio.gather(
        *(client.post("/auth/verify-otp", json={"mobile": MOBILE, "otp": code}) for _ in range(50))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1, statuses
    assert statuses.count(401) == 49, statuses
    assert await count_rows(app, "user") == 1
    assert await count_rows(app, "session") == 1
    assert await count_rows(app, "refresh_token") == 1


async def test_send_budget_per_number_is_five_an_hour(client: httpx.AsyncClient, app: Any) -> None:
    for _ in range(5):
        await send(client)
    refused = await client.post("/auth/send-otp", json={"mobile": MOBILE})
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) > 3500
    assert refused.headers["ratelimit-limit"] == "5"
    assert refused.headers["ratelimit-remaining"] == "0"
    assert "otp" not in refused.text.replace('"otp"', "")  # no code in a refusal
    # Another number from the same client is still served.
    await send(client, "+2348059876543")


async def test_send_budget_per_ip_covers_every_number(app: Any) -> None:
    async with client_from(app, "10.1.1.1") as c:
        for n in range(20):
            r = await c.post("/auth/send-otp", json={"mobile": f"+23480312{n:05d}"})
            assert r.status_code == 200, (n, r.text)
        refused = await c.post("/auth/send-otp", json={"mobile": "+2348059876543"})
        assert refused.status_code == 429
        assert refused.headers["ratelimit-limit"] == "20"
    # The number the refused request named was not charged: it is a different client's to use.
    async with client_from(app, "10.1.1.2") as other:
        for _ in range(5):
            assert (
                await other.post("/auth/send-otp", json={"mobile": "+2348059876543"})
            ).status_code == 200


async def test_with_otp_in_response_off_the_code_goes_by_sms_only(
    client: httpx.AsyncClient, app: Any, termii: tuple[TermiiFake, str]
) -> None:
    fake, url = termii
    use_identity_settings(app, otp_in_response=False)
    use_termii(app, url)
    response = await client.post("/auth/send-otp", json={"mobile": MOBILE})
    assert response.status_code == 200
    assert response.json() == {"message": "OTP sent.", "expires_in": 300}
    (sms,) = fake.messages
    assert sms.to == MOBILE.removeprefix("+")
    assert sms.sender == "Oja"
    code = code_in(sms.text)
    assert code not in response.text
    verified = await client.post("/auth/verify-otp", json={"mobile": MOBILE, "otp": code})
    assert verified.status_code == 200


async def test_otp_in_response_defaults_off_in_production(app: Any) -> None:
    from oja.identity.config import IdentitySettings
    from oja.identity.otp.service import otp_in_response

    assert otp_in_response(IdentitySettings(), production=False) is True
    assert otp_in_response(IdentitySettings(), production=True) is False
    assert otp_in_response(IdentitySettings(otp_in_response=True), production=True) is True


async def test_a_refused_sms_answers_502_and_the_code_is_not_shown(
    client: httpx.AsyncClient, app: Any, termii: tuple[TermiiFake, str]
) -> None:
    fake, url = termii
    use_identity_settings(app, otp_in_response=False)
    use_termii(app, url)
    fake.fail_next(500, "Internal Server Error")
    response = await client.post("/auth/send-otp", json={"mobile": MOBILE})
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "delivery_failed"
    assert fake.messages == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"mobile": "12"},
        {"mobile": "not a number"},
    ],
)
async def test_send_otp_validation(client: httpx.AsyncClient, app: Any, body: Any) -> None:
    response = await client.post("/auth/send-otp", json=body)
    assert response.status_code == 422
    assert await otp_rows(app) == []


@pytest.mark.parametrize("otp", ["12345", "1234567", "abcdef", ""])
async def test_verify_otp_validation(client: httpx.AsyncClient, app: Any, otp: str) -> None:
    await send(client)
    response = await client.post("/auth/verify-otp", json={"mobile": MOBILE, "otp": otp})
    assert response.status_code == 422
    assert (await otp_rows(app))[0].attempts == 0


async def test_a_disabled_account_cannot_log_in_by_otp(client: httpx.AsyncClient, app: Any) -> None:
    from sqlalchemy import update

    await signup(client, mobile=MOBILE, password=PASSWORD)
    await execute(app, update(User).values(is_active=False))
    code = await send(client)
    response = await client.post("/auth/verify-otp", json={"mobile": MOBILE, "otp": code})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "account_disabled"
    assert await count_rows(app, "session") == 0


async def test_password_login_still_works_for_an_otp_user_after_reset(
    client: httpx.AsyncClient,
) -> None:
    # A mobile-only account created by OTP has no password: password login is refused.
    code = await send(client)
    await client.post("/auth/verify-otp", json={"mobile": MOBILE, "otp": code})
    refused = await client.post("/auth/login", json={"mobile": MOBILE, "password": PASSWORD})
    assert refused.status_code == 401
    reset_code = (await client.post("/auth/forgot-password", json={"mobile": MOBILE})).json()["otp"]
    reset = await client.post(
        "/auth/reset-password", json={"mobile": MOBILE, "otp": reset_code, "new_password": PASSWORD}
    )
    assert reset.status_code == 200
    await login(client, mobile=MOBILE)
