from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from oja.sandbox.google import (
    WRONG_AUDIENCE,
    WRONG_ISSUER,
    WRONG_NONCE,
    GoogleClient,
    GoogleFake,
    GoogleUser,
)
from oja.sandbox.server import SandboxServer

CLIENT_ID = "1234-oja-test.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-test-secret"
REDIRECT_URI = "http://127.0.0.1:8000/auth/google/callback"
EMAIL_SCOPE = "https://www.googleapis.com/auth/userinfo.email"
PROFILE_SCOPE = "https://www.googleapis.com/auth/userinfo.profile"
ADA = GoogleUser(
    sub="110169484474386276334",
    email="ada@example.com",
    email_verified=True,
    name="Ada Lovelace",
    picture="https://lh3.googleusercontent.com/a/ada=s96-c",
)


@dataclass
class Google:
    fake: GoogleFake
    url: str
    http: httpx.AsyncClient


class CurrentApp:
    """Serves whichever fake the running test installed: one server per module, a fresh fake per test."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return  # nothing to start; uvicorn's "auto" lifespan carries on
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[CurrentApp, str]]:
    current = CurrentApp()
    with SandboxServer(current) as running:
        yield current, running.url


@pytest.fixture
def served_fake(server: tuple[CurrentApp, str]) -> tuple[GoogleFake, str]:
    current, url = server
    fake = GoogleFake(clients=[GoogleClient(CLIENT_ID, CLIENT_SECRET, (REDIRECT_URI,))], user=ADA)
    current.app = fake.app
    return fake, url


@pytest.fixture
async def google(served_fake: tuple[GoogleFake, str]) -> AsyncIterator[Google]:
    fake, url = served_fake
    async with httpx.AsyncClient(base_url=url, follow_redirects=False) as http:
        yield Google(fake, url, http)


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def query_of(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query, strict_parsing=True).items()}


async def authorize(google: Google, **overrides: str | None) -> httpx.Response:
    params: dict[str, str | None] = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "openid email profile",
        "state": "state-123",
        "nonce": "nonce-456",
    }
    params.update(overrides)
    return await google.http.get(
        "/o/oauth2/v2/auth", params={k: v for k, v in params.items() if v is not None}
    )


async def get_code(google: Google, challenge: str | None = None, **overrides: str | None) -> str:
    extra: dict[str, str | None] = {}
    if challenge is not None:
        extra = {"code_challenge": challenge, "code_challenge_method": "S256"}
    return query_of(await authorize(google, **extra, **overrides))["code"]


async def exchange(
    google: Google, code: str, verifier: str | None, **overrides: str | None
) -> httpx.Response:
    form: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "code_verifier": verifier,
    }
    form.update(overrides)
    return await google.http.post("/token", data={k: v for k, v in form.items() if v is not None})


async def id_token_for(google: Google) -> str:
    verifier, challenge = pkce()
    response = await exchange(google, await get_code(google, challenge), verifier)
    assert response.status_code == 200, response.text
    token: str = response.json()["id_token"]
    return token


def verify(google: Google, id_token: str) -> dict[str, Any]:
    jwks = jwt.PyJWKClient(f"{google.url}/oauth2/v3/certs", cache_jwk_set=False)
    key = jwks.get_signing_key_from_jwt(id_token)
    claims: dict[str, Any] = jwt.decode(
        id_token, key, algorithms=["RS256"], audience=CLIENT_ID, issuer=google.url
    )
    return claims


def at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def test_discovery_names_this_server(google: Google) -> None:
    response = await google.http.get("/.well-known/openid-configuration")

    assert response.status_code == 200
    document = response.json()
    assert {
        k: document[k]
        for k in (
            "issuer",
            "authorization_endpoint",
            "token_endpoint",
            "userinfo_endpoint",
            "jwks_uri",
            "revocation_endpoint",
        )
    } == {
        "issuer": google.url,
        "authorization_endpoint": f"{google.url}/o/oauth2/v2/auth",
        "token_endpoint": f"{google.url}/token",
        "userinfo_endpoint": f"{google.url}/v1/userinfo",
        "jwks_uri": f"{google.url}/oauth2/v3/certs",
        "revocation_endpoint": f"{google.url}/revoke",
    }
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    assert document["code_challenge_methods_supported"] == ["plain", "S256"]
    assert document["scopes_supported"] == ["openid", "email", "profile"]
    assert document["token_endpoint_auth_methods_supported"] == [
        "client_secret_post",
        "client_secret_basic",
    ]
    assert document["subject_types_supported"] == ["public"]
    assert "code" in document["response_types_supported"]


async def test_authorization_code_flow_with_pkce(google: Google) -> None:
    verifier, challenge = pkce()

    redirect = await authorize(google, code_challenge=challenge, code_challenge_method="S256")
    params = query_of(redirect)
    assert set(params) == {"code", "state", "scope", "authuser", "prompt"}
    assert params["state"] == "state-123"
    assert params["scope"] == f"{EMAIL_SCOPE} {PROFILE_SCOPE} openid"
    assert params["code"].startswith("4/0")
    assert google.fake.last_authorization_request is not None
    assert google.fake.last_authorization_request["code_challenge"] == challenge

    response = await exchange(google, params["code"], verifier)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    tokens = response.json()
    assert set(tokens) == {"access_token", "expires_in", "id_token", "scope", "token_type"}
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3599
    assert tokens["scope"] == f"{EMAIL_SCOPE} {PROFILE_SCOPE} openid"
    assert tokens["access_token"].startswith("ya29.")

    assert jwt.get_unverified_header(tokens["id_token"]) == {
        "alg": "RS256",
        "kid": google.fake.kid,
        "typ": "JWT",
    }
    claims = verify(google, tokens["id_token"])
    assert claims == {
        "iss": google.url,
        "azp": CLIENT_ID,
        "aud": CLIENT_ID,
        "sub": ADA.sub,
        "email": ADA.email,
        "email_verified": True,
        "name": ADA.name,
        "picture": ADA.picture,
        "nonce": "nonce-456",
        "at_hash": at_hash(tokens["access_token"]),
        "iat": claims["iat"],
        "exp": claims["iat"] + 3600,
    }

    userinfo = await google.http.get(
        "/v1/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert userinfo.status_code == 200
    assert userinfo.json() == {
        "sub": ADA.sub,
        "email": ADA.email,
        "email_verified": True,
        "name": ADA.name,
        "picture": ADA.picture,
    }


async def test_jwks_publishes_one_rsa_signing_key(google: Google) -> None:
    response = await google.http.get("/oauth2/v3/certs")

    assert response.status_code == 200
    [key] = response.json()["keys"]
    assert {k: key[k] for k in ("kty", "alg", "use", "kid", "e")} == {
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "kid": google.fake.kid,
        "e": "AQAB",
    }
    assert set(key) == {"kty", "alg", "use", "kid", "n", "e"}


async def test_client_secret_basic_and_openid_only_scope(google: Google) -> None:
    code = await get_code(google, scope="openid", nonce=None)
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    response = await google.http.post(
        "/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        headers={"Authorization": f"Basic {basic}"},
    )

    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "openid"
    claims = verify(google, response.json()["id_token"])
    assert set(claims) == {"iss", "azp", "aud", "sub", "at_hash", "iat", "exp"}


async def test_code_reuse_is_invalid_grant_and_revokes_the_first_tokens(google: Google) -> None:
    verifier, challenge = pkce()
    code = await get_code(google, challenge)
    first = await exchange(google, code, verifier)
    assert first.status_code == 200

    second = await exchange(google, code, verifier)

    assert second.status_code == 400
    assert second.json() == {
        "error": "invalid_grant",
        "error_description": "Code was already redeemed.",
    }
    userinfo = await google.http.get(
        "/v1/userinfo", headers={"Authorization": f"Bearer {first.json()['access_token']}"}
    )
    assert userinfo.status_code == 401
    assert userinfo.json()["error"] == "invalid_token"


async def test_wrong_code_verifier_is_invalid_grant_and_spends_the_code(google: Google) -> None:
    verifier, challenge = pkce()
    code = await get_code(google, challenge)
    other_verifier, _ = pkce()

    wrong = await exchange(google, code, other_verifier)
    retry = await exchange(google, code, verifier)

    assert wrong.status_code == 400
    assert wrong.json() == {"error": "invalid_grant", "error_description": "Invalid code verifier."}
    assert retry.status_code == 400
    assert retry.json()["error"] == "invalid_grant"


async def test_missing_code_verifier_is_invalid_grant(google: Google) -> None:
    _, challenge = pkce()
    response = await exchange(google, await get_code(google, challenge), None)

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "Missing code verifier.",
    }


async def test_unknown_code_is_invalid_grant(google: Google) -> None:
    response = await exchange(google, "4/0not-a-code", None)

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "Malformed auth code.",
    }


async def test_redirect_uri_must_match_at_the_token_endpoint(google: Google) -> None:
    verifier, challenge = pkce()
    code = await get_code(google, challenge)

    response = await exchange(google, code, verifier, redirect_uri="http://127.0.0.1:8000/other")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_expired_code_is_invalid_grant(google: Google) -> None:
    google.fake.code_ttl = 0
    verifier, challenge = pkce()

    response = await exchange(google, await get_code(google, challenge), verifier)

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "The code has expired.",
    }


async def test_wrong_client_secret_is_invalid_client(google: Google) -> None:
    verifier, challenge = pkce()
    code = await get_code(google, challenge)

    response = await exchange(google, code, verifier, client_secret="nope")

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client", "error_description": "Unauthorized"}
    assert response.headers["www-authenticate"] == 'Basic realm="sandbox"'
    # The code was not looked at, so the genuine client can still redeem it.
    assert (await exchange(google, code, verifier)).status_code == 200


async def test_unsupported_grant_type(google: Google) -> None:
    response = await exchange(google, "x", None, grant_type="password")

    assert response.status_code == 400
    assert response.json() == {
        "error": "unsupported_grant_type",
        "error_description": "Unsupported grant type: password",
    }


async def test_unregistered_redirect_uri_is_400_without_redirect(google: Google) -> None:
    response = await authorize(google, redirect_uri="https://attacker.example/callback")

    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.json() == {
        "error": "redirect_uri_mismatch",
        "error_description": "The redirect URI in the request, https://attacker.example/callback, "
        "does not match the ones authorized for the OAuth client.",
    }


async def test_unknown_client_is_401_without_redirect(google: Google) -> None:
    response = await authorize(google, client_id="nobody.apps.googleusercontent.com")

    assert response.status_code == 401
    assert "location" not in response.headers
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"state": None},
            {"error": "invalid_request", "error_description": "Missing required parameter: state"},
        ),
        (
            {"scope": "email profile"},
            {
                "error": "invalid_scope",
                "error_description": "The openid scope is required.",
                "state": "state-123",
            },
        ),
        (
            {"response_type": "token"},
            {
                "error": "unsupported_response_type",
                "error_description": "Only response_type=code is supported here.",
                "state": "state-123",
            },
        ),
        (
            {"code_challenge": "short", "code_challenge_method": "S256"},
            {
                "error": "invalid_request",
                "error_description": "Invalid code_challenge.",
                "state": "state-123",
            },
        ),
        (
            {"code_challenge": "a" * 43, "code_challenge_method": "S512"},
            {
                "error": "invalid_request",
                "error_description": "Unsupported code_challenge_method: S512",
                "state": "state-123",
            },
        ),
    ],
)
async def test_bad_authorization_requests_redirect_with_an_error(
    google: Google, overrides: dict[str, str | None], expected: dict[str, str]
) -> None:
    response = await authorize(google, **overrides)

    assert query_of(response) == expected


async def test_denied_consent_redirects_access_denied_once(google: Google) -> None:
    google.fake.deny_next_authorization()

    denied = await authorize(google)
    allowed = await authorize(google)

    assert query_of(denied) == {
        "error": "access_denied",
        "error_description": "The user denied the request.",
        "state": "state-123",
    }
    assert "code" in query_of(allowed)


async def test_login_hint_picks_a_known_user(google: Google) -> None:
    grace = GoogleUser(
        sub="2", email="grace@example.com", email_verified=False, name="Grace", picture=""
    )
    google.fake.users.append(grace)
    verifier, challenge = pkce()

    response = await exchange(
        google, await get_code(google, challenge, login_hint="grace@example.com"), verifier
    )

    claims = verify(google, response.json()["id_token"])
    assert (claims["sub"], claims["email"], claims["email_verified"]) == (
        "2",
        "grace@example.com",
        False,
    )


async def test_token_endpoint_fails_once_without_spending_the_code(google: Google) -> None:
    verifier, challenge = pkce()
    code = await get_code(google, challenge)
    google.fake.fail_token_endpoint_once()

    failed = await exchange(google, code, verifier)
    retried = await exchange(google, code, verifier)

    assert failed.status_code == 500
    assert failed.json() == {
        "error": "server_error",
        "error_description": "Sandbox: injected failure.",
    }
    assert retried.status_code == 200


async def test_knob_wrong_audience(google: Google) -> None:
    google.fake.tamper_next_id_token(wrong_audience=True)
    token = await id_token_for(google)

    with pytest.raises(jwt.InvalidAudienceError):
        verify(google, token)
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == WRONG_AUDIENCE
    verify(google, await id_token_for(google))  # one-shot: the next token is good


async def test_knob_wrong_nonce(google: Google) -> None:
    google.fake.tamper_next_id_token(wrong_nonce=True)

    claims = verify(google, await id_token_for(google))  # signature and aud are fine

    assert claims["nonce"] == WRONG_NONCE
    assert verify(google, await id_token_for(google))["nonce"] == "nonce-456"


async def test_knob_expired(google: Google) -> None:
    google.fake.tamper_next_id_token(expired=True)
    token = await id_token_for(google)

    with pytest.raises(jwt.ExpiredSignatureError):
        verify(google, token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] == claims["iat"] + 3600
    assert claims["iat"] < claims["exp"] < claims["iat"] + 7200


async def test_knob_foreign_key_keeps_the_published_kid(google: Google) -> None:
    google.fake.tamper_next_id_token(foreign_key=True)
    token = await id_token_for(google)

    assert jwt.get_unverified_header(token)["kid"] == google.fake.kid
    with pytest.raises(jwt.InvalidSignatureError):
        verify(google, token)
    verify(google, await id_token_for(google))


async def test_knob_wrong_issuer(google: Google) -> None:
    google.fake.tamper_next_id_token(wrong_issuer=True)
    token = await id_token_for(google)

    with pytest.raises(jwt.InvalidIssuerError):
        verify(google, token)
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == WRONG_ISSUER


async def test_rotated_key_is_published_next_to_the_old_one(google: Google) -> None:
    old_kid = google.fake.kid
    new_kid = google.fake.rotate_signing_key()
    token = await id_token_for(google)

    keys = (await google.http.get("/oauth2/v3/certs")).json()["keys"]
    assert [k["kid"] for k in keys] == [new_kid, old_kid]
    assert jwt.get_unverified_header(token)["kid"] == new_kid
    verify(google, token)


async def test_userinfo_needs_a_bearer_token(google: Google) -> None:
    missing = await google.http.get("/v1/userinfo")
    unknown = await google.http.get("/v1/userinfo", headers={"Authorization": "Bearer ya29.nope"})

    assert missing.status_code == 401
    assert missing.json() == {
        "error": "invalid_request",
        "error_description": "Missing access token.",
    }
    assert unknown.status_code == 401
    assert unknown.headers["www-authenticate"] == 'Bearer realm="sandbox", error="invalid_token"'


async def test_revoked_access_token_stops_working(google: Google) -> None:
    verifier, challenge = pkce()
    tokens = (await exchange(google, await get_code(google, challenge), verifier)).json()

    revoked = await google.http.post("/revoke", data={"token": tokens["access_token"]})
    userinfo = await google.http.get(
        "/v1/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )

    assert revoked.status_code == 200
    assert userinfo.status_code == 401
