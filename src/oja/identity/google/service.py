"""Google Sign-In: OpenID Connect authorization-code flow with PKCE (S256), state and nonce.

``start`` keeps ``state`` (as an HMAC), ``nonce`` and the PKCE verifier in an ``oauth_state`` row,
single use, expiring; nothing rides in a cookie. ``finish`` spends that row in its own committed
transaction *before* talking to Google, so a replayed or failed callback can never be retried with
the same state. Authlib builds the authorization request (PKCE S256); :mod:`.client` exchanges the
code and checks the ID token. No database transaction is open while Google is called.

Accounts are keyed by ``(iss, sub)`` in ``user_identity``. A first sign-in links to an existing
account only through an email Google marks verified; if that account's own email was never
verified, its password and sessions are dropped, since whoever set them never proved they own the
address (account pre-hijacking).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.db import Database, own_transaction
from oja.core.ids import uuid7
from oja.identity import repository as users
from oja.identity import service as user_service
from oja.identity.digests import keyed_digest
from oja.identity.errors import AccountDisabled
from oja.identity.google import repository
from oja.identity.google.client import GoogleClient, GoogleConfig
from oja.identity.google.errors import (
    GoogleAccountConflict,
    GoogleDenied,
    GoogleMissingCode,
    GoogleStateInvalid,
)
from oja.identity.google.models import OAuthState, UserIdentity
from oja.identity.models import User
from oja.identity.sessions import repository as sessions_repository
from oja.identity.sessions import service as sessions
from oja.identity.sessions.service import MfaRequired, SignIn
from oja.identity.tokens import TokenContext

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


@dataclass(frozen=True)
class GoogleSignInResult:
    """Who signed in, whether this sign-in created the account, and the tokens or MFA challenge."""

    user: User
    created: bool
    result: SignIn | MfaRequired


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
        row = await repository.spend_state(db, state_digest(secret, state), PROVIDER, now=now)
    if row is None:
        raise GoogleStateInvalid(
            "This sign-in is unknown, expired or already used: start again at /auth/google."
        )
    return PendingSignIn(nonce=row.nonce, code_verifier=row.code_verifier)


async def finish(
    database: Database,
    db: AsyncSession,
    client: GoogleClient,
    cfg: GoogleConfig,
    ctx: TokenContext,
    *,
    code: str | None,
    state: str | None,
    error: str | None,
    now: datetime,
    ip: str,
    user_agent: str | None,
    client_id: str | None = None,
) -> GoogleSignInResult:
    """Finish a sign-in from Google's callback.

    The state is spent in a transaction of its own, committed first: whatever happens next, it is
    never reusable. No transaction is open while Google is called; the sign-in itself is written in
    ``db``, the caller's unit of work.
    """
    if error is not None:
        raise GoogleDenied("Google sign-in was not completed.", details={"error": error})
    if not code:
        raise GoogleMissingCode("The callback has no authorization code.")
    async with own_transaction(database) as state_db:
        pending = await spend_state(state_db, state=state, secret=ctx.secret, now=now)
    metadata = await client.metadata(cfg.discovery_url)
    token = await client.exchange(cfg, metadata, code=code, verifier=pending.code_verifier)
    claims = await client.verify_id_token(cfg, metadata, token["id_token"], nonce=pending.nonce)
    return await sign_in(
        db, ctx, claims, now=now, ip=ip, user_agent=user_agent, client_id=client_id
    )


async def sign_in(
    db: AsyncSession,
    ctx: TokenContext,
    claims: dict[str, Any],
    *,
    now: datetime,
    ip: str,
    user_agent: str | None,
    client_id: str | None = None,
) -> GoogleSignInResult:
    """Find, link or create the user for verified ID-token ``claims`` and log them in."""
    issuer, subject = str(claims["iss"]), str(claims["sub"])
    email = claims.get("email")
    email = email.lower() if isinstance(email, str) and email else None
    email_verified = claims.get("email_verified") is True and email is not None
    name = claims.get("name") if isinstance(claims.get("name"), str) else None
    picture = claims.get("picture") if isinstance(claims.get("picture"), str) else None

    identity = await repository.identity(db, issuer, subject)
    created = False
    if identity is not None:
        user = await users.user_by_id(db, identity.user_id)
        assert user is not None  # the foreign key cascades
        identity.last_login_at = now
        identity.email, identity.email_verified = email, email_verified
    else:
        existing = await users.user_by_email(db, email) if email else None
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
            user = await user_service.create_user(
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
    result = await sessions.first_factor_passed(
        db, ctx, user, method="google", ip=ip, user_agent=user_agent, client_id=client_id
    )
    return GoogleSignInResult(user=user, created=created, result=result)


def _refresh_profile(
    user: User,
    *,
    name: str | None,
    picture: str | None,
    email: str | None,
    verified: bool,
    now: datetime,
) -> None:
    """Copy Google's current profile onto the user: a sign-in creates or updates the account.

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
        revoked = await sessions_repository.revoke_other_sessions(
            db, user.id, keep=None, reason="linked_unverified", now=now
        )
        user.email_verified_at = now
        log.warning("identity.google.linked_unverified", user_id=str(user.id), revoked=revoked)
    else:
        log.info("identity.google.linked", user_id=str(user.id))
