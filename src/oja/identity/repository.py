"""SQL for users, their roles and the emailed link tokens."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from oja.identity.models import OneTimeToken, User, UserRole
from oja.identity.single_use import spend_once

_link = cast(Table, OneTimeToken.__table__)


async def user_by_id(db: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await db.get(User, user_id)


async def user_by_email(db: AsyncSession, email: str) -> User | None:
    return (await db.execute(select(User).where(User.email == email))).scalar_one_or_none()


async def user_by_mobile(db: AsyncSession, mobile: str) -> User | None:
    return (await db.execute(select(User).where(User.mobile == mobile))).scalar_one_or_none()


async def roles_of(db: AsyncSession, user_id: uuid.UUID) -> list[str]:
    rows = await db.execute(
        select(UserRole.role).where(UserRole.user_id == user_id).order_by(UserRole.role)
    )
    return list(rows.scalars())


async def roles_of_many(
    db: AsyncSession, user_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    ids = list(user_ids)
    result: dict[uuid.UUID, list[str]] = {i: [] for i in ids}
    if not ids:
        return result
    rows = await db.execute(
        select(UserRole.user_id, UserRole.role)
        .where(UserRole.user_id.in_(ids))
        .order_by(UserRole.role)
    )
    for user_id, role in rows:
        result[user_id].append(role)
    return result


async def add_role(db: AsyncSession, user_id: uuid.UUID, role: str) -> None:
    if role in await roles_of(db, user_id):
        return
    await db.execute(insert(UserRole).values(user_id=user_id, role=role))


async def remove_role(db: AsyncSession, user_id: uuid.UUID, role: str) -> None:
    await db.execute(delete(UserRole).where(UserRole.user_id == user_id, UserRole.role == role))


async def count_role(db: AsyncSession, role: str) -> int:
    return int((await db.execute(select(func.count()).where(UserRole.role == role))).scalar_one())


async def page_users(db: AsyncSession, *, offset: int, limit: int) -> tuple[Sequence[User], int]:
    total = int((await db.execute(select(func.count()).select_from(User))).scalar_one())
    users = (
        await db.execute(
            select(User)
            .order_by(User.created_at.desc(), User.id.desc())
            .offset(offset)
            .limit(limit)
        )
    ).scalars()
    return list(users), total


async def drop_unused_link_tokens(db: AsyncSession, user_id: uuid.UUID, purpose: str) -> None:
    await db.execute(
        delete(OneTimeToken).where(
            OneTimeToken.user_id == user_id,
            OneTimeToken.purpose == purpose,
            OneTimeToken.used_at.is_(None),
        )
    )


async def drop_link_tokens(db: AsyncSession, user_id: uuid.UUID, purpose: str) -> None:
    await db.execute(
        delete(OneTimeToken).where(OneTimeToken.user_id == user_id, OneTimeToken.purpose == purpose)
    )


async def spend_link_token(
    db: AsyncSession, token_hash: str, purpose: str, *, now: datetime
) -> Row[Any] | None:
    """The ``user_id`` and ``email`` of the unexpired, unused link token, spent by this call."""
    return await spend_once(
        db,
        _link.c.used_at,
        _link.c.token_hash == token_hash,
        _link.c.purpose == purpose,
        _link.c.expires_at > now,
        now=now,
        returning=[_link.c.user_id, _link.c.email],
    )
