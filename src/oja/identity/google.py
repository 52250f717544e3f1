"""Google Sign-In: OpenID Connect authorization-code flow with PKCE (S256), state and nonce.

``start`` keeps ``state`` (as an HMAC), ``nonce`` and the PKCE verifier in an ``oauth_state`` row,
single use, expiring; nothing rides in a cookie. ``finish`` spends that row in its own committed
transaction *before* talking to Google, so a replayed or failed callback can never be retried with
the same state. Authlib builds the authorization request (PKCE S256); the code is exchanged with
Oja's own httpx client (Authlib's runs on httpx2 here and takes no httpx transport); the signature
(JWKS, RS256), ``iss``, ``aud`` (and ``azp``), ``exp`` and ``nonce`` are checked with PyJWT. No
database transaction is open while Google is called.

Accounts are keyed by ``(iss, sub)`` in ``user_identity``. A first sign-in links to an existing
account only through an email Google marks verified; if that account's own email was never
verified, its password and sessions are dropped, since whoever set them never proved they own the
address (account pre-hijacking).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import httpx
import jwt
import structlog
from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.http import RetryTransport
from oja.core.ids import uuid7
from oja.identity import repository, service
from oja.identity.config import GoogleSettings
from oja.identity.digests import keyed_digest, same_digest
from oja.identity.errors import (
    AccountDisabled,
    GoogleAccountConflict,
    GoogleError,
    GoogleInvalidCode,
    GoogleInvalidIdToken,
    GoogleNotConfigured,
    GoogleUnavailable,
)
from oja.identity.models import OAuthState, User, UserIdentity
from oja.identity.schemas import GoogleSignIn, MfaChallenge
from oja.identity.service import TokenContext

with warnings.catch_warnings():
    # Authlib 1.9 warns at import that it runs on httpx rather than httpx2; httpx is what Oja uses.
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.common.security import generate_token
    from authlib.integrations.httpx_client import (
        AsyncOAuth2Client,
    )

log = structlog.get_logger("oja.identity")

PROVIDER = "google"
SCOPE = "openid email profile"
GOOGLE_ISSUERS = {"https://accounts.google.com": "accounts.google.com"}
METADATA_TTL = 3600.0
JWKS_MIN_REFRESH = 30.0
_state = cast(Table, OAuthState.__table__)


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


def state_digest(secret: str, state: str) -> str:
    return keyed_digest(secret, "oauth-state", state)


async def start(
    db: AsyncSession,
    client: GoogleClient,
    cfg: GoogleConfig,
    *,
    secret: str,
    ttl: int,
    now: datetime,
) -> str:
    """Record a new sign-in attempt and return Google's authorization URL for it."""
    metadata = await client.metadata(cfg.discovery_url)
    state, nonce, verifier = generate_token(43), generate_token(43), generate_token(64)
    db.add(
        OAuthState(
            id=uuid7(),
            provider=PROVIDER,
            state_hash=state_digest(secret, state),
            nonce=nonce,
            code_verifier=verifier,
            redirect_uri=cfg.redirect_uri,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
    )
    await db.flush()
    oauth = AsyncOAuth2Client(
        client_id=cfg.client_id,
        scope=SCOPE,
        redirect_uri=cfg.redirect_uri,
        code_challenge_method="S256",
    )
    async with oauth:
        url, _ = oauth.create_authorization_url(
            metadata["authorization_endpoint"],
            state=state,
            code_verifier=verifier,
            nonce=nonce,
            prompt="select_account",
        )
    return str(url)


@dataclass(frozen=True)
class PendingSignIn:
    nonce: str
    code_verifier: str


async def spend_state(
    db: AsyncSession, *, state: str | None, secret: str, now: datetime
) -> PendingSignIn:
    """Use the sign-in attempt ``state`` names, once; 400 if unknown, used or expired."""
    row = None
    if state:
        row = (
            await db.execute(
                update(_state)
                .where(
                    _state.c.state_hash == state_digest(secret, state),
                    _state.c.provider == PROVIDER,
                    _state.c.used_at.is_(None),
                    _state.c.expires_at > now,
                )
                .values(used_at=now)
                .returning(_state.c.nonce, _state.c.code_verifier)
            )
        ).first()
    if row is None:
        raise GoogleError(
            "This sign-in is unknown, expired or already used: start again at /auth/google.",
            code="invalid_state",
        )
    return PendingSignIn(nonce=row.nonce, code_verifier=row.code_verifier)


async def sign_in(
    db: AsyncSession,
    ctx: TokenContext,
    claims: dict[str, Any],
    *,
    now: datetime,
    ip: str,
    user_agent: str | None,
) -> GoogleSignIn:
    """Find, link or create the user for verified ID-token ``claims`` and log them in."""
    issuer, subject = str(claims["iss"]), str(claims["sub"])
    email = claims.get("email")
    email = email.lower() if isinstance(email, str) and email else None
    email_verified = claims.get("email_verified") is True and email is not None
    name = claims.get("name") if isinstance(claims.get("name"), str) else None
    picture = claims.get("picture") if isinstance(claims.get("picture"), str) else None

    identity = (
        await db.execute(
            select(UserIdentity).where(
                UserIdentity.issuer == issuer, UserIdentity.subject == subject
            )
        )
    ).scalar_one_or_none()
    created = False
    if identity is not None:
        user = await repository.user_by_id(db, identity.user_id)
        assert user is not None  # the foreign key cascades
        identity.last_login_at = now
        identity.email, identity.email_verified = email, email_verified
    else:
        existing = await repository.user_by_email(db, email) if email else None
        if existing is not None and not email_verified:
            raise GoogleAccountConflict(
                "An account already uses this email, and Google has not verified it, so the two "
                "cannot be linked. Log in to that account instead.",
                details={"fields": ["email"]},
            )
        if existing is not None:
            user = existing
            await _link_existing(db, user, now=now)
        else:
            user = await service.create_user(
                db,
                email=email,
                name=name,
                avatar_url=picture,
                email_verified_at=now if email_verified else None,
            )
            created = True
        db.add(
            UserIdentity(
                id=uuid7(),
                user_id=user.id,
                provider=PROVIDER,
                issuer=issuer,
                subject=subject,
                email=email,
                email_verified=email_verified,
                created_at=now,
                last_login_at=now,
            )
        )
        await db.flush()
    if not user.is_active:
        raise AccountDisabled("This account is disabled.")
    _refresh_profile(
        user, name=name, picture=picture, email=email, verified=email_verified, now=now
    )
    log.info("identity.google.signed_in", user_id=str(user.id), created=created)
    result = await service.first_factor_passed(
        db, ctx, user, method="google", ip=ip, user_agent=user_agent
    )
    answer = {"user_id": user.id, "email": user.email, "name": user.name, "created": created}
    if isinstance(result, MfaChallenge):
        return GoogleSignIn(**answer, mfa_required=True, mfa_token=result.mfa_token)
    return GoogleSignIn.model_validate({**answer, **result.model_dump()})


def _refresh_profile(
    user: User,
    *,
    name: str | None,
    picture: str | None,
    email: str | None,
    verified: bool,
    now: datetime,
) -> None:
    """Copy Google's current profile onto the user (seed 000: "create or update a User record").

    Google wins for what it sends: Oja has no route that edits a name or picture, so a stored
    value cannot be told apart from an earlier Google value, and a user who changes them at Google
    expects to see the change. What Google leaves out (no picture, an empty name) keeps the stored
    value. The email is never replaced — it is the account's login and may belong to another
    account — but when Google verifies the account's own address, the address becomes verified.
    """
    if name:
        user.name = name[:200]
    if picture and len(picture) <= 2048:
        user.avatar_url = picture
    if verified and email == user.email and user.email_verified_at is None:
        user.email_verified_at = now


async def _link_existing(db: AsyncSession, user: User, *, now: datetime) -> None:
    if user.email_verified_at is None:
        # Whoever set this password never proved the address is theirs: Google just did.
        user.password_hash = None
        revoked = await repository.revoke_other_sessions(
            db, user.id, keep=None, reason="linked_unverified", now=now
        )
        user.email_verified_at = now
        log.warning("identity.google.linked_unverified", user_id=str(user.id), revoked=revoked)
    else:
        log.info("identity.google.linked", user_id=str(user.id))
