"""SQL for API keys. The per-request lookup is one Core select on the unique hash index."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oja.identity.api_keys.models import ApiKey
from oja.identity.models import User

_key = cast(Table, ApiKey.__table__)
_user = cast(Table, User.__table__)


async def credential(db: AsyncSession, key_hash: str) -> Row[*tuple[Any, ...]] | None:
    statement = (
        select(
            _key.c.id,
            _key.c.user_id,
            _key.c.scopes,
            _key.c.expires_at,
            _key.c.revoked_at,
            _key.c.last_used_at,
            _user.c.is_active,
        )
        .join(_user, _user.c.id == _key.c.user_id)
        .where(_key.c.key_hash == key_hash)
    )
    return (await db.execute(statement)).first()


async def touch(
    db: AsyncSession, key_id: uuid.UUID, *, now: datetime, stale_before: datetime
) -> None:
    await db.execute(
        update(_key)
        .where(
            _key.c.id == key_id,
            or_(_key.c.last_used_at.is_(None), _key.c.last_used_at < stale_before),
        )
        .values(last_used_at=now)
    )


async def owned(db: AsyncSession, user_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey | None:
    statement = select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user_id)
    return (await db.execute(statement)).scalar_one_or_none()


async def list_owned(db: AsyncSession, user_id: uuid.UUID) -> Sequence[ApiKey]:
    statement = (
        select(ApiKey)
        .where(ApiKey.user_id == user_id)
        .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    )
    return list((await db.execute(statement)).scalars())
