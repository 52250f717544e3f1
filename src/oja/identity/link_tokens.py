"""Emailed one-time link tokens (password reset, address verification): 256 random bits, stored as
an HMAC only, single use, expiring. Issuing one ends the earlier unused ones of its purpose.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.ids import uuid7
from oja.identity import repository
from oja.identity.digests import keyed_digest, new_link_token
from oja.identity.models import OneTimeToken, User


def token_digest(secret: str, token: str) -> str:
    return keyed_digest(secret, "link-token", token)


async def issue(
    db: AsyncSession,
    *,
    user: User,
    email: str,
    purpose: str,
    secret: str,
    ttl: int,
    now: datetime,
) -> str:
    """A new one-time link token; earlier unused ones of the same purpose stop working."""
    await repository.drop_unused_link_tokens(db, user.id, purpose)
    token = new_link_token()
    db.add(
        OneTimeToken(
            id=uuid7(),
            user_id=user.id,
            purpose=purpose,
            token_hash=token_digest(secret, token),
            email=email,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
    )
    await db.flush()
    return token


@dataclass(frozen=True)
class SpentToken:
    user_id: uuid.UUID
    email: str
    """The address the link was sent to."""


async def spend(
    db: AsyncSession, *, token: str, purpose: str, secret: str, now: datetime
) -> SpentToken | None:
    """Use a link token once: one winner however many race; None for a wrong, used or expired
    token."""
    row = await repository.spend_link_token(db, token_digest(secret, token), purpose, now=now)
    return None if row is None else SpentToken(user_id=row.user_id, email=row.email)
