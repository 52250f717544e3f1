"""Access and refresh tokens: a hostile JWT corpus, rotation, grace, reuse, races, revocation."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
import warnings
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.warnings import InsecureKeyLengthWarning
from sqlalchemy import select, update

from oja.core.clock import utcnow
from oja.identity.sessions.models import RefreshToken
from tests.conftest import TEST_SECRET

from .conftest import PASSWORD, bearer, count_rows, execute, login, signup, user_with_token


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _craft(header: dict[str, Any], payload: dict[str, Any], key: bytes | None) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = (
        b"" if key is None else hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    )
    return f"{signing_input}.{_b64(signature)}"


def _claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def _sign(payload: dict[str, Any], **kwargs: Any) -> str:
    with warnings.catch_warnings():  # HS512 wants a longer key; the attacker does not care
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(
            payload, TEST_SECRET, algorithm=kwargs.pop("algorithm", "HS256"), **kwargs
        )


def _corpus(access: str, refresh: str) -> dict[str, tuple[str, str]]:
    """name → (token, expected error code) for /user/me."""
    good = _claims(access)
    now = int(time.time())
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    head, body, sig = access.split(".")
    tampered = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    tampered["roles"] = ["admin"]
    without_sub = {k: v for k, v in good.items() if k != "sub"}
    return {
        "alg none": (_craft({"alg": "none", "typ": "JWT"}, good, None), "invalid_token"),
        "alg NONE with signature": (
            _craft({"alg": "NONE", "typ": "JWT"}, good, TEST_SECRET.encode()),
            "invalid_token",
        ),
        "HS256 keyed with the RSA public key": (
            _craft({"alg": "HS256", "typ": "JWT"}, good, public_pem),
            "invalid_token",
        ),
        "RS256 signed with a private key": (
            jwt.encode(good, private, algorithm="RS256"),
            "invalid_token",
        ),
        "HS512 with the right secret": (_sign(good, algorithm="HS512"), "invalid_token"),
        "unknown kid": (_sign(good, headers={"kid": "rotated-away"}), "invalid_token"),
        "tampered payload": (
            f"{head}.{_b64(json.dumps(tampered).encode())}.{sig}",
            "invalid_token",
        ),
        "bad signature": (
            jwt.encode(good, "another-secret-that-is-long-enough-0123456789", algorithm="HS256"),
            "invalid_token",
        ),
        "expired": (
            _sign(good | {"iat": now - 3600, "nbf": now - 3600, "exp": now - 60}),
            "token_expired",
        ),
        "nbf in the future": (_sign(good | {"nbf": now + 3600}), "invalid_token"),
        "wrong issuer": (_sign(good | {"iss": "someone-else"}), "invalid_token"),
        "wrong audience": (_sign(good | {"aud": "another-api"}), "invalid_token"),
        "refresh token used as access": (refresh, "invalid_token"),
        "missing sub": (_sign(without_sub), "invalid_token"),
        "unknown session": (_sign(good | {"sid": str(uuid.uuid4())}), "invalid_token"),
        "another user's subject": (_sign(good | {"sub": str(uuid.uuid4())}), "invalid_token"),
        "not a JWT": ("definitely-not-a-token", "invalid_token"),
        "empty segments": ("..", "invalid_token"),
    }


async def test_jwt_corpus_is_rejected(client: httpx.AsyncClient) -> None:
    _, pair = await user_with_token(client)
    assert (await client.get("/user/me", headers=bearer(pair["access_token"]))).status_code == 200
    corpus = _corpus(pair["access_token"], pair["refresh_token"])
    assert len(corpus) >= 12
    outcomes = {}
    for name, (token, _) in corpus.items():
        response = await client.get("/user/me", headers=bearer(token))
        outcomes[name] = (
            response.status_code,
            response.json()["error"]["code"],
            response.headers.get("www-authenticate"),
        )
    assert outcomes == {name: (401, code, "Bearer") for name, (_, code) in corpus.items()}


async def test_access_token_is_not_a_refresh_token(client: httpx.AsyncClient, app: Any) -> None:
    _, pair = await user_with_token(client)
    response = await client.post("/auth/refresh", json={"refresh_token": pair["access_token"]})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"
    assert await count_rows(app, "refresh_token") == 1


async def test_missing_and_revoked_credentials(client: httpx.AsyncClient) -> None:
    missing = await client.get("/user/me")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "missing_credentials"
    assert missing.headers["www-authenticate"] == "Bearer"
    _, pair = await user_with_token(client)
    assert (
        await client.post("/auth/logout", headers=bearer(pair["access_token"]))
    ).status_code == 204
    revoked = await client.get("/user/me", headers=bearer(pair["access_token"]))
    assert revoked.status_code == 401
    assert revoked.json()["error"]["code"] == "session_revoked"
    refresh = await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refresh.status_code == 401
    assert refresh.json()["error"]["code"] == "session_revoked"


async def test_refresh_rotates_and_grace_replay_returns_the_same_pair(
    client: httpx.AsyncClient, app: Any
) -> None:
    _, pair = await user_with_token(client)
    first = await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert first.status_code == 200
    child = first.json()
    assert child["refresh_token"] != pair["refresh_token"]
    assert child["access_token"] != pair["access_token"]
    assert child["expires_in"] == 900
    old, new = _claims(pair["refresh_token"]), _claims(child["refresh_token"])
    assert new["sid"] == old["sid"]
    assert new["sub"] == old["sub"]
    assert new["typ"] == "refresh"
    assert _claims(child["access_token"])["roles"] == ["buyer"]

    replay = await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert replay.status_code == 200
    assert replay.json() == child  # the same pair, not a second child
    assert await count_rows(app, "refresh_token") == 2

    me = await client.get("/user/me", headers=bearer(child["access_token"]))
    assert me.status_code == 200
    grandchild = await client.post("/auth/refresh", json={"refresh_token": child["refresh_token"]})
    assert grandchild.status_code == 200
    assert await count_rows(app, "refresh_token") == 3


async def test_reuse_after_grace_revokes_the_family(client: httpx.AsyncClient, app: Any) -> None:
    _, pair = await user_with_token(client)
    child = (
        await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    ).json()
    jti = uuid.UUID(_claims(pair["refresh_token"])["jti"])
    table = RefreshToken.__table__
    await execute(
        app, update(table).where(table.c.id == jti).values(used_at=utcnow() - timedelta(minutes=1))
    )

    reused = await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "token_reused"
    # The revocation was committed despite the error answer: the child is dead too.
    child_refresh = await client.post(
        "/auth/refresh", json={"refresh_token": child["refresh_token"]}
    )
    assert child_refresh.status_code == 401
    assert child_refresh.json()["error"]["code"] == "session_revoked"
    child_access = await client.get("/user/me", headers=bearer(child["access_token"]))
    assert child_access.json()["error"]["code"] == "session_revoked"
    assert await count_rows(app, "refresh_token") == 2


async def test_parallel_refreshes_make_exactly_one_child(
    client: httpx.AsyncClient, app: Any
) -> None:
    _, pair = await user_with_token(client)
    responses = await asyncio.gather(
        *(
            client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
            for _ in range(20)
        )
    )
    ok = [r.json() for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    assert ok, [r.text for r in responses]
    assert all(body == ok[0] for body in ok)
    assert all(r.status_code == 401 for r in refused)
    assert await count_rows(app, "refresh_token") == 2
    rows = await execute(app, select(RefreshToken.__table__.c.parent_id))
    assert sorted(str(r.parent_id) for r in rows) == sorted(
        ["None", _claims(pair["refresh_token"])["jti"]]
    )


async def test_logout_needs_a_session_and_keeps_others(client: httpx.AsyncClient) -> None:
    user, first = await user_with_token(client)
    second = await login(client, email=user["email"])
    assert (
        await client.post("/auth/logout", headers=bearer(first["access_token"]))
    ).status_code == 204
    assert (await client.get("/user/me", headers=bearer(second["access_token"]))).status_code == 200
    again = await client.post("/auth/logout", headers=bearer(first["access_token"]))
    assert again.status_code == 401


async def test_change_password_revokes_other_sessions(client: httpx.AsyncClient, app: Any) -> None:
    user, current = await user_with_token(client)
    other = await login(client, email=user["email"])
    wrong = await client.post(
        "/auth/change-password",
        json={"current_password": "not it at all", "new_password": "a brand new password"},
        headers=bearer(current["access_token"]),
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_credentials"
    assert (await client.get("/user/me", headers=bearer(other["access_token"]))).status_code == 200

    short = await client.post(
        "/auth/change-password",
        json={"current_password": PASSWORD, "new_password": "short"},
        headers=bearer(current["access_token"]),
    )
    assert short.status_code == 422

    changed = await client.post(
        "/auth/change-password",
        json={"current_password": PASSWORD, "new_password": "a brand new password"},
        headers=bearer(current["access_token"]),
    )
    assert changed.status_code == 200
    assert changed.json() == {"message": "Password changed.", "sessions_revoked": 1}
    assert (
        await client.get("/user/me", headers=bearer(current["access_token"]))
    ).status_code == 200
    gone = await client.get("/user/me", headers=bearer(other["access_token"]))
    assert gone.json()["error"]["code"] == "session_revoked"
    gone_refresh = await client.post(
        "/auth/refresh", json={"refresh_token": other["refresh_token"]}
    )
    assert gone_refresh.json()["error"]["code"] == "session_revoked"
    old = await client.post("/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert old.status_code == 401
    await login(client, email=user["email"], password="a brand new password")
    assert await count_rows(app, "session") == 3


@pytest.mark.parametrize("ttl", [1])
async def test_expired_access_token_says_so(client: httpx.AsyncClient, app: Any, ttl: int) -> None:
    from oja.identity.config import IdentitySettings, get_identity_settings

    app.dependency_overrides[get_identity_settings] = lambda: IdentitySettings(
        access_token_ttl=-ttl
    )
    user = await signup(client)
    pair = await login(client, email=user["email"])
    response = await client.get("/user/me", headers=bearer(pair["access_token"]))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_expired"


def test_a_verified_access_token_is_kept_until_its_exp_and_not_an_instant_longer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The per-process cache of verified access tokens serves a token only inside the window PyJWT
    itself accepts, and only for the key and settings it was verified with."""
    from datetime import UTC, datetime

    from oja.identity import tokens
    from oja.identity.config import IdentitySettings
    from oja.identity.errors import InvalidToken, TokenExpired

    settings = IdentitySettings()
    issued = utcnow().replace(microsecond=0)
    claims = tokens.TokenClaims(
        typ="access",
        user_id=uuid.uuid4(),
        session_id=uuid.uuid4(),
        jti=uuid.uuid4(),
        issued_at=issued,
        expires_at=issued + timedelta(seconds=60),
    )
    token = tokens.encode(claims, secret=TEST_SECRET, settings=settings)
    first = tokens.decode(token, typ="access", secret=TEST_SECRET, settings=settings)
    assert first == claims
    assert tokens.decode(token, typ="access", secret=TEST_SECRET, settings=settings) is first
    with pytest.raises(InvalidToken):  # another key verifies afresh
        tokens.decode(token, typ="access", secret=TEST_SECRET + "x", settings=settings)
    other = settings.model_copy(update={"jwt_audience": "elsewhere"})
    with pytest.raises(InvalidToken):  # as does another audience
        tokens.decode(token, typ="access", secret=TEST_SECRET, settings=other)
    with pytest.raises(InvalidToken):  # and another type: a refresh token is never an access one
        tokens.decode(token, typ="refresh", secret=TEST_SECRET, settings=settings)

    class AtExpiry(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> AtExpiry:  # type: ignore[override]
            return cls.fromtimestamp((issued + timedelta(seconds=60)).timestamp(), UTC)

    monkeypatch.setattr(tokens, "datetime", AtExpiry)
    monkeypatch.setattr(jwt.api_jwt, "datetime", AtExpiry)
    with pytest.raises(TokenExpired):
        tokens.decode(token, typ="access", secret=TEST_SECRET, settings=settings)
    assert all(key[0] != token for key in tokens._verified)
