"""Phone one-time codes: issue (replacing any live code), budget sends, check atomically.

Invariants:

* one live code per ``(purpose, mobile)``; a resend overwrites it in place (upsert), so the old
  code stops working at once;
* only an HMAC of ``purpose``, ``mobile`` and the code is stored;
* a submission is compared only after a conditional ``UPDATE … SET attempts = attempts + 1 WHERE
  attempts < max AND consumed_at IS NULL AND expires_at > now`` has counted it, so however many
  submissions race, at most ``otp_max_attempts`` are ever compared;
* a matching submission then consumes the code with ``UPDATE … WHERE consumed_at IS NULL``: one
  winner, however many race.

A failed check must stay counted although the request fails, so callers run the check in a unit of
work of their own and raise *after* it has committed (:class:`Outcome`).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, Literal, TypeVar, cast

from sqlalchemy import Table, delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.errors import OjaError
from oja.core.ids import uuid7
from oja.core.ratelimit import Rate, RateLimiter, enforce
from oja.identity.config import IdentitySettings
from oja.identity.digests import keyed_digest, new_otp, same_digest
from oja.identity.models import OtpCode

Purpose = Literal["login", "password_reset", "verify_phone"]
T = TypeVar("T")

_otp = cast(Table, OtpCode.__table__)
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
        await db.execute(
            delete(_otp).where(
                _otp.c.purpose == purpose, _otp.c.user_id == user_id, _otp.c.mobile != mobile
            )
        )
    values: dict[str, Any] = {
        "code_hash": digest(secret, purpose, mobile, code),
        "attempts": 0,
        "created_at": now,
        "expires_at": now + timedelta(seconds=settings.otp_ttl),
        "consumed_at": None,
        "user_id": user_id,
    }
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(_otp).values(id=uuid7(), purpose=purpose, mobile=mobile, **values)
    await db.execute(
        statement.on_conflict_do_update(index_elements=["purpose", "mobile"], set_=values)
    )
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
    where = [
        _otp.c.purpose == purpose,
        _otp.c.consumed_at.is_(None),
        _otp.c.expires_at > now,
        _otp.c.attempts < settings.otp_max_attempts,
    ]
    if mobile is not None:
        where.append(_otp.c.mobile == mobile)
    elif user_id is not None:
        where.append(_otp.c.user_id == user_id)
    else:
        raise ValueError("check a code by mobile or by user")
    claimed = (
        await db.execute(
            update(_otp)
            .where(*where)
            .values(attempts=_otp.c.attempts + 1)
            .returning(_otp.c.id, _otp.c.mobile, _otp.c.user_id, _otp.c.code_hash, _otp.c.attempts)
        )
    ).first()
    if claimed is None:
        return Checked(ok=False)
    attempts_left = max(0, settings.otp_max_attempts - int(claimed.attempts))
    if not same_digest(claimed.code_hash, digest(secret, purpose, claimed.mobile, code)):
        return Checked(ok=False, attempts_left=attempts_left)
    consumed = await db.execute(
        update(_otp)
        .where(_otp.c.id == claimed.id, _otp.c.consumed_at.is_(None))
        .values(consumed_at=now)
    )
    if not consumed.rowcount:  # type: ignore[attr-defined]
        return Checked(ok=False)
    return Checked(ok=True, mobile=claimed.mobile, user_id=claimed.user_id)


async def discard(db: AsyncSession, *, purpose: Purpose, mobile: str) -> None:
    """Forget any live code (after a password reset by another route, say)."""
    await db.execute(delete(_otp).where(_otp.c.purpose == purpose, _otp.c.mobile == mobile))


def failure_details(checked: Checked) -> dict[str, int] | None:
    return None if checked.attempts_left is None else {"attempts_left": checked.attempts_left}
