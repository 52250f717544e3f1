"""SQL for started external sign-ins and linked external accounts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from oja.identity.google.models import OAuthState, UserIdentity
from oja.identity.single_use import spend_once

_state = cast(Table, OAuthState.__table__)


async def identity(db: AsyncSession, issuer: str, subject: str) -> UserIdentity | None:
    statement = select(UserIdentity).where(
        UserIdentity.issuer == issuer, UserIdentity.subject == subject
    )
    return (await db.execute(statement)).scalar_one_or_none()


async def spend_state(
    db: AsyncSession, state_hash: str, provider: str, *, now: datetime
) -> Row[Any] | None:
    """The ``nonce`` and ``code_verifier`` of the unexpired, unused started sign-in, spent by this
    call."""
    return await spend_once(
        db,
        _state.c.used_at,
        _state.c.state_hash == state_hash,
        _state.c.provider == provider,
        _state.c.expires_at > now,
        now=now,
        returning=[_state.c.nonce, _state.c.code_verifier],
    )
