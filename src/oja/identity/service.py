"""Identity rules: signup, login, token rotation, logout, password change, roles.

Services add and flush; the request's unit of work commits. Nothing here logs a password, a token or
an identifier in clear.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.ids import uuid7
from oja.identity import repository, tokens
from oja.identity.config import IdentitySettings
from oja.identity.errors import (
    AccountDisabled,
    AccountExists,
    InvalidCredentials,
    InvalidToken,
    LastAdmin,
    SessionRevoked,
    UserNotFound,
)
from oja.identity.models import AuthSession, RefreshToken, User, UserRole
from oja.identity.passwords import Passwords
from oja.identity.schemas import (
    MfaChallenge,
    SignedIn,
    SignupRequest,
    TokenPair,
    UserOut,
    UserPage,
    normalize_mobile,
)
from oja.identity.scopes import DEFAULT_ROLE, Role
from oja.identity.throttle import LoginThrottle, account_key, ip_key

log = structlog.get_logger("oja.identity")


@dataclass(frozen=True)
class TokenContext:
    """What signing needs: the identity settings and the runtime secret."""

    settings: IdentitySettings
    secret: str


def _now() -> datetime:
    # Whole seconds: token times are integers, and stored times must re-sign to identical tokens.
    return utcnow().replace(microsecond=0)


def user_out(user: User, roles: list[str]) -> UserOut:
    return UserOut(
        id=user.id,
        user_id=user.id,
        email=user.email,
        mobile=user.mobile,
        name=user.name,
        avatar_url=user.avatar_url,
        locale=user.locale,
        roles=[Role(r) for r in sorted(roles)],
        is_active=user.is_active,
        has_password=user.password_hash is not None,
        email_verified=user.email_verified_at is not None,
        mobile_verified=user.mobile_verified_at is not None,
        email_verified_at=user.email_verified_at,
        mobile_verified_at=user.mobile_verified_at,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


async def signup(db: AsyncSession, data: SignupRequest, passwords: Passwords) -> UserOut:
    """Create a buyer. Uniqueness is the database's job: a racing duplicate fails the flush."""
    password_hash = await passwords.hash(data.password) if data.password is not None else None
    user = User(
        id=uuid7(),
        email=data.email,
        mobile=data.mobile,
        name=data.name,
        avatar_url=str(data.avatar_url) if data.avatar_url else None,
        locale=data.locale,
        password_hash=password_hash,
        is_active=True,
    )
    db.add(user)
    db.add(UserRole(user_id=user.id, role=DEFAULT_ROLE))
    try:
        await db.flush()
    except IntegrityError as exc:
        text = str(exc.orig).lower()
        fields = [f for f in ("email", "mobile") if f in text] or ["email", "mobile"]
        raise AccountExists(
            "An account with this email or mobile number already exists.",
            details={"fields": fields},
        ) from exc
    log.info("identity.user.created", user_id=str(user.id))
    return user_out(user, [DEFAULT_ROLE])


def normalize_identifier(identifier: str) -> str:
    """Lower-cased email, E.164 mobile, or the trimmed input when it is neither."""
    value = identifier.strip()
    if "@" in value:
        return value.lower()
    try:
        return normalize_mobile(value)
    except ValueError:
        return value.lower()


async def _find_login_user(db: AsyncSession, identifier: str) -> User | None:
    if "@" in identifier:
        return await repository.user_by_email(db, identifier)
    if identifier.startswith("+"):
        return await repository.user_by_mobile(db, identifier)
    return None


async def _issue(
    db: AsyncSession,
    ctx: TokenContext,
    *,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    roles: list[str],
    parent_id: uuid.UUID | None,
    now: datetime,
) -> TokenPair:
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


def sign_pair(row: RefreshToken, user_id: uuid.UUID, ctx: TokenContext) -> TokenPair:
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
    return TokenPair(
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
) -> SignedIn | MfaChallenge:
    """Password login. Unknown account, wrong password, no password and a disabled account all
    answer the same error after the same amount of hashing work."""
    normalized = normalize_identifier(identifier)
    keys = (account_key(normalized), ip_key(ip))
    async with passwords.admitted():
        await throttle.check(*keys)
        user = await _find_login_user(db, normalized)
        ok, new_hash = await passwords.verify(password, user.password_hash if user else None)
    if user is None or not ok or not user.is_active:
        await throttle.failed(*keys)
        log.info("identity.login.failed", account=keys[0], ip=ip)
        raise InvalidCredentials("The credentials are not valid.")
    await throttle.succeeded(keys[0])
    if new_hash is not None:
        user.password_hash = new_hash
    return await first_factor_passed(db, ctx, user, method="pwd", ip=ip, user_agent=user_agent)


async def start_session(
    db: AsyncSession, ctx: TokenContext, user: User, *, ip: str, user_agent: str | None
) -> SignedIn:
    """A new session for ``user``, its first token pair and the user as ``/user/me`` shows it
    (every factor already checked)."""
    now = _now()
    auth_session = AuthSession(
        id=uuid7(),
        user_id=user.id,
        created_at=now,
        user_agent=(user_agent or "")[:300] or None,
        ip_address=ip[:64] or None,
    )
    db.add(auth_session)
    roles = await repository.roles_of(db, user.id)
    pair = await _issue(
        db, ctx, user_id=user.id, session_id=auth_session.id, roles=roles, parent_id=None, now=now
    )
    log.info("identity.login.succeeded", user_id=str(user.id), session_id=str(auth_session.id))
    # After _issue's flush, so ``updated_at`` includes what this sign-in changed on the user.
    return SignedIn(**pair.model_dump(), user=user_out(user, roles))


async def first_factor_passed(
    db: AsyncSession,
    ctx: TokenContext,
    user: User,
    *,
    method: str,
    ip: str,
    user_agent: str | None,
) -> SignedIn | MfaChallenge:
    """Tokens, or an MFA challenge when the user has TOTP enabled (``method``: pwd, otp, google)."""
    if await repository.mfa_enabled(db, user.id):
        token = tokens.encode_mfa(
            user.id,
            method=method,
            issued_at=_now(),
            ttl=ctx.settings.mfa_token_ttl,
            secret=ctx.secret,
            settings=ctx.settings,
        )
        log.info("identity.login.mfa_required", user_id=str(user.id), method=method)
        return MfaChallenge(mfa_token=token, expires_in=ctx.settings.mfa_token_ttl)
    return await start_session(db, ctx, user, ip=ip, user_agent=user_agent)


async def create_user(
    db: AsyncSession,
    *,
    email: str | None = None,
    mobile: str | None = None,
    name: str | None = None,
    avatar_url: str | None = None,
    email_verified_at: datetime | None = None,
    mobile_verified_at: datetime | None = None,
) -> User:
    """A password-less buyer (OTP or Google sign-up); a duplicate email or mobile fails the flush."""
    user = User(
        id=uuid7(),
        email=email,
        mobile=mobile,
        name=name,
        avatar_url=avatar_url,
        is_active=True,
        email_verified_at=email_verified_at,
        mobile_verified_at=mobile_verified_at,
    )
    db.add(user)
    db.add(UserRole(user_id=user.id, role=DEFAULT_ROLE))
    try:
        await db.flush()
    except IntegrityError as exc:
        raise AccountExists("An account with this email or mobile number already exists.") from exc
    log.info("identity.user.created", user_id=str(user.id))
    return user


async def set_password(
    db: AsyncSession, user: User, new_password: str, passwords: Passwords, *, reason: str
) -> int:
    """Replace the password and sign out every session; returns how many were revoked."""
    now = _now()
    user.password_hash = await passwords.hash(new_password)
    user.password_changed_at = now
    revoked = await repository.revoke_other_sessions(db, user.id, keep=None, reason=reason, now=now)
    log.info("identity.password.reset", user_id=str(user.id), sessions_revoked=revoked)
    return revoked


@dataclass(frozen=True)
class RefreshOutcome:
    """A new (or replayed) pair, or ``reused``: the family was revoked and the caller must answer
    401 *after* committing that revocation."""

    pair: TokenPair | None = None
    reused: bool = False


async def refresh(db: AsyncSession, ctx: TokenContext, token: str) -> RefreshOutcome:
    """Rotate a refresh token: exactly one child per token, replay within the grace window returns
    that same child, any later replay revokes the whole session."""
    claims = tokens.decode(token, expected="refresh", secret=ctx.secret, settings=ctx.settings)
    now = _now()
    # Write first: on SQLite a read before the write could not be upgraded under contention.
    claimed = await repository.claim_refresh_token(db, claims.jti, claims.session_id, now=now)
    state = await repository.refresh_token_state(db, claims.jti)
    if state is None or state.session_id != claims.session_id or state.user_id != claims.user_id:
        raise InvalidToken("The token is not valid.")
    if state.revoked_at is not None:
        raise SessionRevoked("This session has been signed out.")
    if claimed:
        user = await repository.user_by_id(db, claims.user_id)
        if user is None or not user.is_active:
            raise AccountDisabled("This account is disabled.")
        roles = await repository.roles_of(db, claims.user_id)
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
        return RefreshOutcome(pair=pair)
    child = await repository.child_of(db, claims.jti)
    used_at = state.used_at
    grace = timedelta(seconds=ctx.settings.refresh_reuse_grace)
    if child is not None and used_at is not None and now - used_at <= grace:
        return RefreshOutcome(pair=sign_pair(child, claims.user_id, ctx))
    await repository.revoke_session(db, claims.session_id, reason="refresh_reused", now=now)
    log.warning(
        "identity.refresh.reused", user_id=str(claims.user_id), session_id=str(claims.session_id)
    )
    return RefreshOutcome(reused=True)


async def logout(db: AsyncSession, session_id: uuid.UUID) -> None:
    if await repository.revoke_session(db, session_id, reason="logout", now=_now()):
        log.info("identity.session.revoked", session_id=str(session_id), reason="logout")


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
    return revoked


async def get_user(db: AsyncSession, user_id: uuid.UUID) -> User:
    user = await repository.user_by_id(db, user_id)
    if user is None:
        raise UserNotFound("No such user.")
    return user


async def me(db: AsyncSession, user: User) -> UserOut:
    return user_out(user, await repository.roles_of(db, user.id))


async def list_users(db: AsyncSession, *, page: int, per_page: int) -> UserPage:
    users, total = await repository.page_users(db, offset=(page - 1) * per_page, limit=per_page)
    roles = await repository.roles_of_many(db, [u.id for u in users])
    return UserPage(
        items=[user_out(u, roles[u.id]) for u in users], total=total, page=page, per_page=per_page
    )


async def grant_role(db: AsyncSession, user_id: uuid.UUID, role: Role) -> UserOut:
    user = await get_user(db, user_id)
    await repository.add_role(db, user.id, role)
    log.info("identity.role.granted", user_id=str(user.id), role=str(role))
    return await me(db, user)


async def revoke_role(db: AsyncSession, user_id: uuid.UUID, role: Role) -> UserOut:
    user = await get_user(db, user_id)
    roles = await repository.roles_of(db, user.id)
    if role == Role.admin and role in roles and await repository.count_role(db, Role.admin) <= 1:
        raise LastAdmin("The last admin cannot lose the admin role.")
    await repository.remove_role(db, user.id, role)
    log.info("identity.role.revoked", user_id=str(user.id), role=str(role))
    return await me(db, user)


async def create_admin(
    db: AsyncSession,
    *,
    email: str,
    password: str,
    passwords: Passwords,
    name: str | None = None,
) -> UserOut:
    """Create an admin, or make an existing account with this email one (for ``oja create-admin``).

    An existing account keeps its password; a new one gets the given password.
    """
    data = SignupRequest(email=email, password=password, name=name)
    assert data.email is not None
    existing = await repository.user_by_email(db, data.email)
    if existing is None:
        created = await signup(db, data, passwords)
        user_id = created.id
    else:
        user_id = existing.id
    return await grant_role(db, user_id, Role.admin)
