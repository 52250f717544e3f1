"""Google's OpenID Connect endpoints as Oja talks to them: discovery, JWKS, the code exchange and
the ID-token check.

The code is exchanged with Oja's own httpx client (Authlib's runs on httpx2 here and takes no httpx
transport); the ID token's signature (JWKS, RS256), ``iss``, ``aud`` (and ``azp``), ``exp`` and
``nonce`` are checked with PyJWT. Discovery and JWKS are cached per process. Tests pass a
``transport`` to talk to the sandbox fake.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

from oja.core.http import RetryTransport
from oja.identity.config import GoogleSettings
from oja.identity.digests import same_digest
from oja.identity.google.errors import (
    GoogleInvalidCode,
    GoogleInvalidIdToken,
    GoogleNotConfigured,
    GoogleUnavailable,
)

GOOGLE_ISSUERS = {"https://accounts.google.com": "accounts.google.com"}
METADATA_TTL = 3600.0
JWKS_MIN_REFRESH = 30.0


@dataclass(frozen=True)
class GoogleConfig:
    discovery_url: str
    client_id: str
    client_secret: str
    redirect_uri: str


def config(settings: GoogleSettings, public_url: str) -> GoogleConfig:
    """The configuration, or a 503 ``not_configured`` that names every missing variable."""
    missing = [
        name
        for name, value in (
            ("OJA_GOOGLE_CLIENT_ID", settings.google_client_id),
            ("OJA_GOOGLE_CLIENT_SECRET", settings.google_client_secret),
            ("OJA_GOOGLE_DISCOVERY_URL", settings.google_discovery_url),
        )
        if not value
    ]
    if missing:
        raise GoogleNotConfigured(
            f"Google Sign-In is not configured: set {', '.join(missing)}.",
            feature="google_sign_in",
            settings=missing,
        )
    assert settings.google_client_id
    assert settings.google_client_secret
    return GoogleConfig(
        discovery_url=settings.google_discovery_url,
        client_id=settings.google_client_id,
        client_secret=settings.google_client_secret,
        redirect_uri=settings.google_redirect_uri
        or f"{public_url.rstrip('/')}/auth/google/callback",
    )


@dataclass
class _Cached:
    value: dict[str, Any]
    fetched_at: float


@dataclass
class GoogleClient:
    """Discovery and JWKS, cached per process (JWKS refetched when an unknown ``kid`` shows up)."""

    timeout: float = 10.0
    retries: int = 2
    transport: httpx.AsyncBaseTransport | None = None
    _metadata: dict[str, _Cached] = field(default_factory=dict)
    _jwks: dict[str, _Cached] = field(default_factory=dict)

    def _http(self) -> httpx.AsyncClient:
        inner = self.transport or httpx.AsyncHTTPTransport()
        return httpx.AsyncClient(
            timeout=self.timeout,
            transport=RetryTransport(inner, retries=self.retries),
            headers={"User-Agent": "oja", "Accept": "application/json"},
        )

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            async with self._http() as http:
                response = await http.get(url)
        except httpx.HTTPError as exc:
            raise GoogleUnavailable(f"Google's {what} is unreachable.") from exc
        if response.status_code != 200:
            raise GoogleUnavailable(
                f"Google's {what} answered {response.status_code}.",
                details={"status": response.status_code},
            )
        try:
            payload = response.json()
        except ValueError as exc:
            raise GoogleUnavailable(f"Google's {what} did not answer JSON.") from exc
        if not isinstance(payload, dict):
            raise GoogleUnavailable(f"Google's {what} did not answer a JSON object.")
        return payload

    async def metadata(self, discovery_url: str) -> dict[str, Any]:
        cached = self._metadata.get(discovery_url)
        if cached is not None and time.monotonic() - cached.fetched_at < METADATA_TTL:
            return cached.value
        document = await self._get_json(discovery_url, "discovery document")
        needed = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
        if any(not isinstance(document.get(k), str) for k in needed):
            raise GoogleUnavailable("Google's discovery document is incomplete.")
        self._metadata[discovery_url] = _Cached(document, time.monotonic())
        return document

    async def signing_key(self, jwks_uri: str, kid: str | None) -> jwt.PyJWK:
        cached = self._jwks.get(jwks_uri)
        for attempt in range(2):
            stale = cached is None or (
                attempt == 1 and time.monotonic() - cached.fetched_at >= JWKS_MIN_REFRESH
            )
            if stale:
                cached = _Cached(await self._get_json(jwks_uri, "key set"), time.monotonic())
                self._jwks[jwks_uri] = cached
            assert cached is not None
            for key in cached.value.get("keys", []):
                if isinstance(key, dict) and key.get("kid") == kid and key.get("kty") == "RSA":
                    return jwt.PyJWK(key, algorithm="RS256")
        raise GoogleInvalidIdToken("The ID token is signed by a key Google does not publish.")

    async def exchange(
        self, cfg: GoogleConfig, metadata: dict[str, Any], *, code: str, verifier: str
    ) -> dict[str, Any]:
        """The token response for ``code``; 401 if Google rejects the code, 502 if it fails.

        A plain form POST (``client_secret_post``), sent once: a code is single-use, so a retry
        could only fail.
        """
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": cfg.redirect_uri,
            "client_id": cfg.client_id,
            "client_secret": cfg.client_secret,
            "code_verifier": verifier,
        }
        try:
            async with self._http() as http:
                response = await http.post(metadata["token_endpoint"], data=form)
        except httpx.HTTPError as exc:
            raise GoogleUnavailable("Google's token endpoint is unreachable.") from exc
        try:
            payload = response.json()
        except ValueError:
            payload = None
        payload = payload if isinstance(payload, dict) else {}
        if response.status_code >= 500 or (response.is_error and not payload):
            raise GoogleUnavailable(
                f"Google's token endpoint answered {response.status_code}.",
                details={"status": response.status_code},
            )
        error = payload.get("error")
        if response.is_error or error:
            if error in {"invalid_grant", "invalid_request"}:
                raise GoogleInvalidCode(
                    "Google rejected the authorization code.", details={"error": error}
                )
            # invalid_client, unauthorized_client…: our configuration, not the user's code.
            raise GoogleUnavailable(
                "Google refused the token request.",
                details={"error": error, "status": response.status_code},
            )
        if not isinstance(payload.get("id_token"), str):
            raise GoogleUnavailable("Google's token response has no ID token.")
        return payload

    async def verify_id_token(
        self, cfg: GoogleConfig, metadata: dict[str, Any], id_token: str, *, nonce: str
    ) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as exc:
            raise GoogleInvalidIdToken("The ID token is malformed.") from exc
        if header.get("alg") != "RS256":
            raise GoogleInvalidIdToken("The ID token is not signed with RS256.")
        # Not oja.identity.tokens.decode: that reads only the tokens this service signs (HS256, its
        # own issuer and audience); an ID token is Google's, checked against Google's published keys.
        key = await self.signing_key(metadata["jwks_uri"], header.get("kid"))
        issuer = metadata["issuer"]
        issuers = [issuer, *([GOOGLE_ISSUERS[issuer]] if issuer in GOOGLE_ISSUERS else [])]
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                algorithms=["RS256"],
                audience=cfg.client_id,
                issuer=issuers,
                leeway=30,
                options={"require": ["iss", "aud", "sub", "exp", "iat"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise GoogleInvalidIdToken("The ID token has expired.") from exc
        except jwt.InvalidAudienceError as exc:
            raise GoogleInvalidIdToken("The ID token was issued to another client.") from exc
        except jwt.InvalidIssuerError as exc:
            raise GoogleInvalidIdToken("The ID token was issued by someone else.") from exc
        except jwt.PyJWTError as exc:
            raise GoogleInvalidIdToken("The ID token is not valid.") from exc
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != cfg.client_id:
            raise GoogleInvalidIdToken("The ID token was issued to another client.")
        if not same_digest(str(claims.get("nonce", "")), nonce):
            raise GoogleInvalidIdToken("The ID token does not answer this sign-in (nonce).")
        return claims
