"""TOTP MFA: setup, enable, the two-step login, replay refusal, recovery codes, disable."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import httpx
import pyotp
from sqlalchemy import select

from oja.core.clock import utcnow
from oja.identity import tokens
from oja.identity.config import IdentitySettings
from oja.identity.mfa.models import MfaRecoveryCode, UserMfa
from tests.conftest import TEST_SECRET
from tests.identity.conftest import PASSWORD, bearer, count_rows, execute, user_with_token
from tests.identity.support import FakeClock, install_clock, totp_now, use_identity_settings


async def enable_mfa(
    client: httpx.AsyncClient, app: Any, clock: FakeClock
) -> tuple[dict[str, Any], str, list[str]]:
    user, pair = await user_with_token(client)
    setup = await client.post("/auth/mfa/setup", headers=bearer(pair["access_token"]))
    assert setup.status_code == 200
    secret = setup.json()["secret"]
    enabled = await client.post(
        "/auth/mfa/enable",
        json={"code": totp_now(secret, clock.now)},
        headers=bearer(pair["access_token"]),
    )
    assert enabled.status_code == 200, enabled.text
    clock.shift(30)  # the next code belongs to a later time step
    return user, secret, enabled.json()["recovery_codes"]


async def password_login(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post("/auth/login", json={"email": email, "password": PASSWORD})


async def test_setup_is_pending_until_enabled(client: httpx.AsyncClient, app: Any) -> None:
    user, pair = await user_with_token(client)
    setup = await client.post("/auth/mfa/setup", headers=bearer(pair["access_token"]))
    assert setup.status_code == 200
    body = setup.json()
    assert set(body) == {"secret", "otpauth_uri", "qr_png_base64"}
    assert body["otpauth_uri"] == pyotp.TOTP(body["secret"]).provisioning_uri(
        name=user["email"], issuer_name="Oja"
    )
    assert base64.b64decode(body["qr_png_base64"]).startswith(b"\x89PNG\r\n\x1a\n")
    (row,) = await execute(app, select(UserMfa.secret_encrypted, UserMfa.enabled_at))
    assert row.enabled_at is None
    assert body["secret"] not in row.secret_encrypted  # sealed at rest
    # Pending MFA changes nothing about logging in.
    assert "access_token" in (await password_login(client, user["email"])).json()


async def test_enable_needs_a_right_code_and_answers_ten_recovery_codes(
    client: httpx.AsyncClient, app: Any
) -> None:
    clock = install_clock(app)
    _, pair = await user_with_token(client)
    headers = bearer(pair["access_token"])
    secret = (await client.post("/auth/mfa/setup", headers=headers)).json()["secret"]
    wrong = "000000" if totp_now(secret, clock.now) != "000000" else "111111"
    refused = await client.post("/auth/mfa/enable", json={"code": wrong}, headers=headers)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_mfa_code"
    assert await count_rows(app, "mfa_recovery_code") == 0
    enabled = await client.post(
        "/auth/mfa/enable", json={"code": totp_now(secret, clock.now)}, headers=headers
    )
    assert enabled.status_code == 200
    codes = enabled.json()["recovery_codes"]
    assert enabled.json()["mfa_enabled"] is True
    assert len(codes) == len(set(codes)) == 10
    stored = [r.code_hash for r in await execute(app, select(MfaRecoveryCode.code_hash))]
    assert len(stored) == 10
    assert not any(code in h for code in codes for h in stored)
    again = await client.post("/auth/mfa/setup", headers=headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "mfa_already_enabled"


async def test_login_then_totp_and_a_code_works_once(client: httpx.AsyncClient, app: Any) -> None:
    clock = install_clock(app)
    user, secret, _ = await enable_mfa(client, app, clock)
    sessions_before = await count_rows(app, "session")
    first = await password_login(client, user["email"])
    assert first.status_code == 200
    challenge = first.json()
    assert set(challenge) == {"mfa_required", "mfa_token", "expires_in"}
    assert challenge["mfa_required"] is True
    assert challenge["expires_in"] == 300
    assert await count_rows(app, "session") == sessions_before  # no session yet
    # The MFA token is no access token.
    assert (await client.get("/user/me", headers=bearer(challenge["mfa_token"]))).status_code == 401

    code = totp_now(secret, clock.now)
    done = await client.post(
        "/auth/mfa/verify", json={"mfa_token": challenge["mfa_token"], "code": code}
    )
    assert done.status_code == 200
    pair = done.json()
    assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
    assert (await client.get("/user/me", headers=bearer(pair["access_token"]))).status_code == 200
    assert await count_rows(app, "session") == sessions_before + 1

    second = (await password_login(client, user["email"])).json()
    replay = await client.post(
        "/auth/mfa/verify", json={"mfa_token": second["mfa_token"], "code": code}
    )
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "invalid_mfa_code"
    # The previous window's code is refused too, once a later one was used.
    older = await client.post(
        "/auth/mfa/verify",
        json={"mfa_token": second["mfa_token"], "code": totp_now(secret, clock.now, -1)},
    )
    assert older.status_code == 401
    clock.shift(30)
    later = await client.post(
        "/auth/mfa/verify",
        json={"mfa_token": second["mfa_token"], "code": totp_now(secret, clock.now)},
    )
    assert later.status_code == 200
    assert await count_rows(app, "session") == sessions_before + 2


async def test_a_recovery_code_works_once(client: httpx.AsyncClient, app: Any) -> None:
    clock = install_clock(app)
    user, _, codes = await enable_mfa(client, app, clock)
    challenge = (await password_login(client, user["email"])).json()
    used = await client.post(
        "/auth/mfa/verify",
        json={"mfa_token": challenge["mfa_token"], "recovery_code": codes[3].upper()},
    )
    assert used.status_code == 200
    again = await client.post(
        "/auth/mfa/verify", json={"mfa_token": challenge["mfa_token"], "recovery_code": codes[3]}
    )
    assert again.status_code == 401
    other = await client.post(
        "/auth/mfa/verify", json={"mfa_token": challenge["mfa_token"], "recovery_code": codes[4]}
    )
    assert other.status_code == 200
    rows = await execute(app, select(MfaRecoveryCode.used_at))
    assert sum(r.used_at is not None for r in rows) == 2


async def test_second_factor_attempts_are_budgeted(client: httpx.AsyncClient, app: Any) -> None:
    clock = install_clock(app)
    user, secret, _ = await enable_mfa(client, app, clock)  # enable spent one attempt
    challenge = (await password_login(client, user["email"])).json()
    right = totp_now(secret, clock.now)
    wrong = next(f"{n:06d}" for n in range(10) if f"{n:06d}" != right)
    for _ in range(4):
        r = await client.post(
            "/auth/mfa/verify", json={"mfa_token": challenge["mfa_token"], "code": wrong}
        )
        assert r.status_code == 401
    blocked = await client.post(
        "/auth/mfa/verify", json={"mfa_token": challenge["mfa_token"], "code": right}
    )
    assert blocked.status_code == 429
    assert "retry-after" in blocked.headers


async def test_mfa_tokens_expire_and_must_be_mfa_tokens(
    client: httpx.AsyncClient, app: Any
) -> None:
    clock = install_clock(app)
    user, secret, _ = await enable_mfa(client, app, clock)
    stale = tokens.encode_mfa(
        __import__("uuid").UUID(user["id"]),
        method="pwd",
        issued_at=utcnow() - timedelta(seconds=301),
        ttl=300,
        secret=TEST_SECRET,
        settings=IdentitySettings(),
    )
    expired = await client.post(
        "/auth/mfa/verify", json={"mfa_token": stale, "code": totp_now(secret, clock.now)}
    )
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "token_expired"
    access = (await user_with_token(client))[1]["access_token"]
    wrong_kind = await client.post(
        "/auth/mfa/verify", json={"mfa_token": access, "code": totp_now(secret, clock.now)}
    )
    assert wrong_kind.status_code == 401
    assert wrong_kind.json()["error"]["code"] == "invalid_token"


async def test_otp_login_asks_for_the_second_factor(client: httpx.AsyncClient, app: Any) -> None:
    clock = install_clock(app)
    use_identity_settings(app, mfa_verify_rate="100/minute")
    from tests.identity.conftest import signup

    user = await signup(client, mobile="+2348031234567", email="two@example.com")
    pair = (await password_login(client, "two@example.com")).json()
    headers = bearer(pair["access_token"])
    secret = (await client.post("/auth/mfa/setup", headers=headers)).json()["secret"]
    await client.post(
        "/auth/mfa/enable", json={"code": totp_now(secret, clock.now)}, headers=headers
    )
    clock.shift(30)
    code = (await client.post("/auth/send-otp", json={"mobile": "+2348031234567"})).json()["otp"]
    sessions = await count_rows(app, "session")
    answer = await client.post("/auth/verify-otp", json={"mobile": "+2348031234567", "otp": code})
    assert answer.status_code == 200
    assert answer.json()["mfa_required"] is True
    assert await count_rows(app, "session") == sessions
    done = await client.post(
        "/auth/mfa/verify",
        json={"mfa_token": answer.json()["mfa_token"], "code": totp_now(secret, clock.now)},
    )
    assert done.status_code == 200
    me = (await client.get("/user/me", headers=bearer(done.json()["access_token"]))).json()
    assert me["id"] == user["id"]


async def test_disable_needs_password_and_code(client: httpx.AsyncClient, app: Any) -> None:
    clock = install_clock(app)
    use_identity_settings(app, mfa_verify_rate="100/minute")
    user, secret, _ = await enable_mfa(client, app, clock)
    challenge = (await password_login(client, user["email"])).json()
    pair = (
        await client.post(
            "/auth/mfa/verify",
            json={"mfa_token": challenge["mfa_token"], "code": totp_now(secret, clock.now)},
        )
    ).json()
    headers = bearer(pair["access_token"])
    clock.shift(30)
    code = totp_now(secret, clock.now)
    bad_password = await client.post(
        "/auth/mfa/disable", json={"password": "wrong password", "code": code}, headers=headers
    )
    assert bad_password.status_code == 401
    assert await count_rows(app, "user_mfa") == 1
    wrong = next(f"{n:06d}" for n in range(10) if f"{n:06d}" != code)
    bad_code = await client.post(
        "/auth/mfa/disable", json={"password": PASSWORD, "code": wrong}, headers=headers
    )
    assert bad_code.status_code == 401
    assert await count_rows(app, "user_mfa") == 1
    ok = await client.post(
        "/auth/mfa/disable", json={"password": PASSWORD, "code": code}, headers=headers
    )
    assert ok.status_code == 204
    assert await count_rows(app, "user_mfa") == 0
    assert await count_rows(app, "mfa_recovery_code") == 0
    assert "access_token" in (await password_login(client, user["email"])).json()
    again = await client.post(
        "/auth/mfa/disable", json={"password": PASSWORD, "code": code}, headers=headers
    )
    assert again.status_code == 409


async def test_mfa_routes_need_a_login(client: httpx.AsyncClient) -> None:
    for path, body in (
        ("/auth/mfa/setup", None),
        ("/auth/mfa/enable", {"code": "123456"}),
        ("/auth/mfa/disable", {"password": PASSWORD, "code": "123456"}),
    ):
        assert (await client.post(path, json=body)).status_code == 401
    neither = await client.post("/auth/mfa/verify", json={"mfa_token": "x"})
    assert neither.status_code == 422
