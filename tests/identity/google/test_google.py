"""Google Sign-In end to end over real HTTP against the sandbox's Google fake."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select, update

from oja.identity.config import GoogleSettings, get_google_settings
from oja.identity.google.models import OAuthState, UserIdentity
from oja.identity.models import User
from oja.identity.sessions.models import AuthSession
from oja.sandbox.google import GoogleClient, GoogleFake, GoogleUser
from oja.sandbox.server import SandboxServer
from tests.identity.conftest import PASSWORD, bearer, count_rows, execute, login, signup

CLIENT_ID = "oja-test.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-oja-test"
REDIRECT_URI = "http://testserver/auth/google/callback"
ADA = GoogleUser(
    sub="1001", email="ada@example.com", name="Ada Lovelace", picture="https://x/ada.png"
)


@pytest.fixture
def google(app: Any) -> Iterator[GoogleFake]:
    fake = GoogleFake(clients=[GoogleClient(CLIENT_ID, CLIENT_SECRET, (REDIRECT_URI,))], user=ADA)
    with SandboxServer(fake.app) as server:
        settings = GoogleSettings(
            google_discovery_url=f"{server.url}/.well-known/openid-configuration",
            google_client_id=CLIENT_ID,
            google_client_secret=CLIENT_SECRET,
            google_redirect_uri=REDIRECT_URI,
        )
        app.dependency_overrides[get_google_settings] = lambda: settings
        fake.issuer = server.url
        yield fake


async def consent(client: httpx.AsyncClient, login_hint: str | None = None) -> str:
    """Start at /auth/google, follow the 302 to the fake, return the callback path it sends back."""
    start = await client.get("/auth/google")
    assert start.status_code == 302, start.text
    location = start.headers["location"]
    if login_hint:
        location += f"&login_hint={login_hint}"
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(location)
    assert answer.status_code == 302, answer.text
    back = answer.headers["location"]
    assert back.startswith(REDIRECT_URI)
    return back.removeprefix("http://testserver")


async def test_full_sign_in_creates_the_user_then_signs_them_in_again(
    client: httpx.AsyncClient, app: Any, google: GoogleFake
) -> None:
    start = await client.get("/auth/google")
    assert start.status_code == 302
    assert start.headers["cache-control"] == "no-store"
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert start.headers["location"].startswith(f"{google.issuer}/o/oauth2/v2/auth?")
    assert query["response_type"] == ["code"]
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [REDIRECT_URI]
    assert query["scope"] == ["openid email profile"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["state"][0]) >= 43
    assert len(query["nonce"][0]) >= 43
    (stored,) = await execute(app, select(OAuthState.state_hash, OAuthState.nonce))
    assert stored.state_hash != query["state"][0]  # only a digest of the state is kept
    assert stored.nonce == query["nonce"][0]

    async with httpx.AsyncClient() as browser:
        answer = await browser.get(start.headers["location"])
    callback = answer.headers["location"].removeprefix("http://testserver")
    response = await client.get(callback)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "user_id",
        "email",
        "name",
        "created",
        "access_token",
        "refresh_token",
        "token_type",
        "expires_in",
        "user",
    }
    assert body["email"] == "ada@example.com"
    assert body["name"] == "Ada Lovelace"
    assert body["created"] is True
    assert body["token_type"] == "bearer"
    me = (await client.get("/user/me", headers=bearer(body["access_token"]))).json()
    assert me["id"] == body["user_id"]
    assert me["email_verified"] is True
    assert me["has_password"] is False
    assert me["avatar_url"] == "https://x/ada.png"
    (identity,) = await execute(app, select(UserIdentity.issuer, UserIdentity.subject))
    assert (identity.issuer, identity.subject) == (google.issuer, "1001")

    again = await client.get(await consent(client))
    assert again.status_code == 200
    assert again.json()["user_id"] == body["user_id"]
    assert again.json()["created"] is False
    assert await count_rows(app, "user") == 1
    assert await count_rows(app, "user_identity") == 1
    assert await count_rows(app, "session") == 2


@pytest.mark.parametrize(
    ("params", "headers"),
    [({"format": "json"}, {}), ({}, {"Accept": "application/json"})],
)
async def test_the_url_as_json(
    client: httpx.AsyncClient,
    google: GoogleFake,
    params: dict[str, str],
    headers: dict[str, str],
) -> None:
    response = await client.get("/auth/google", params=params, headers=headers)
    assert response.status_code == 200
    url = response.json()["google_auth_url"]
    assert set(response.json()) == {"google_auth_url"}
    assert url.startswith(f"{google.issuer}/o/oauth2/v2/auth?")
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(url)
    ok = await client.get(answer.headers["location"].removeprefix("http://testserver"))
    assert ok.status_code == 200


async def test_a_replayed_callback_is_refused(
    client: httpx.AsyncClient, app: Any, google: GoogleFake
) -> None:
    callback = await consent(client)
    assert (await client.get(callback)).status_code == 200
    replay = await client.get(callback)
    assert replay.status_code == 400
    assert replay.json()["error"]["code"] == "invalid_state"
    assert await count_rows(app, "session") == 1


async def test_an_unknown_state_is_refused_before_google_is_called(
    client: httpx.AsyncClient, app: Any, google: GoogleFake
) -> None:
    callback = await consent(client)
    query = parse_qs(urlsplit(callback).query)
    forged = await client.get(
        "/auth/google/callback", params={"code": query["code"][0], "state": "x" * 43}
    )
    assert forged.status_code == 400
    assert forged.json()["error"]["code"] == "invalid_state"
    # The code was not spent at Google, and the real state still works.
    assert (await client.get(callback)).status_code == 200


async def test_an_expired_state_is_refused(
    client: httpx.AsyncClient, app: Any, google: GoogleFake
) -> None:
    from tests.identity.support import install_clock

    clock = install_clock(app)
    callback = await consent(client)
    clock.shift(601)
    late = await client.get(callback)
    assert late.status_code == 400
    assert late.json()["error"]["code"] == "invalid_state"
    assert await count_rows(app, "user") == 0


async def test_missing_code_is_400(client: httpx.AsyncClient, google: GoogleFake) -> None:
    response = await client.get("/auth/google/callback", params={"state": "abc"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "missing_code"
    bare = await client.get("/auth/google/callback")
    assert bare.status_code == 400
    assert bare.json()["error"]["code"] == "missing_code"


async def test_a_denied_consent_is_400(client: httpx.AsyncClient, google: GoogleFake) -> None:
    google.deny_next_authorization()
    response = await client.get(await consent(client))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "google_denied"


async def test_a_code_google_rejects_is_401(
    client: httpx.AsyncClient, app: Any, google: GoogleFake
) -> None:
    query = parse_qs(urlsplit(await consent(client)).query)
    response = await client.get(
        "/auth/google/callback", params={"code": "4/0-not-a-code", "state": query["state"][0]}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_code"
    assert await count_rows(app, "user") == 0


@pytest.mark.parametrize(
    "knob", ["wrong_nonce", "wrong_audience", "expired", "foreign_key", "wrong_issuer"]
)
async def test_a_spoiled_id_token_is_401_and_changes_nothing(
    client: httpx.AsyncClient, app: Any, google: GoogleFake, knob: str
) -> None:
    callback = await consent(client)
    google.tamper_next_id_token(**{knob: True})
    response = await client.get(callback)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_id_token"
    assert response.headers["www-authenticate"] == "Bearer"
    assert await count_rows(app, "user") == 0
    assert await count_rows(app, "user_identity") == 0
    assert await count_rows(app, "session") == 0
    assert (await client.get(callback)).status_code == 400  # the state died with the attempt


async def test_token_endpoint_failure_is_502(
    client: httpx.AsyncClient, app: Any, google: GoogleFake
) -> None:
    callback = await consent(client)
    google.fail_token_endpoint_once(500)
    response = await client.get(callback)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "google_unavailable"
    assert await count_rows(app, "user") == 0


async def test_google_unreachable_is_502(client: httpx.AsyncClient, app: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = GoogleSettings(
        google_discovery_url=f"http://127.0.0.1:{port}/.well-known/openid-configuration",
        google_client_id=CLIENT_ID,
        google_client_secret=CLIENT_SECRET,
    )
    app.dependency_overrides[get_google_settings] = lambda: settings
    response = await client.get("/auth/google")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "google_unavailable"
    assert await count_rows(app, "oauth_state") == 0


@pytest.mark.parametrize(
    ("values", "missing"),
    [
        ({}, ["OJA_GOOGLE_CLIENT_ID", "OJA_GOOGLE_CLIENT_SECRET"]),
        ({"google_client_id": CLIENT_ID}, ["OJA_GOOGLE_CLIENT_SECRET"]),
    ],
)
async def test_unconfigured_is_a_503_not_configured_naming_the_variable(
    client: httpx.AsyncClient, app: Any, values: dict[str, str], missing: list[str]
) -> None:
    settings = GoogleSettings(**{"google_client_id": None, "google_client_secret": None, **values})
    app.dependency_overrides[get_google_settings] = lambda: settings
    for path in ("/auth/google", "/auth/google/callback?code=x&state=y"):
        response = await client.get(path)
        assert response.status_code == 503
        error = response.json()["error"]
        assert error["code"] == "not_configured"
        assert error["details"] == {"feature": "google_sign_in", "settings": missing}
        assert missing[0] in error["message"]


async def test_links_to_an_account_with_a_verified_email(
    client: httpx.AsyncClient, app: Any, google: GoogleFake
) -> None:
    user = await signup(client, email="ada@example.com")
    await execute(app, update(User).values(email_verified_at=User.created_at))
    session = await login(client, email="ada@example.com")
    response = await client.get(await consent(client))
    assert response.status_code == 200
    assert response.json()["user_id"] == user["id"]
    assert response.json()["created"] is False
    # Nothing was taken from the account: its password and session still work.
    await login(client, email="ada@example.com")
    assert (
        await client.get("/user/me", headers=bearer(session["access_token"]))
    ).status_code == 200
    assert await count_rows(app, "user") == 1


async def test_linking_an_unverified_account_drops_its_password_and_sessions(
    client: httpx.AsyncClient, app: Any, google: GoogleFake
) -> None:
    squatter = await signup(client, email="ada@example.com")  # never proved the address
    session = await login(client, email="ada@example.com")
    response = await client.get(await consent(client))
    assert response.status_code == 200
    assert response.json()["user_id"] == squatter["id"]
    refused = await client.post(
        "/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert refused.status_code == 401
    assert (
        await client.get("/user/me", headers=bearer(session["access_token"]))
    ).status_code == 401
    reasons = [r.revoked_reason for r in await execute(app, select(AuthSession.revoked_reason))]
    assert sorted(reasons, key=str) == [None, "linked_unverified"]


async def test_an_unverified_google_email_never_links(
    client: httpx.AsyncClient, app: Any, google: GoogleFake
) -> None:
    owner = await signup(client, email="ada@example.com")
    google.user = GoogleUser(sub="2002", email="ada@example.com", email_verified=False, name="Eve")
    response = await client.get(await consent(client))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "account_exists"
    assert await count_rows(app, "user_identity") == 0
    assert await count_rows(app, "session") == 0
    await login(client, email="ada@example.com")  # the owner's account is untouched
    assert owner["email"] == "ada@example.com"


async def test_an_unverified_google_email_makes_a_new_unverified_user(
    client: httpx.AsyncClient, app: Any, google: GoogleFake
) -> None:
    google.user = GoogleUser(sub="3003", email="grace@example.com", email_verified=False)
    response = await client.get(await consent(client))
    assert response.status_code == 200
    me = (await client.get("/user/me", headers=bearer(response.json()["access_token"]))).json()
    assert me["email"] == "grace@example.com"
    assert me["email_verified"] is False


async def test_the_callback_answers_the_user_as_user_me_does(
    client: httpx.AsyncClient, google: GoogleFake
) -> None:
    body = (await client.get(await consent(client))).json()
    me = (await client.get("/user/me", headers=bearer(body["access_token"]))).json()
    assert body["user"] == me
    assert body["user"]["locale"] is None  # the user keeps its null fields; the answer omits none


async def test_a_known_account_takes_googles_current_profile_on_each_sign_in(
    client: httpx.AsyncClient, app: Any, google: GoogleFake
) -> None:
    first = (await client.get(await consent(client))).json()
    assert first["name"] == "Ada Lovelace"
    google.user = GoogleUser(
        sub="1001", email="ada@example.com", name="Ada King", picture="https://x/king.png"
    )
    again = await client.get(await consent(client))
    assert again.status_code == 200
    body = again.json()
    assert body["user_id"] == first["user_id"]
    assert body["created"] is False
    assert body["name"] == "Ada King"
    assert body["user"]["name"] == "Ada King"
    assert body["user"]["avatar_url"] == "https://x/king.png"
    me = (await client.get("/user/me", headers=bearer(body["access_token"]))).json()
    assert (me["name"], me["avatar_url"]) == ("Ada King", "https://x/king.png")
    # What Google leaves out keeps the stored value; the login email is never replaced.
    google.user = GoogleUser(sub="1001", email="ada.king@example.com", name="", picture="")
    third = (await client.get(await consent(client))).json()
    assert third["user"]["name"] == "Ada King"
    assert third["user"]["avatar_url"] == "https://x/king.png"
    assert third["user"]["email"] == "ada@example.com"
    assert await count_rows(app, "user") == 1


async def test_a_linked_password_account_takes_googles_name(
    client: httpx.AsyncClient, app: Any, google: GoogleFake
) -> None:
    await signup(client, email="ada@example.com", name="Ada")
    await execute(app, update(User).values(email_verified_at=User.created_at))
    body = (await client.get(await consent(client))).json()
    assert body["name"] == "Ada Lovelace"
    assert body["user"]["avatar_url"] == "https://x/ada.png"
    assert body["user"]["has_password"] is True


async def test_google_verifying_the_address_later_verifies_the_account(
    client: httpx.AsyncClient, google: GoogleFake
) -> None:
    google.user = GoogleUser(sub="3003", email="grace@example.com", email_verified=False)
    first = (await client.get(await consent(client))).json()
    assert first["user"]["email_verified"] is False
    google.user = GoogleUser(sub="3003", email="grace@example.com", email_verified=True)
    second = (await client.get(await consent(client))).json()
    assert second["user"]["email_verified"] is True
    me = (await client.get("/user/me", headers=bearer(second["access_token"]))).json()
    assert me["email_verified"] is True
