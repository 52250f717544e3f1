"""SQL for phone one-time codes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.ids import uuid7
from oja.identity.otp.models import OtpCode
from oja.identity.single_use import spend_once

_otp = cast(Table, OtpCode.__table__)


async def replace_code(
    db: AsyncSession, *, purpose: str, mobile: str, values: dict[str, Any]
) -> None:
    """Store ``values`` as the one code of ``(purpose, mobile)``, overwriting any (an upsert)."""
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(_otp).values(id=uuid7(), purpose=purpose, mobile=mobile, **values)
    await db.execute(
        statement.on_conflict_do_update(index_elements=["purpose", "mobile"], set_=values)
    )


async def drop_other_numbers(
    db: AsyncSession, *, purpose: str, user_id: uuid.UUID, mobile: str
) -> None:
    await db.execute(
        delete(_otp).where(
            _otp.c.purpose == purpose, _otp.c.user_id == user_id, _otp.c.mobile != mobile
        )
    )


async def count_attempt(
    db: AsyncSession,
    *,
    purpose: str,
    now: datetime,
    max_attempts: int,
    mobile: str | None,
    user_id: uuid.UUID | None,
) -> Row[Any] | None:
    """Count one attempt against the live code (by ``mobile``, else by ``user_id``) that has
    attempts left; the code's row after counting, or None when there is no such code."""
    where = [
        _otp.c.purpose == purpose,
        _otp.c.consumed_at.is_(None),
        _otp.c.expires_at > now,
        _otp.c.attempts < max_attempts,
    ]
    if mobile is not None:
        where.append(_otp.c.mobile == mobile)
    elif user_id is not None:
        where.append(_otp.c.user_id == user_id)
    else:
        raise ValueError("check a code by mobile or by user")
    statement = (
        update(_otp)
        .where(*where)
        .values(attempts=_otp.c.attempts + 1)
        .returning(_otp.c.id, _otp.c.mobile, _otp.c.user_id, _otp.c.code_hash, _otp.c.attempts)
    )
    return (await db.execute(statement)).first()


async def consume(db: AsyncSession, code_id: uuid.UUID, *, now: datetime) -> bool:
    return await spend_once(db, _otp.c.consumed_at, _otp.c.id == code_id, now=now) is not None


async def discard(db: AsyncSession, *, purpose: str, mobile: str) -> None:
    await db.execute(delete(_otp).where(_otp.c.purpose == purpose, _otp.c.mobile == mobile))
