"""TOTP multi-factor authentication (RFC 6238 through pyotp) with single-use recovery codes.

Invariants: the TOTP secret is stored sealed and shown only by ``setup``; recovery codes are shown
only by ``enable`` and stored as HMACs; a TOTP code is accepted only for a time step later than the
last accepted one (a conditional UPDATE, so two racing uses of one code cannot both pass); a
recovery code is spent by a conditional UPDATE too.
"""

from __future__ import annotations

import io
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

import pyotp
import qrcode  # type: ignore[import-untyped]
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core import events
from oja.core.ratelimit import Rate, RateLimiter, enforce
from oja.identity import repository as users
from oja.identity import tokens
from oja.identity.digests import keyed_digest, same_digest, seal, unseal
from oja.identity.errors import AccountDisabled, InvalidCredentials
from oja.identity.events import ACCOUNT_MFA_CHANGED
from oja.identity.mfa import repository
from oja.identity.mfa.errors import MfaAlreadyEnabled, MfaInvalidCode, MfaNotEnabled, MfaNotSetUp
from oja.identity.mfa.models import UserMfa
from oja.identity.models import User
from oja.identity.passwords import Passwords
from oja.identity.sessions import service as sessions
from oja.identity.sessions.service import SignIn
from oja.identity.tokens import TokenContext

log = structlog.get_logger("oja.identity")

SEAL_LABEL = "totp-secret"
RECOVERY_CODES = 10
VERIFY_SCOPE = "identity.mfa.verify"
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret)


def matching_step(secret: str, code: str, now: datetime, *, window: int = 1) -> int | None:
    """The time step (± ``window``) whose code is ``code``, or None."""
    totp = _totp(secret)
    current = totp.timecode(now)
    found = None
    for step in range(current - window, current + window + 1):
        # Compare every candidate, so the time taken does not say which one matched.
        if same_digest(totp.generate_otp(step), code):
            found = step
    return found


def _recovery_digest(secret: str, user_id: uuid.UUID, code: str) -> str:
    return keyed_digest(secret, "mfa-recovery", str(user_id), code.strip().lower())


def _new_recovery_code() -> str:
    chars = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
    return f"{chars[:5]}-{chars[5:]}"


def _label(user: User) -> str:
    return user.email or user.mobile or str(user.id)


@dataclass(frozen=True)
class AuthenticatorSetup:
    """A pending authenticator's secret, its ``otpauth://`` URI and that URI as a QR code (PNG)."""

    secret: str
    otpauth_uri: str
    qr_png: bytes


async def setup(db: AsyncSession, user: User, *, secret: str, issuer: str) -> AuthenticatorSetup:
    """A new pending authenticator (replacing a pending one); refused while MFA is enabled."""
    row = await repository.authenticator(db, user.id)
    if row is not None and row.enabled_at is not None:
        raise MfaAlreadyEnabled("MFA is already enabled; disable it first to change authenticator.")
    totp_secret = pyotp.random_base32()
    sealed = seal(secret, SEAL_LABEL, totp_secret)
    if row is None:
        db.add(UserMfa(user_id=user.id, secret_encrypted=sealed))
    else:
        row.secret_encrypted = sealed
        row.last_used_step = None
    await db.flush()
    uri = _totp(totp_secret).provisioning_uri(name=_label(user), issuer_name=issuer)
    image = qrcode.make(uri)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    log.info("identity.mfa.setup", user_id=str(user.id))
    return AuthenticatorSetup(secret=totp_secret, otpauth_uri=uri, qr_png=buffer.getvalue())


async def _accept_totp(
    db: AsyncSession, row: UserMfa, code: str, *, secret: str, now: datetime
) -> bool:
    step = matching_step(unseal(secret, SEAL_LABEL, row.secret_encrypted), code, now)
    if step is None:
        return False
    return await repository.advance_step(db, row.user_id, step)


async def _spend_recovery_code(
    db: AsyncSession, user_id: uuid.UUID, code: str, *, secret: str, now: datetime
) -> bool:
    code_hash = _recovery_digest(secret, user_id, code)
    return await repository.spend_recovery_code(db, user_id, code_hash, now=now)


async def enable(
    db: AsyncSession, user: User, code: str, *, secret: str, now: datetime
) -> list[str]:
    """Enable the pending authenticator with a first code; the new recovery codes, in clear."""
    row = await repository.authenticator(db, user.id)
    if row is None:
        raise MfaNotSetUp("Call /auth/mfa/setup first.")
    if row.enabled_at is not None:
        raise MfaAlreadyEnabled("MFA is already enabled.")
    if not await _accept_totp(db, row, code, secret=secret, now=now):
        raise MfaInvalidCode("The code is not valid.")
    row.enabled_at = now
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    hashes = [_recovery_digest(secret, user.id, value) for value in codes]
    await repository.replace_recovery_codes(db, user.id, hashes, now=now)
    log.info("identity.mfa.enabled", user_id=str(user.id))
    await events.emit(
        ACCOUNT_MFA_CHANGED,
        recipient_ids=[user.id],
        enabled=True,
        changed_at=now.isoformat(timespec="seconds"),
    )
    return codes


async def spend_attempt(limiter: RateLimiter, rate: str, user_id: uuid.UUID) -> None:
    """Count one second-factor attempt for the user; 429 once the budget is spent."""
    enforce(await limiter.hit(VERIFY_SCOPE, str(user_id), Rate.parse(rate)))


async def verify(
    db: AsyncSession,
    ctx: TokenContext,
    *,
    mfa_token: str,
    code: str | None,
    recovery_code: str | None,
    limiter: RateLimiter,
    now: datetime,
    ip: str,
    user_agent: str | None,
    client_id: str | None = None,
) -> SignIn:
    """Finish a login that answered ``mfa_required``."""
    user_id = tokens.decode(mfa_token, typ="mfa", secret=ctx.secret, settings=ctx.settings).user_id
    await spend_attempt(limiter, ctx.settings.mfa_verify_rate, user_id)
    user = await users.user_by_id(db, user_id)
    if user is None or not user.is_active:
        raise AccountDisabled("This account is disabled.")
    row = await repository.authenticator(db, user_id)
    if row is None or row.enabled_at is None:
        raise MfaNotEnabled("MFA is not enabled for this account; log in again.")
    if code is not None:
        accepted = await _accept_totp(db, row, code, secret=ctx.secret, now=now)
    else:
        assert recovery_code is not None
        accepted = await _spend_recovery_code(
            db, user_id, recovery_code, secret=ctx.secret, now=now
        )
    if not accepted:
        log.info("identity.mfa.rejected", user_id=str(user_id))
        raise MfaInvalidCode("The code is not valid.")
    if recovery_code is not None:
        log.info("identity.mfa.recovery_code_used", user_id=str(user_id))
    return await sessions.start_session(
        db, ctx, user, ip=ip, user_agent=user_agent, client_id=client_id
    )


async def disable(
    db: AsyncSession,
    user: User,
    *,
    password: str | None,
    code: str,
    passwords: Passwords,
    secret: str,
    now: datetime,
) -> None:
    row = await repository.authenticator(db, user.id)
    if row is None or row.enabled_at is None:
        raise MfaNotEnabled("MFA is not enabled.")
    if user.password_hash is not None:
        ok, _ = await passwords.verify(password or "", user.password_hash)
        if not ok:
            raise InvalidCredentials("The password is not correct.")
    if not await _accept_totp(db, row, code, secret=secret, now=now):
        raise MfaInvalidCode("The code is not valid.")
    await repository.remove(db, user.id)
    log.info("identity.mfa.disabled", user_id=str(user.id))
    await events.emit(
        ACCOUNT_MFA_CHANGED,
        recipient_ids=[user.id],
        enabled=False,
        changed_at=now.isoformat(timespec="seconds"),
    )
