"""The fake works with the client the identity module uses: Authlib's Starlette integration."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from authlib.deprecate import AuthlibDeprecationWarning  # type: ignore[import-untyped]
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from joserfc.errors import JoseError
from starlette.middleware.sessions import SessionMiddleware

from oja.sandbox.google import GoogleClient, GoogleFake, GoogleUser
from tests.fakes import serving

with warnings.catch_warnings():
    # Authlib 1.9 warns on import that it runs on httpx rather than httpx2.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.starlette_client import OAuth  # type: ignore[import-untyped]

CLIENT_ID = "authlib-test.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-authlib"
REDIRECT_URI = "http://testserver/callback"
USER = GoogleUser(sub="42", email="grace@example.com", name="Grace Hopper", picture="https://x/g")


@pytest.fixture
def google() -> Iterator[tuple[GoogleFake, str]]:
    yield from serving(
        GoogleFake(clients=[GoogleClient(CLIENT_ID, CLIENT_SECRET, (REDIRECT_URI,))], user=USER)
    )


def relying_party(discovery_url: str) -> FastAPI:
    oauth = OAuth()
    oauth.register(
        "google",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        server_metadata_url=discovery_url,
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
    )
    app = FastAPI()
    app.add_middleware(SessionMiddleware, secret_key="test-session-secret")

    @app.get("/login")
    async def login(request: Request) -> Response:
        response: Response = await oauth.google.authorize_redirect(request, REDIRECT_URI)
        return response

    @app.get("/callback")
    async def callback(request: Request) -> JSONResponse:
        # Authlib checks `aud` only when told to (by default it relies on `azp`); passing
        # claims_options replaces its default `iss` check, so both are named here.
        issuer = (await oauth.google.load_server_metadata())["issuer"]
        token: dict[str, Any] = await oauth.google.authorize_access_token(
            request,
            claims_options={"iss": {"values": [issuer]}, "aud": {"values": [CLIENT_ID]}},
        )
        return JSONResponse(dict(token["userinfo"]))

    return app


@pytest.mark.parametrize(
    ("knob", "rejection"),
    [
        (None, None),
        ("wrong_audience", "invalid_claim: Invalid claim: 'aud'"),
        ("wrong_nonce", "invalid_claim: Invalid claim: 'nonce'"),
        ("expired", "expired_token: The token is expired"),
        ("foreign_key", "bad_signature: "),
        ("wrong_issuer", "invalid_claim: Invalid claim: 'iss'"),
    ],
)
async def test_authlib_signs_in_and_rejects_each_spoiled_token(
    google: tuple[GoogleFake, str], knob: str | None, rejection: str | None
) -> None:
    fake, url = google
    app = relying_party(f"{url}/.well-known/openid-configuration")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        login = await browser.get("/login")
        assert login.status_code == 302
        async with httpx.AsyncClient() as to_google:
            consent = await to_google.get(login.headers["location"])
        assert consent.status_code == 302
        assert fake.last_authorization_request is not None
        assert fake.last_authorization_request["code_challenge_method"] == "S256"
        if knob is not None:
            fake.tamper_next_id_token(**{knob: True})
        callback = consent.headers["location"].removeprefix("http://testserver")

        if knob is None:
            response = await browser.get(callback)
            assert response.status_code == 200
            claims = response.json()
            assert {
                k: claims[k] for k in ("iss", "aud", "sub", "email", "email_verified", "name")
            } == {
                "iss": url,
                "aud": CLIENT_ID,
                "sub": "42",
                "email": "grace@example.com",
                "email_verified": True,
                "name": "Grace Hopper",
            }
        else:
            with pytest.raises(JoseError) as caught:
                await browser.get(callback)
            assert str(caught.value) == rejection
