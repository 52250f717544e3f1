"""Session rules: password login, the MFA hand-off, token rotation, logout, password changes.

Services add and flush; the caller's unit of work commits, except :func:`refresh`, whose revocation
on reuse must stay although the request fails (it runs in a transaction of its own). Nothing here
logs a password, a token or an identifier in clear.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core import events
from oja.core.clock import utcnow
from oja.core.db import Database, own_transaction
from oja.core.ids import uuid7
from oja.identity import repository as users
from oja.identity import service as user_service
from oja.identity import tokens
from oja.identity.errors import AccountDisabled, InvalidCredentials, InvalidToken, SessionRevoked
from oja.identity.events import (
    ACCOUNT_PASSWORD_CHANGED,
    ACCOUNT_SESSION_STARTED,
    ACCOUNT_SIGNED_IN,
)
from oja.identity.mfa import repository as mfa_repository
from oja.identity.models import User
from oja.identity.passwords import Passwords
from oja.identity.sessions import repository
from oja.identity.sessions.errors import TokenReused
from oja.identity.sessions.models import AuthSession, RefreshToken
from oja.identity.throttle import LoginThrottle, account_key, ip_key
from oja.identity.tokens import TokenContext

log = structlog.get_logger("oja.identity")


@dataclass(frozen=True)
class IssuedTokens:
    """An access token, the refresh token beside it, and the access token's lifetime in seconds."""

    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class SignIn:
    """A new session's tokens, and the user as they are now with the roles they hold."""

    tokens: IssuedTokens
    user: User
    roles: list[str]


@dataclass(frozen=True)
class MfaRequired:
    """The first factor was right; the login finishes with ``mfa_token`` and a second factor."""

    mfa_token: str
    expires_in: int


def _now() -> datetime:
    # Whole seconds: token times are integers, and stored times must re-sign to identical tokens.
    return utcnow().replace(microsecond=0)


async def _issue(
    db: AsyncSession,
    ctx: TokenContext,
    *,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    roles: list[str],
    parent_id: uuid.UUID | None,
    now: datetime,
) -> IssuedTokens:
    row = RefreshToken(
        id=uuid7(),
        session_id=session_id,
        parent_id=parent_id,
        issued_at=now,
        expires_at=now + timedelta(seconds=ctx.settings.refresh_token_ttl),
        access_jti=uuid7(),
        access_expires_at=now + timedelta(seconds=ctx.settings.access_token_ttl),
        roles=sorted(roles),
    )
    db.add(row)
    await db.flush()
    return sign_pair(row, user_id, ctx)


def sign_pair(row: RefreshToken, user_id: uuid.UUID, ctx: TokenContext) -> IssuedTokens:
    """The token pair a refresh-token row stands for; the same row always signs the same pair."""
    access = tokens.TokenClaims(
        typ="access",
        user_id=user_id,
        session_id=row.session_id,
        jti=row.access_jti,
        issued_at=row.issued_at,
        expires_at=row.access_expires_at,
        roles=tuple(row.roles),
    )
    refresh = tokens.TokenClaims(
        typ="refresh",
        user_id=user_id,
        session_id=row.session_id,
        jti=row.id,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
    )
    return IssuedTokens(
        access_token=tokens.encode(access, secret=ctx.secret, settings=ctx.settings),
        refresh_token=tokens.encode(refresh, secret=ctx.secret, settings=ctx.settings),
        expires_in=int((row.access_expires_at - row.issued_at).total_seconds()),
    )


async def login(
    db: AsyncSession,
    ctx: TokenContext,
    *,
    identifier: str,
    password: str,
    passwords: Passwords,
    throttle: LoginThrottle,
    ip: str,
    user_agent: str | None,
    client_id: str | None = None,
) -> SignIn | MfaRequired:
    """Password login. Unknown account, wrong password, no password and a disabled account all
    answer the same error after the same amount of hashing work."""
    normalized = user_service.normalize_identifier(identifier)
    keys = (account_key(normalized), ip_key(ip))
    async with passwords.admitted():
        await throttle.check(*keys)
        user = await user_service.find_by_identifier(db, normalized)
        ok, new_hash = await passwords.verify(password, user.password_hash if user else None)
    if user is None or not ok or not user.is_active:
        await throttle.failed(*keys)
        log.info("identity.login.failed", account=keys[0], ip=ip)
        raise InvalidCredentials("The credentials are not valid.")
    await throttle.succeeded(keys[0])
    if new_hash is not None:
        user.password_hash = new_hash
    return await first_factor_passed(
        db, ctx, user, method="pwd", ip=ip, user_agent=user_agent, client_id=client_id
    )


async def start_session(
    db: AsyncSession,
    ctx: TokenContext,
    user: User,
    *,
    ip: str,
    user_agent: str | None,
    client_id: str | None = None,
) -> SignIn:
    """A new session for ``user`` and its first token pair (every factor already checked).

    Emits :data:`ACCOUNT_SESSION_STARTED` with the ``X-Client-Id`` the signing-in request sent
    (``client_id``: an anonymous storefront's id for the browser, unchecked here), so what a
    higher module recorded for that browser can follow the user."""
    now = _now()
    auth_session = AuthSession(
        id=uuid7(),
        user_id=user.id,
        created_at=now,
        user_agent=(user_agent or "")[:300] or None,
        ip_address=ip[:64] or None,
    )
    before, known = await repository.device_history(
        db, user.id, auth_session.ip_address, auth_session.user_agent
    )
    if before and not known:  # a first sign-in has nothing to compare with: no alert
        await events.emit(
            ACCOUNT_SIGNED_IN,
            recipient_ids=[user.id],
            ip_address=auth_session.ip_address or "an unknown address",
            signed_in_at=now.isoformat(timespec="seconds"),
        )
    db.add(auth_session)
    await events.emit(ACCOUNT_SESSION_STARTED, db=db, user_id=user.id, client_id=client_id)
    roles = await users.roles_of(db, user.id)
    pair = await _issue(
        db, ctx, user_id=user.id, session_id=auth_session.id, roles=roles, parent_id=None, now=now
    )
    log.info("identity.login.succeeded", user_id=str(user.id), session_id=str(auth_session.id))
    # After _issue's flush, so ``updated_at`` includes what this sign-in changed on the user.
    return SignIn(tokens=pair, user=user, roles=roles)


async def first_factor_passed(
    db: AsyncSession,
    ctx: TokenContext,
    user: User,
    *,
    method: str,
    ip: str,
    user_agent: str | None,
    client_id: str | None = None,
) -> SignIn | MfaRequired:
    """Tokens, or an MFA challenge when the user has TOTP enabled (``method``: pwd, otp, google)."""
    if await mfa_repository.mfa_enabled(db, user.id):
        token = tokens.encode_mfa(
            user.id,
            method=method,
            issued_at=_now(),
            ttl=ctx.settings.mfa_token_ttl,
            secret=ctx.secret,
            settings=ctx.settings,
        )
        log.info("identity.login.mfa_required", user_id=str(user.id), method=method)
        return MfaRequired(mfa_token=token, expires_in=ctx.settings.mfa_token_ttl)
    return await start_session(db, ctx, user, ip=ip, user_agent=user_agent, client_id=client_id)


async def set_password(
    db: AsyncSession, user: User, new_password: str, passwords: Passwords, *, reason: str
) -> int:
    """Replace the password and sign out every session; returns how many were revoked."""
    now = _now()
    user.password_hash = await passwords.hash(new_password)
    user.password_changed_at = now
    revoked = await repository.revoke_other_sessions(db, user.id, keep=None, reason=reason, now=now)
    log.info("identity.password.reset", user_id=str(user.id), sessions_revoked=revoked)
    await _password_changed(user, now)
    return revoked


async def refresh(database: Database, ctx: TokenContext, token: str) -> IssuedTokens:
    """Rotate a refresh token: exactly one child per token, replay within the grace window returns
    that same child, any later replay revokes the whole session and answers :class:`TokenReused`.

    Runs in a transaction of its own: the revocation must be committed although the answer is a
    401, which the request's unit of work (rolled back on error) cannot do.
    """
    claims = tokens.decode(token, typ="refresh", secret=ctx.secret, settings=ctx.settings)
    async with own_transaction(database) as db:
        pair = await _rotate(db, ctx, claims)
    if pair is None:
        raise TokenReused("This refresh token was already used; the session has been revoked.")
    return pair


async def _rotate(
    db: AsyncSession, ctx: TokenContext, claims: tokens.TokenClaims
) -> IssuedTokens | None:
    """The new (or replayed) pair, or None once the session is revoked for reuse."""
    now = _now()
    # Write first: on SQLite a read before the write could not be upgraded under contention.
    claimed = await repository.claim_refresh_token(db, claims.jti, claims.session_id, now=now)
    state = await repository.refresh_token_state(db, claims.jti)
    if state is None or state.session_id != claims.session_id or state.user_id != claims.user_id:
        raise InvalidToken("The token is not valid.")
    if state.revoked_at is not None:
        raise SessionRevoked("This session has been signed out.")
    if claimed:
        user = await users.user_by_id(db, claims.user_id)
        if user is None or not user.is_active:
            raise AccountDisabled("This account is disabled.")
        roles = await users.roles_of(db, claims.user_id)
        pair = await _issue(
            db,
            ctx,
            user_id=claims.user_id,
            session_id=claims.session_id,
            roles=roles,
            parent_id=claims.jti,
            now=now,
        )
        await repository.touch_session(db, claims.session_id, now=now)
        return pair
    child = await repository.child_of(db, claims.jti)
    used_at = state.used_at
    grace = timedelta(seconds=ctx.settings.refresh_reuse_grace)
    if child is not None and used_at is not None and now - used_at <= grace:
        return sign_pair(child, claims.user_id, ctx)
    await repository.revoke_session(db, claims.session_id, reason="refresh_reused", now=now)
    log.warning(
        "identity.refresh.reused", user_id=str(claims.user_id), session_id=str(claims.session_id)
    )
    return None


async def logout(db: AsyncSession, session_id: uuid.UUID) -> None:
    if await repository.revoke_session(db, session_id, reason="logout", now=_now()):
        log.info("identity.session.revoked", session_id=str(session_id), reason="logout")


async def _password_changed(user: User, now: datetime) -> None:
    await events.emit(
        ACCOUNT_PASSWORD_CHANGED,
        recipient_ids=[user.id],
        changed_at=now.isoformat(timespec="seconds"),
    )


async def change_password(
    db: AsyncSession,
    user: User,
    *,
    session_id: uuid.UUID | None,
    current_password: str | None,
    new_password: str,
    passwords: Passwords,
) -> int:
    """Set a new password and sign out every other session; returns how many were revoked."""
    if user.password_hash is not None:
        ok, _ = await passwords.verify(current_password or "", user.password_hash)
        if not ok:
            raise InvalidCredentials("The current password is not correct.")
    now = _now()
    user.password_hash = await passwords.hash(new_password)
    user.password_changed_at = now
    revoked = await repository.revoke_other_sessions(
        db, user.id, keep=session_id, reason="password_changed", now=now
    )
    log.info("identity.password.changed", user_id=str(user.id), sessions_revoked=revoked)
    await _password_changed(user, now)
    return revoked
