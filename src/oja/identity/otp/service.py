"""Phone one-time codes — issue (replacing any live code), budget sends, check atomically — and
logging in with one.

Invariants:

* one live code per ``(purpose, mobile)``; a resend overwrites it in place (upsert), so the old
  code stops working at once;
* only an HMAC of ``purpose``, ``mobile`` and the code is stored;
* a submission is compared only after a conditional ``UPDATE … SET attempts = attempts + 1 WHERE
  attempts < max AND consumed_at IS NULL AND expires_at > now`` has counted it, so however many
  submissions race, at most ``otp_max_attempts`` are ever compared;
* a matching submission then consumes the code with ``UPDATE … WHERE consumed_at IS NULL``: one
  winner, however many race.

A failed check must stay counted although the request fails, so callers run the check in a
transaction of their own (:func:`oja.core.db.own_transaction`) and raise *after* it has committed
(:class:`Outcome`). A code is committed before it is sent, so no transaction waits on an SMS
provider.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, Literal, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.db import Database, own_transaction
from oja.core.errors import OjaError
from oja.core.ratelimit import Rate, RateLimiter, enforce
from oja.identity import repository as users
from oja.identity import service as user_service
from oja.identity.config import IdentitySettings
from oja.identity.delivery import Messenger
from oja.identity.digests import keyed_digest, new_otp, same_digest
from oja.identity.errors import AccountDisabled
from oja.identity.otp import repository
from oja.identity.otp.errors import InvalidOtp
from oja.identity.sessions import service as sessions
from oja.identity.sessions.service import MfaRequired, SignIn
from oja.identity.tokens import TokenContext

log = structlog.get_logger("oja.identity")

Purpose = Literal["login", "password_reset", "verify_phone"]
T = TypeVar("T")

SEND_SCOPE = "identity.otp.send"


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """A result, or the error to raise once the unit of work that recorded the failure commits."""

    value: T | None = None
    error: OjaError | None = None

    def unwrap(self) -> T:
        if self.error is not None:
            raise self.error
        assert self.value is not None
        return self.value


def digest(secret: str, purpose: str, mobile: str, code: str) -> str:
    return keyed_digest(secret, "otp", purpose, mobile, code)


def subject_key(value: str) -> str:
    """A rate-limit key for a number or address that does not store it in clear."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


async def spend_send_budget(
    limiter: RateLimiter, settings: IdentitySettings, *, recipient: str, ip: str
) -> None:
    """Count one send against the client IP, then against the recipient; 429 when either is spent.

    The IP is counted first so that a client over its budget cannot exhaust a victim's number.
    """
    enforce(await limiter.hit(SEND_SCOPE, f"ip:{ip}", Rate.parse(settings.otp_send_per_ip)))
    enforce(
        await limiter.hit(
            SEND_SCOPE, f"to:{subject_key(recipient)}", Rate.parse(settings.otp_send_per_number)
        )
    )


async def issue(
    db: AsyncSession,
    *,
    purpose: Purpose,
    mobile: str,
    secret: str,
    settings: IdentitySettings,
    now: datetime,
    user_id: uuid.UUID | None = None,
) -> str:
    """Store a fresh code for ``(purpose, mobile)``, replacing any other; return it in clear."""
    code = new_otp()
    if purpose == "verify_phone" and user_id is not None:
        # A confirmation names no number: a user has at most one pending phone verification.
        await repository.drop_other_numbers(db, purpose=purpose, user_id=user_id, mobile=mobile)
    values: dict[str, Any] = {
        "code_hash": digest(secret, purpose, mobile, code),
        "attempts": 0,
        "created_at": now,
        "expires_at": now + timedelta(seconds=settings.otp_ttl),
        "consumed_at": None,
        "user_id": user_id,
    }
    await repository.replace_code(db, purpose=purpose, mobile=mobile, values=values)
    return code


@dataclass(frozen=True)
class Checked:
    ok: bool
    mobile: str | None = None
    user_id: uuid.UUID | None = None
    attempts_left: int | None = None


async def check(
    db: AsyncSession,
    *,
    purpose: Purpose,
    code: str,
    secret: str,
    settings: IdentitySettings,
    now: datetime,
    mobile: str | None = None,
    user_id: uuid.UUID | None = None,
) -> Checked:
    """Count one attempt and, if the code matches, consume it (see the module invariants)."""
    claimed = await repository.count_attempt(
        db,
        purpose=purpose,
        now=now,
        max_attempts=settings.otp_max_attempts,
        mobile=mobile,
        user_id=user_id,
    )
    if claimed is None:
        return Checked(ok=False)
    attempts_left = max(0, settings.otp_max_attempts - int(claimed.attempts))
    if not same_digest(claimed.code_hash, digest(secret, purpose, claimed.mobile, code)):
        return Checked(ok=False, attempts_left=attempts_left)
    if not await repository.consume(db, claimed.id, now=now):
        return Checked(ok=False)
    return Checked(ok=True, mobile=claimed.mobile, user_id=claimed.user_id)


async def discard(db: AsyncSession, *, purpose: Purpose, mobile: str) -> None:
    """Forget any live code (after a password reset by another route, say)."""
    await repository.discard(db, purpose=purpose, mobile=mobile)


def failure_details(checked: Checked) -> dict[str, int] | None:
    return None if checked.attempts_left is None else {"attempts_left": checked.attempts_left}


OTP_SENT = "OTP sent."


def otp_in_response(settings: IdentitySettings, *, production: bool) -> bool:
    return settings.otp_in_response if settings.otp_in_response is not None else not production


def sms_text(code: str, settings: IdentitySettings) -> str:
    minutes = max(1, settings.otp_ttl // 60)
    return f"Your Oja code is {code}. It expires in {minutes} minutes. Never share it."


async def deliver(
    messenger: Messenger, settings: IdentitySettings, *, mobile: str, code: str, purpose: str
) -> str | None:
    """Send ``code``: the code itself when it is to be shown in the answer (the mocked flow), else
    None once an SMS carries it; an SMS the provider refuses answers 502."""
    if otp_in_response(settings, production=messenger.production):
        return code
    await messenger.sms(mobile, sms_text(code, settings))
    log.info("identity.otp.sent", purpose=purpose)
    return None


async def send_code(
    database: Database,
    limiter: RateLimiter,
    messenger: Messenger,
    ctx: TokenContext,
    *,
    purpose: Purpose,
    mobile: str,
    ip: str,
    now: datetime,
    user_id: uuid.UUID | None = None,
) -> str | None:
    """Spend the send budget, commit a fresh code, then send it (see :func:`deliver`)."""
    await spend_send_budget(limiter, ctx.settings, recipient=mobile, ip=ip)
    async with own_transaction(database) as db:
        code = await issue(
            db,
            purpose=purpose,
            mobile=mobile,
            user_id=user_id,
            secret=ctx.secret,
            settings=ctx.settings,
            now=now,
        )
    return await deliver(messenger, ctx.settings, mobile=mobile, code=code, purpose=purpose)


async def log_in(
    database: Database,
    ctx: TokenContext,
    *,
    mobile: str,
    code: str,
    now: datetime,
    ip: str,
    user_agent: str | None,
    client_id: str | None = None,
) -> SignIn | MfaRequired:
    """Log in with a phone code; the first verified code for an unknown number creates its account.

    The attempt is counted in a transaction of its own, committed before a refusal is raised.
    """
    async with own_transaction(database) as db:
        outcome = await _log_in(
            db,
            ctx,
            mobile=mobile,
            code=code,
            now=now,
            ip=ip,
            user_agent=user_agent,
            client_id=client_id,
        )
    return outcome.unwrap()


async def _log_in(
    db: AsyncSession,
    ctx: TokenContext,
    *,
    mobile: str,
    code: str,
    now: datetime,
    ip: str,
    user_agent: str | None,
    client_id: str | None = None,
) -> Outcome[SignIn | MfaRequired]:
    checked = await check(
        db,
        purpose="login",
        mobile=mobile,
        code=code,
        secret=ctx.secret,
        settings=ctx.settings,
        now=now,
    )
    if not checked.ok:
        log.info("identity.otp.rejected", purpose="login")
        return Outcome(
            error=InvalidOtp(
                "The code is wrong, used or expired.", details=failure_details(checked)
            )
        )
    user = await users.user_by_mobile(db, mobile)
    if user is None:
        user = await user_service.create_user(db, mobile=mobile, mobile_verified_at=now)
    elif not user.is_active:
        return Outcome(error=AccountDisabled("This account is disabled."))
    elif user.mobile_verified_at is None:
        user.mobile_verified_at = now
    result = await sessions.first_factor_passed(
        db, ctx, user, method="otp", ip=ip, user_agent=user_agent, client_id=client_id
    )
    return Outcome(value=result)
