"""Signup, login, /user/me, duplicates, identical failures and login throttling."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from oja.identity.config import IdentitySettings
from oja.identity.throttle import LoginThrottle, MemoryThrottleStore

from .conftest import PASSWORD, bearer, client_from, count_rows, login, signup, unique_email


async def test_email_signup_login_and_me(client: httpx.AsyncClient, app: Any) -> None:
    response = await client.post(
        "/auth/signup",
        json={
            "email": "Ada.Lovelace@Example.COM",
            "password": PASSWORD,
            "name": "Ada",
            "locale": "en-NG",
        },
    )
    assert response.status_code == 201
    user = response.json()
    assert user["email"] == "ada.lovelace@example.com"
    assert user["mobile"] is None
    assert user["name"] == "Ada"
    assert user["locale"] == "en-NG"
    assert user["roles"] == ["buyer"]
    assert user["is_active"] is True
    assert user["has_password"] is True
    assert user["user_id"] == user["id"]
    assert PASSWORD not in response.text
    assert "password_hash" not in user
    datetime.fromisoformat(user["created_at"])

    pair = await login(client, email="ADA.lovelace@example.com")
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] == 900
    me = await client.get("/user/me", headers=bearer(pair["access_token"]))
    assert me.status_code == 200
    assert me.json() == user | {"updated_at": me.json()["updated_at"]}
    assert await count_rows(app, "session") == 1
    assert await count_rows(app, "refresh_token") == 1


async def test_mobile_signup_without_password_then_login_with_form(
    client: httpx.AsyncClient, app: Any
) -> None:
    response = await client.post("/auth/signup", json={"mobile": "0803 123 4567"})
    assert response.status_code == 201
    assert response.json()["mobile"] == "+2348031234567"
    assert response.json()["email"] is None
    assert response.json()["has_password"] is False
    # A mobile-only user without a password cannot log in with one.
    refused = await client.post(
        "/auth/login", json={"mobile": "+2348031234567", "password": "x" * 8}
    )
    assert refused.status_code == 401

    with_password = await signup(client, mobile="+234 805 987 6543", password=PASSWORD)
    assert with_password["mobile"] == "+2348059876543"
    pair = await login(client, mobile="08059876543")
    me = await client.get("/user/me", headers=bearer(pair["access_token"]))
    assert me.json()["id"] == with_password["id"]

    form = await client.post(
        "/auth/login",
        data={"grant_type": "password", "username": "+2348059876543", "password": PASSWORD},
    )
    assert form.status_code == 200
    assert form.json()["token_type"] == "bearer"
    assert await count_rows(app, "user") == 2


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"name": "Nobody", "password": PASSWORD}, ["body"]),
        ({"email": "ada@example.com"}, ["body"]),
        ({"email": "ada@example.com", "password": "short"}, ["body"]),
        ({"email": "not-an-email", "password": PASSWORD}, ["body", "email"]),
        ({"mobile": "12", "password": PASSWORD}, ["body", "mobile"]),
        ({"email": "ada@example.com", "password": PASSWORD, "role": "admin"}, ["body", "role"]),
    ],
)
async def test_invalid_signup_is_422_and_writes_nothing(
    client: httpx.AsyncClient, app: Any, body: dict[str, Any], loc: list[str]
) -> None:
    response = await client.post("/auth/signup", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["loc"] == loc
    assert await count_rows(app, "user") == 0
    assert await count_rows(app, "user_role") == 0


async def test_duplicate_email_or_mobile_is_409(client: httpx.AsyncClient, app: Any) -> None:
    await signup(client, email="dup@example.com", mobile="+2348031112222")
    again = await client.post(
        "/auth/signup", json={"email": "DUP@example.com", "password": PASSWORD}
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    assert again.json()["error"]["details"] == {"fields": ["email"]}
    same_mobile = await client.post("/auth/signup", json={"mobile": "08031112222"})
    assert same_mobile.status_code == 409
    assert same_mobile.json()["error"]["details"] == {"fields": ["mobile"]}
    assert await count_rows(app, "user") == 1
    assert await count_rows(app, "user_role") == 1


async def test_unknown_user_and_wrong_password_answer_identically(
    client: httpx.AsyncClient,
) -> None:
    user = await signup(client)
    wrong = await client.post(
        "/auth/login", json={"email": user["email"], "password": "wrong password"}
    )
    unknown = await client.post(
        "/auth/login", json={"email": "nobody@example.com", "password": "wrong password"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {
            "error": {
                "code": "invalid_credentials",
                "message": "The credentials are not valid.",
                "details": None,
            }
        }
    )
    assert wrong.headers["www-authenticate"] == unknown.headers["www-authenticate"] == "Bearer"


async def test_login_validation(client: httpx.AsyncClient) -> None:
    missing = await client.post("/auth/login", json={"password": PASSWORD})
    assert missing.status_code == 422
    assert missing.json()["error"]["code"] == "validation_error"
    bad_type = await client.post(
        "/auth/login", content=b"x", headers={"content-type": "text/plain"}
    )
    assert bad_type.status_code == 415
    broken = await client.post(
        "/auth/login", content=b"{", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422


async def test_account_lockout_after_ten_failures(client: httpx.AsyncClient, app: Any) -> None:
    user = await signup(client)
    for attempt in range(10):
        async with client_from(app, f"10.0.0.{attempt}") as c:  # spread IPs: the account locks
            r = await c.post("/auth/login", json={"email": user["email"], "password": "wrong"})
            assert r.status_code == 401, attempt
    async with client_from(app, "10.0.1.1") as c:
        locked = await c.post("/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert locked.status_code == 429
    assert locked.headers["retry-after"] == "60"
    assert locked.json()["error"]["code"] == "too_many_login_attempts"
    assert locked.json()["error"]["details"] == {"retry_after": 60}
    assert await count_rows(app, "session") == 0
    # An unknown account locks exactly like a known one (no enumeration through the lockout).
    for _ in range(10):
        async with client_from(app, "10.0.2.1") as c:
            await c.post("/auth/login", json={"email": "ghost@example.com", "password": "wrong"})
    async with client_from(app, "10.0.3.1") as c:
        ghost = await c.post("/auth/login", json={"email": "ghost@example.com", "password": "x"})
    assert ghost.status_code == 429


async def test_ip_lockout_covers_every_account(client: httpx.AsyncClient) -> None:
    victim = await signup(client)
    for _ in range(10):
        r = await client.post("/auth/login", json={"email": unique_email(), "password": "wrong"})
        assert r.status_code == 401
    locked = await client.post("/auth/login", json={"email": victim["email"], "password": PASSWORD})
    assert locked.status_code == 429
    assert locked.headers["retry-after"] == "60"


async def test_success_resets_the_account_counter(client: httpx.AsyncClient, app: Any) -> None:
    user = await signup(client)
    for round_ in range(2):
        for attempt in range(9):
            async with client_from(app, f"10.{round_}.0.{attempt}") as c:
                r = await c.post("/auth/login", json={"email": user["email"], "password": "wrong"})
                assert r.status_code == 401
        async with client_from(app, f"10.{round_}.9.9") as c:
            ok = await c.post("/auth/login", json={"email": user["email"], "password": PASSWORD})
            assert ok.status_code == 200


async def test_lockout_doubles_with_each_further_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("oja.identity.throttle.time.monotonic", lambda: clock[0])
    throttle = LoginThrottle(MemoryThrottleStore(), IdentitySettings())
    for _ in range(10):
        await throttle.check("acct:a")
        await throttle.failed("acct:a")
    waits = []
    for _ in range(4):
        with pytest.raises(Exception) as locked:
            await throttle.check("acct:a")
        retry_after = locked.value.details["retry_after"]  # type: ignore[attr-defined]
        waits.append(retry_after)
        clock[0] += retry_after  # wait it out, then fail once more
        await throttle.check("acct:a")
        await throttle.failed("acct:a")
    assert waits == [60, 120, 240, 480]
    await throttle.succeeded("acct:a")
    clock[0] += 960
    await throttle.check("acct:a")


@pytest.mark.redis
async def test_lockout_with_redis(tmp_path: Any, database_url: str) -> None:
    import redis.asyncio as aioredis

    from oja.main import create_app
    from tests.conftest import make_settings, service_url

    url = service_url("redis")
    redis = aioredis.from_url(url)
    async for key in redis.scan_iter("oja:identity:login:*"):
        await redis.delete(key)
    application = create_app(make_settings(tmp_path, database_url, redis_url=url))
    try:
        async with client_from(application, "10.9.9.9") as c:
            user = await signup(c)
        for attempt in range(10):
            async with client_from(application, f"10.8.0.{attempt}") as c:
                r = await c.post("/auth/login", json={"email": user["email"], "password": "wrong"})
                assert r.status_code == 401
        async with client_from(application, "10.8.1.1") as c:
            locked = await c.post(
                "/auth/login", json={"email": user["email"], "password": PASSWORD}
            )
        assert locked.status_code == 429
        assert locked.headers["retry-after"] == "60"
        keys = sorted([k.decode() async for k in redis.scan_iter("oja:identity:login:lock:*")])
        assert len(keys) == 1
        assert keys[0].startswith("oja:identity:login:lock:acct:")
        assert user["email"] not in "".join(keys)
    finally:
        async for key in redis.scan_iter("oja:identity:login:*"):
            await redis.delete(key)
        await redis.aclose()
        await application.state.runtime.close()


async def test_login_rehashes_a_password_made_with_old_parameters(
    client: httpx.AsyncClient, app: Any
) -> None:
    from sqlalchemy import select

    from oja.identity.config import get_identity_settings
    from oja.identity.models import User

    from .conftest import execute

    cheap = IdentitySettings(argon2_time_cost=1, argon2_memory_cost=8192)
    app.dependency_overrides[get_identity_settings] = lambda: cheap
    user = await signup(client)
    (stored,) = await execute(app, select(User.password_hash))
    assert "$m=8192,t=1,p=1$" in stored.password_hash

    app.dependency_overrides.clear()
    await login(client, email=user["email"])
    (rehashed,) = await execute(app, select(User.password_hash))
    assert "$m=19456,t=2,p=1$" in rehashed.password_hash
    await login(client, email=user["email"])  # the new hash verifies


async def test_logins_beyond_hashing_capacity_are_shed_with_429(
    client: httpx.AsyncClient, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import threading

    from oja.identity.config import get_identity_settings
    from oja.identity.passwords import get_passwords

    user = await signup(client)
    narrow = IdentitySettings(password_hash_threads=1, password_hash_backlog=2)
    app.dependency_overrides[get_identity_settings] = lambda: narrow
    passwords = get_passwords(narrow)
    gate = threading.Event()
    real_verify = passwords._hash.verify_and_update

    def held_verify(password: str, hashed: str) -> tuple[bool, str | None]:
        gate.wait(10)
        return real_verify(password, hashed)

    monkeypatch.setattr(passwords._hash, "verify_and_update", held_verify)
    body = {"email": user["email"], "password": PASSWORD}
    admitted = [asyncio.create_task(client.post("/auth/login", json=body)) for _ in range(2)]
    for _ in range(500):
        if passwords.outstanding == 2:
            break
        await asyncio.sleep(0.01)
    assert passwords.outstanding == 2

    shed = await client.post("/auth/login", json=body)
    assert shed.status_code == 429
    assert shed.headers["retry-after"] == "1"
    assert shed.json()["error"]["code"] == "busy"
    users_before = await count_rows(app, "user")
    refused_signup = await client.post(
        "/auth/signup", json={"email": unique_email(), "password": PASSWORD}
    )
    assert refused_signup.status_code == 429
    assert await count_rows(app, "user") == users_before
    assert await count_rows(app, "session") == 0

    gate.set()
    assert [r.status_code for r in await asyncio.gather(*admitted)] == [200, 200]
    assert passwords.outstanding == 0
    assert await count_rows(app, "session") == 2
    # A shed login is not a failed one: the client IP's failure counter (which successes do not
    # reset) did not move, so nine failures from it still leave room for a login.
    for _ in range(9):
        r = await client.post("/auth/login", json={"email": user["email"], "password": "wrong"})
        assert r.status_code == 401
    await login(client, email=user["email"])
