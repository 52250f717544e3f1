"""SQL for sessions and refresh tokens. Hot paths use Core, not ORM loads."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import instrumentation, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state

from oja.core.db import Database, DriverRead
from oja.identity.models import User, UserRole
from oja.identity.sessions.models import AuthSession, RefreshToken
from oja.identity.single_use import spend_once

_session = cast(Table, AuthSession.__table__)
_refresh = cast(Table, RefreshToken.__table__)


@dataclass(frozen=True)
class AccessState:
    """What an access token's session says now: revoked or not, its user, the user's roles."""

    user: User
    revoked_at: datetime | None
    roles: frozenset[str]


_user = cast(Table, User.__table__)
_role = cast(Table, UserRole.__table__)
_ACCESS_STATE = DriverRead(
    select(*_user.c, _session.c.revoked_at, _role.c.role)
    .join(_session, _session.c.user_id == _user.c.id)
    .outerjoin(_role, _role.c.user_id == _user.c.id)
    .where(_session.c.id == bindparam("session_id"))
)
_USER_KEYS = tuple(column.key for column in _user.c)
_users = instrumentation.manager_of_class(User)


async def access_state(database: Database, session_id: uuid.UUID) -> AccessState | None:
    """The state of session ``session_id``: one SELECT (a row per role), checked on every request,
    so logout, revocation, password change, role changes and deletion count on the next one.

    Not the ORM: this runs on every authenticated request, and the ORM's session and entity
    loading cost as much as the round trip. The user comes back detached, fully loaded and
    without history, as if read by a session that has closed: its attributes are set as a load
    sets them (no constructor, no attribute events), then it is made detached.
    """
    rows = await _ACCESS_STATE.rows(database, {"session_id": session_id})
    if not rows:
        return None
    first = rows[0]
    user = _users.new_instance()
    instance_state(user).dict.update(zip(_USER_KEYS, first[: len(_USER_KEYS)], strict=True))
    make_transient_to_detached(user)
    roles = frozenset(row[-1] for row in rows if row[-1] is not None)
    return AccessState(user=user, revoked_at=first[len(_USER_KEYS)], roles=roles)


LIVE_SESSION: ColumnElement[bool] = (
    select(_session.c.id)
    .join(_user, _user.c.id == _session.c.user_id)
    .where(
        _session.c.id == bindparam("live_session_id"),
        _session.c.user_id == bindparam("live_user_id"),
        _session.c.revoked_at.is_(None),
        _user.c.is_active.is_(True),
    )
    .exists()
)
"""True while session ``live_session_id`` of user ``live_user_id`` is signed in and the account
enabled: the condition a write can carry instead of a separate session check (see
:class:`oja.identity.dependencies.PendingSession`). A deleted user's sessions are gone with it."""


async def revoke_session(
    db: AsyncSession, session_id: uuid.UUID, *, reason: str, now: datetime
) -> bool:
    result = await db.execute(
        update(_session)
        .where(_session.c.id == session_id, _session.c.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def touch_session(db: AsyncSession, session_id: uuid.UUID, *, now: datetime) -> None:
    await db.execute(
        update(_session).where(_session.c.id == session_id).values(last_refreshed_at=now)
    )


async def revoke_other_sessions(
    db: AsyncSession, user_id: uuid.UUID, *, keep: uuid.UUID | None, reason: str, now: datetime
) -> int:
    statement = (
        update(_session)
        .where(_session.c.user_id == user_id, _session.c.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )
    if keep is not None:
        statement = statement.where(_session.c.id != keep)
    result = await db.execute(statement)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def claim_refresh_token(
    db: AsyncSession, token_id: uuid.UUID, session_id: uuid.UUID, *, now: datetime
) -> bool:
    """Mark an unused refresh token used; True for exactly one caller however many race."""
    spent = await spend_once(
        db,
        _refresh.c.used_at,
        _refresh.c.id == token_id,
        _refresh.c.session_id == session_id,
        now=now,
    )
    return spent is not None


async def refresh_token_state(
    db: AsyncSession, token_id: uuid.UUID
) -> Row[*tuple[Any, ...]] | None:
    """The refresh token joined with its session's owner and revocation."""
    statement = (
        select(
            _refresh.c.id,
            _refresh.c.session_id,
            _refresh.c.used_at,
            _refresh.c.expires_at,
            _session.c.user_id,
            _session.c.revoked_at,
        )
        .join(_session, _session.c.id == _refresh.c.session_id)
        .where(_refresh.c.id == token_id)
    )
    return (await db.execute(statement)).first()


async def child_of(db: AsyncSession, token_id: uuid.UUID) -> RefreshToken | None:
    return (
        await db.execute(select(RefreshToken).where(RefreshToken.parent_id == token_id))
    ).scalar_one_or_none()


async def device_history(
    db: AsyncSession, user_id: uuid.UUID, ip_address: str | None, user_agent: str | None
) -> tuple[bool, bool]:
    """(whether the user has signed in before, whether from this IP address and user agent)."""
    rows = (
        await db.execute(
            select(AuthSession.ip_address, AuthSession.user_agent)
            .where(AuthSession.user_id == user_id)
            .distinct()
            .limit(1000)
        )
    ).all()
    return bool(rows), any(r[0] == ip_address and r[1] == user_agent for r in rows)
