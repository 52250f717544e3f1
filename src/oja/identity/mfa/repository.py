"""SQL for TOTP authenticators and recovery codes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.ids import uuid7
from oja.identity.mfa.models import MfaRecoveryCode, UserMfa
from oja.identity.single_use import spend_once

_mfa = cast(Table, UserMfa.__table__)
_recovery = cast(Table, MfaRecoveryCode.__table__)


async def mfa_enabled(db: AsyncSession, user_id: uuid.UUID) -> bool:
    statement = select(UserMfa.user_id).where(
        UserMfa.user_id == user_id, UserMfa.enabled_at.is_not(None)
    )
    return (await db.execute(statement)).first() is not None


async def authenticator(db: AsyncSession, user_id: uuid.UUID) -> UserMfa | None:
    return await db.get(UserMfa, user_id)


async def advance_step(db: AsyncSession, user_id: uuid.UUID, step: int) -> bool:
    """Record ``step`` as the last accepted TOTP step if it is later than the last one; True for
    exactly one caller however many race with the same code."""
    result = await db.execute(
        update(_mfa)
        .where(
            _mfa.c.user_id == user_id,
            (_mfa.c.last_used_step.is_(None)) | (_mfa.c.last_used_step < step),
        )
        .values(last_used_step=step)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def spend_recovery_code(
    db: AsyncSession, user_id: uuid.UUID, code_hash: str, *, now: datetime
) -> bool:
    spent = await spend_once(
        db,
        _recovery.c.used_at,
        _recovery.c.user_id == user_id,
        _recovery.c.code_hash == code_hash,
        now=now,
    )
    return spent is not None


async def replace_recovery_codes(
    db: AsyncSession, user_id: uuid.UUID, code_hashes: list[str], *, now: datetime
) -> None:
    await db.execute(delete(_recovery).where(_recovery.c.user_id == user_id))
    for code_hash in code_hashes:
        db.add(MfaRecoveryCode(id=uuid7(), user_id=user_id, code_hash=code_hash, created_at=now))
    await db.flush()


async def remove(db: AsyncSession, user_id: uuid.UUID) -> None:
    await db.execute(delete(_recovery).where(_recovery.c.user_id == user_id))
    await db.execute(delete(_mfa).where(_mfa.c.user_id == user_id))
