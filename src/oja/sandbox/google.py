"""A Google OpenID Connect provider, shaped after accounts.google.com's published behaviour.

Paths mirror Google's, all on one host: discovery ``/.well-known/openid-configuration``,
authorization ``/o/oauth2/v2/auth``, token ``/token``, userinfo ``/v1/userinfo``, JWKS
``/oauth2/v3/certs``, revocation ``/revoke``. Only the authorization-code flow (with optional PKCE,
S256 or plain) is implemented; the discovery document still lists what Google lists, so clients
configure themselves as they would in production.

The consent screen is skipped: the authorization endpoint signs in ``fake.user`` at once (or the
known user whose email or ``sub`` is the ``login_hint``). Codes are single-use and expire after
``code_ttl`` seconds; presenting a code twice revokes the access tokens it produced (RFC 6749
§4.1.2). ID tokens are RS256 JWTs signed with an RSA key generated at start and published in the
JWKS.

Knobs for negative tests live on :class:`GoogleFake`: :meth:`~GoogleFake.tamper_next_id_token`,
:meth:`~GoogleFake.fail_token_endpoint_once`, :meth:`~GoogleFake.deny_next_authorization`,
:meth:`~GoogleFake.rotate_signing_key`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from jwt.algorithms import RSAAlgorithm

from oja.sandbox.base import fake_app

DEFAULT_CLIENT_ID = "oja-sandbox.apps.googleusercontent.com"
DEFAULT_CLIENT_SECRET = "GOCSPX-sandbox-client-secret"  # noqa: S105 (a fake's public test value)
DEFAULT_REDIRECT_URIS = (
    "http://127.0.0.1:8000/auth/google/callback",
    "http://localhost:8000/auth/google/callback",
)
WRONG_AUDIENCE = "someone-else.apps.googleusercontent.com"
"""The ``aud`` of a token tampered with ``wrong_audience``."""
WRONG_NONCE = "sandbox-wrong-nonce"
"""The ``nonce`` of a token tampered with ``wrong_nonce``."""
WRONG_ISSUER = "https://accounts.google.com.attacker.example"
"""The ``iss`` of a token tampered with ``wrong_issuer``."""

_SCOPE_URLS = {
    "email": "https://www.googleapis.com/auth/userinfo.email",
    "profile": "https://www.googleapis.com/auth/userinfo.profile",
}
_SCOPE_NAMES = {url: name for name, url in _SCOPE_URLS.items()}
_PKCE_VALUE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")


@dataclass(frozen=True, slots=True)
class GoogleUser:
    sub: str = "104117288015376432951"
    email: str = "ada.lovelace@example.com"
    email_verified: bool = True
    name: str = "Ada Lovelace"
    picture: str = "https://lh3.googleusercontent.com/a/sandbox-ada-lovelace=s96-c"


@dataclass(frozen=True, slots=True)
class GoogleClient:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IdTokenTamper:
    """How to spoil the next ID token; each flag is one attack an ID-token check must catch."""

    wrong_audience: bool = False
    """``aud`` names another client while ``azp`` still names yours: only an ``aud`` check catches it."""
    wrong_nonce: bool = False
    expired: bool = False
    foreign_key: bool = False
    """Signed by a key that is not in the JWKS, under the published ``kid``."""
    wrong_issuer: bool = False


@dataclass(slots=True)
class _Grant:
    client_id: str
    redirect_uri: str
    user: GoogleUser
    scopes: frozenset[str]
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str
    expires_at: float
    access_tokens: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _AccessToken:
    client_id: str
    user: GoogleUser
    scopes: frozenset[str]
    expires_at: float


@dataclass(frozen=True, slots=True)
class _SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls) -> _SigningKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(kid=secrets.token_hex(20), private_key=key)

    def public_jwk(self) -> dict[str, Any]:
        jwk = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": jwk["n"],
            "e": jwk["e"],
        }


class _OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


class GoogleFake:
    """State and knobs of the fake; ``app`` is the ASGI app to serve.

    ``issuer`` defaults to the base URL the request arrived on, so discovery, ``iss`` and the
    endpoint URLs name the address the client used. Set it when clients reach the fake under two
    names.
    """

    def __init__(
        self,
        *,
        clients: Iterable[GoogleClient] | None = None,
        user: GoogleUser | None = None,
        issuer: str | None = None,
        code_ttl: float = 600.0,
        access_token_ttl: int = 3599,
        id_token_ttl: int = 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if clients is None:
            clients = [
                GoogleClient(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REDIRECT_URIS)
            ]
        self.clients = {c.client_id: c for c in clients}
        self.user = user or GoogleUser()
        """The user who consents when the request names no known ``login_hint``."""
        self.users: list[GoogleUser] = []
        """Further users a ``login_hint`` (email or sub) can select."""
        self.issuer = issuer
        self.code_ttl = code_ttl
        self.access_token_ttl = access_token_ttl
        self.id_token_ttl = id_token_ttl
        self.clock = clock
        self.last_authorization_request: dict[str, str] | None = None
        """Query parameters of the last authorization request, to assert what a client sent."""
        self._keys = [_SigningKey.generate()]
        self._foreign_key: _SigningKey | None = None  # made on first use: key generation is slow
        self._grants: dict[str, _Grant] = {}
        self._redeemed: dict[str, _Grant] = {}
        self._tokens: dict[str, _AccessToken] = {}
        self._tamper: IdTokenTamper | None = None
        self._token_failures: list[int] = []
        self._denials: list[str] = []
        self._lock = threading.Lock()
        self.app = self._build_app()

    # -- knobs ---------------------------------------------------------------------------------

    def register_client(
        self, client_id: str, client_secret: str, redirect_uris: Iterable[str]
    ) -> GoogleClient:
        client = GoogleClient(client_id, client_secret, tuple(redirect_uris))
        with self._lock:
            self.clients[client_id] = client
        return client

    def tamper_next_id_token(
        self,
        *,
        wrong_audience: bool = False,
        wrong_nonce: bool = False,
        expired: bool = False,
        foreign_key: bool = False,
        wrong_issuer: bool = False,
    ) -> None:
        """Spoil the next ID token the token endpoint issues (once)."""
        with self._lock:
            self._tamper = IdTokenTamper(
                wrong_audience, wrong_nonce, expired, foreign_key, wrong_issuer
            )

    def fail_token_endpoint_once(self, status: int = 500) -> None:
        """The next token request answers ``status`` without looking at (or spending) the code."""
        with self._lock:
            self._token_failures.append(status)

    def deny_next_authorization(self, error: str = "access_denied") -> None:
        """The next authorization request redirects back with ``error`` (the user said no)."""
        with self._lock:
            self._denials.append(error)

    def rotate_signing_key(self) -> str:
        """Sign with a new key from now on; the JWKS lists it first and keeps the old one."""
        key = _SigningKey.generate()
        with self._lock:
            self._keys = [key, self._keys[0]]
        return key.kid

    @property
    def kid(self) -> str:
        """The ``kid`` of the current signing key."""
        return self._keys[0].kid

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.public_jwk() for key in self._keys]}

    # -- protocol ------------------------------------------------------------------------------

    def _issuer(self, request: Request) -> str:
        return self.issuer or str(request.base_url).rstrip("/")

    def _discovery(self, issuer: str) -> dict[str, Any]:
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/o/oauth2/v2/auth",
            "token_endpoint": f"{issuer}/token",
            "userinfo_endpoint": f"{issuer}/v1/userinfo",
            "revocation_endpoint": f"{issuer}/revoke",
            "jwks_uri": f"{issuer}/oauth2/v3/certs",
            "response_types_supported": [
                "code",
                "token",
                "id_token",
                "code token",
                "code id_token",
                "token id_token",
                "code token id_token",
                "none",
            ],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": [
                "aud",
                "email",
                "email_verified",
                "exp",
                "family_name",
                "given_name",
                "iat",
                "iss",
                "name",
                "picture",
                "sub",
            ],
            "code_challenge_methods_supported": ["plain", "S256"],
            "grant_types_supported": [
                "authorization_code",
                "refresh_token",
                "urn:ietf:params:oauth:grant-type:device_code",
                "urn:ietf:params:oauth:grant-type:jwt-bearer",
            ],
        }

    def _authorize(self, params: dict[str, str]) -> Response:
        self.last_authorization_request = dict(params)
        client_id = params.get("client_id")
        if not client_id:
            return _json_error("invalid_request", "Missing required parameter: client_id", 400)
        client = self.clients.get(client_id)
        if client is None:
            return _json_error("invalid_client", "The OAuth client was not found.", 401)
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri:
            return _json_error("invalid_request", "Missing required parameter: redirect_uri", 400)
        if redirect_uri not in client.redirect_uris:
            # Never redirect to an unregistered URI (RFC 6749 §4.1.2.1): answer here instead.
            return _json_error(
                "redirect_uri_mismatch",
                f"The redirect URI in the request, {redirect_uri}, does not match the ones "
                "authorized for the OAuth client.",
                400,
            )
        state = params.get("state")
        try:
            grant = self._grant_for(client, redirect_uri, params)
        except _OAuthError as exc:
            return _redirect(
                redirect_uri, {"error": exc.error, "error_description": exc.description}, state
            )
        code = f"4/0{secrets.token_urlsafe(48)}"
        with self._lock:
            self._grants[code] = grant
        return _redirect(
            redirect_uri,
            {
                "code": code,
                "scope": _scope_string(grant.scopes),
                "authuser": "0",
                "prompt": "consent",
            },
            state,
        )

    def _grant_for(self, client: GoogleClient, redirect_uri: str, params: dict[str, str]) -> _Grant:
        response_type = params.get("response_type")
        if not response_type:
            raise _OAuthError("invalid_request", "Missing required parameter: response_type")
        if response_type != "code":
            raise _OAuthError(
                "unsupported_response_type", "Only response_type=code is supported here."
            )
        scope = params.get("scope")
        if not scope:
            raise _OAuthError("invalid_request", "Missing required parameter: scope")
        scopes = frozenset(_SCOPE_NAMES.get(s, s) for s in scope.split())
        if "openid" not in scopes:
            raise _OAuthError("invalid_scope", "The openid scope is required.")
        unknown = scopes - {"openid", "email", "profile"}
        if unknown:
            raise _OAuthError("invalid_scope", f"Unknown scope: {' '.join(sorted(unknown))}")
        if not params.get("state"):
            raise _OAuthError("invalid_request", "Missing required parameter: state")
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method", "plain")
        if challenge is None and "code_challenge_method" in params:
            raise _OAuthError("invalid_request", "code_challenge_method without code_challenge")
        if method not in {"S256", "plain"}:
            raise _OAuthError("invalid_request", f"Unsupported code_challenge_method: {method}")
        if challenge is not None and not _PKCE_VALUE.match(challenge):
            raise _OAuthError("invalid_request", "Invalid code_challenge.")
        with self._lock:
            denial = self._denials.pop(0) if self._denials else None
        if denial is not None:
            raise _OAuthError(denial, "The user denied the request.")
        return _Grant(
            client_id=client.client_id,
            redirect_uri=redirect_uri,
            user=self._user_for(params.get("login_hint")),
            scopes=scopes,
            nonce=params.get("nonce"),
            code_challenge=challenge,
            code_challenge_method=method,
            expires_at=self.clock() + self.code_ttl,
        )

    def _user_for(self, login_hint: str | None) -> GoogleUser:
        if login_hint:
            for user in [self.user, *self.users]:
                if login_hint in (user.email, user.sub):
                    return user
        return self.user

    def _token(self, form: dict[str, str], authorization: str | None, issuer: str) -> JSONResponse:
        with self._lock:
            failure = self._token_failures.pop(0) if self._token_failures else None
        if failure is not None:
            return _json_error("server_error", "Sandbox: injected failure.", failure)
        client = self._authenticate_client(form, authorization)
        grant_type = form.get("grant_type")
        if not grant_type:
            raise _OAuthError("invalid_request", "Missing required parameter: grant_type")
        if grant_type != "authorization_code":
            raise _OAuthError("unsupported_grant_type", f"Unsupported grant type: {grant_type}")
        code = form.get("code")
        if not code:
            raise _OAuthError("invalid_request", "Missing required parameter: code")
        with self._lock:
            grant = self._grants.pop(code, None)
            if grant is None:
                replayed = self._redeemed.get(code)
                if replayed is not None:
                    for token in replayed.access_tokens:
                        self._tokens.pop(token, None)
                    raise _OAuthError("invalid_grant", "Code was already redeemed.")
                raise _OAuthError("invalid_grant", "Malformed auth code.")
            self._redeemed[code] = grant
        if grant.client_id != client.client_id:
            raise _OAuthError("invalid_grant", "The code was issued to another client.")
        if self.clock() >= grant.expires_at:
            raise _OAuthError("invalid_grant", "The code has expired.")
        redirect_uri = form.get("redirect_uri")
        if not redirect_uri:
            raise _OAuthError("invalid_request", "Missing required parameter: redirect_uri")
        if redirect_uri != grant.redirect_uri:
            raise _OAuthError(
                "invalid_grant", "redirect_uri does not match the authorization request."
            )
        _check_pkce(grant, form.get("code_verifier"))
        return JSONResponse(
            self._issue_tokens(grant, issuer),
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    def _authenticate_client(self, form: dict[str, str], authorization: str | None) -> GoogleClient:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise _OAuthError("invalid_client", "Malformed Basic credentials.", 401) from exc
            basic_id, _, basic_secret = decoded.partition(":")
            client_id, secret = unquote(basic_id), unquote(basic_secret)
        if not client_id:
            raise _OAuthError("invalid_client", "Client authentication is required.", 401)
        client = self.clients.get(client_id)
        if client is None:
            raise _OAuthError("invalid_client", "The OAuth client was not found.", 401)
        if secret is None or not secrets.compare_digest(secret, client.client_secret):
            raise _OAuthError("invalid_client", "Unauthorized", 401)
        return client

    def _issue_tokens(self, grant: _Grant, issuer: str) -> dict[str, Any]:
        now = int(self.clock())
        access_token = f"ya29.{secrets.token_urlsafe(64)}"
        with self._lock:
            self._tokens[access_token] = _AccessToken(
                grant.client_id, grant.user, grant.scopes, now + self.access_token_ttl
            )
            grant.access_tokens.append(access_token)
            tamper, self._tamper = self._tamper or IdTokenTamper(), None
            signing_key = self._keys[0]
            if tamper.foreign_key:
                self._foreign_key = self._foreign_key or _SigningKey.generate()
                signing_key = self._foreign_key
            kid = self._keys[0].kid
        claims: dict[str, Any] = {
            "iss": WRONG_ISSUER if tamper.wrong_issuer else issuer,
            "azp": grant.client_id,
            "aud": WRONG_AUDIENCE if tamper.wrong_audience else grant.client_id,
            "sub": grant.user.sub,
            **_user_claims(grant.user, grant.scopes),
            "at_hash": _at_hash(access_token),
        }
        if grant.nonce is not None or tamper.wrong_nonce:
            claims["nonce"] = WRONG_NONCE if tamper.wrong_nonce else grant.nonce
        issued_at = now - 2 * self.id_token_ttl if tamper.expired else now
        claims["iat"] = issued_at
        claims["exp"] = issued_at + self.id_token_ttl
        id_token = jwt.encode(
            claims, signing_key.private_key, algorithm="RS256", headers={"kid": kid}
        )
        return {
            "access_token": access_token,
            "expires_in": self.access_token_ttl,
            "scope": _scope_string(grant.scopes),
            "token_type": "Bearer",
            "id_token": id_token,
        }

    def _userinfo(self, authorization: str | None) -> JSONResponse:
        if not authorization or not authorization.lower().startswith("bearer "):
            return _json_error(
                "invalid_request",
                "Missing access token.",
                401,
                headers={"WWW-Authenticate": 'Bearer realm="sandbox"'},
            )
        token = authorization[7:].strip()
        with self._lock:
            record = self._tokens.get(token)
        if record is None or self.clock() >= record.expires_at:
            return _json_error(
                "invalid_token",
                "Invalid Credentials",
                401,
                headers={"WWW-Authenticate": 'Bearer realm="sandbox", error="invalid_token"'},
            )
        return JSONResponse({"sub": record.user.sub, **_user_claims(record.user, record.scopes)})

    def _revoke(self, token: str | None) -> JSONResponse:
        with self._lock:
            if token and self._tokens.pop(token, None) is not None:
                return JSONResponse({})
        return _json_error("invalid_token", "Token expired or revoked", 400)

    def _build_app(self) -> FastAPI:
        app = fake_app("Google")

        @app.get("/.well-known/openid-configuration")
        async def discovery(request: Request) -> dict[str, Any]:
            return self._discovery(self._issuer(request))

        @app.get("/o/oauth2/v2/auth")
        async def authorize(request: Request) -> Response:
            return self._authorize(dict(request.query_params))

        @app.post("/token")
        async def token(request: Request) -> JSONResponse:
            form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
            try:
                return self._token(
                    form, request.headers.get("authorization"), self._issuer(request)
                )
            except _OAuthError as exc:
                headers = (
                    {"WWW-Authenticate": 'Basic realm="sandbox"'} if exc.status == 401 else None
                )
                return _json_error(exc.error, exc.description, exc.status, headers=headers)

        @app.api_route("/v1/userinfo", methods=["GET", "POST"])
        async def userinfo(request: Request) -> JSONResponse:
            return self._userinfo(request.headers.get("authorization"))

        @app.get("/oauth2/v3/certs")
        async def certs() -> JSONResponse:
            return JSONResponse(self.jwks(), headers={"Cache-Control": "public, max-age=300"})

        @app.post("/revoke")
        async def revoke(request: Request) -> JSONResponse:
            form = await request.form()
            token = form.get("token") or request.query_params.get("token")
            return self._revoke(token if isinstance(token, str) else None)

        return app


def _user_claims(user: GoogleUser, scopes: frozenset[str]) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    if "email" in scopes:
        claims["email"] = user.email
        claims["email_verified"] = user.email_verified
    if "profile" in scopes:
        claims["name"] = user.name
        claims["picture"] = user.picture
    return claims


def _scope_string(scopes: frozenset[str]) -> str:
    """Google answers with the long form of ``email`` and ``profile``."""
    return " ".join(sorted(_SCOPE_URLS.get(s, s) for s in scopes))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _at_hash(access_token: str) -> str:
    return _b64url(hashlib.sha256(access_token.encode("ascii")).digest()[:16])


def _check_pkce(grant: _Grant, verifier: str | None) -> None:
    if grant.code_challenge is None:
        return
    if not verifier:
        raise _OAuthError("invalid_grant", "Missing code verifier.")
    if not _PKCE_VALUE.match(verifier):
        raise _OAuthError("invalid_grant", "Invalid code verifier.")
    if grant.code_challenge_method == "S256":
        expected = _b64url(hashlib.sha256(verifier.encode("ascii")).digest())
    else:
        expected = verifier
    if not secrets.compare_digest(expected, grant.code_challenge):
        raise _OAuthError("invalid_grant", "Invalid code verifier.")


def _redirect(redirect_uri: str, params: dict[str, str], state: str | None) -> RedirectResponse:
    if state:
        params = {**params, "state": state}
    parts = urlsplit(redirect_uri)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *params.items()])
    location = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    return RedirectResponse(location, status_code=302, headers={"Cache-Control": "no-store"})


def _json_error(
    error: str, description: str, status: int, *, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )
