"""User rules: signup, password-less accounts, roles, the admin list, ``oja create-admin``.

Services add and flush; the caller's unit of work commits. Nothing here logs a password, a token or
an identifier in clear.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.ids import uuid7
from oja.core.pagination import PageParams
from oja.identity import repository
from oja.identity.errors import AccountExists, LastAdmin, UserNotFound
from oja.identity.models import User, UserRole
from oja.identity.passwords import Passwords
from oja.identity.schemas import SignupRequest, normalize_mobile
from oja.identity.scopes import DEFAULT_ROLE, Role

log = structlog.get_logger("oja.identity")


@dataclass(frozen=True)
class Account:
    """A user and the roles they hold now, sorted."""

    user: User
    roles: list[str]

    @property
    def id(self) -> uuid.UUID:
        return self.user.id


async def signup(db: AsyncSession, data: SignupRequest, passwords: Passwords) -> Account:
    """Create a buyer. Uniqueness is the database's job: a racing duplicate fails the flush."""
    password_hash = await passwords.hash(data.password) if data.password is not None else None
    user = User(
        id=uuid7(),
        email=data.email,
        mobile=data.mobile,
        name=data.name,
        avatar_url=str(data.avatar_url) if data.avatar_url else None,
        locale=data.locale,
        password_hash=password_hash,
        is_active=True,
    )
    db.add(user)
    db.add(UserRole(user_id=user.id, role=DEFAULT_ROLE))
    try:
        await db.flush()
    except IntegrityError as exc:
        text = str(exc.orig).lower()
        fields = [f for f in ("email", "mobile") if f in text] or ["email", "mobile"]
        raise AccountExists(
            "An account with this email or mobile number already exists.",
            details={"fields": fields},
        ) from exc
    log.info("identity.user.created", user_id=str(user.id))
    return Account(user, [DEFAULT_ROLE])


def normalize_identifier(identifier: str) -> str:
    """Lower-cased email, E.164 mobile, or the trimmed input when it is neither."""
    value = identifier.strip()
    if "@" in value:
        return value.lower()
    try:
        return normalize_mobile(value)
    except ValueError:
        return value.lower()


async def find_by_identifier(db: AsyncSession, identifier: str) -> User | None:
    """The user a normalised login identifier names (an email or an E.164 mobile), if any."""
    if "@" in identifier:
        return await repository.user_by_email(db, identifier)
    if identifier.startswith("+"):
        return await repository.user_by_mobile(db, identifier)
    return None


async def create_user(
    db: AsyncSession,
    *,
    email: str | None = None,
    mobile: str | None = None,
    name: str | None = None,
    avatar_url: str | None = None,
    email_verified_at: datetime | None = None,
    mobile_verified_at: datetime | None = None,
) -> User:
    """A password-less buyer (OTP or Google sign-up); a duplicate email or mobile fails the flush."""
    user = User(
        id=uuid7(),
        email=email,
        mobile=mobile,
        name=name,
        avatar_url=avatar_url,
        is_active=True,
        email_verified_at=email_verified_at,
        mobile_verified_at=mobile_verified_at,
    )
    db.add(user)
    db.add(UserRole(user_id=user.id, role=DEFAULT_ROLE))
    try:
        await db.flush()
    except IntegrityError as exc:
        raise AccountExists("An account with this email or mobile number already exists.") from exc
    log.info("identity.user.created", user_id=str(user.id))
    return user


async def get_user(db: AsyncSession, user_id: uuid.UUID) -> User:
    user = await repository.user_by_id(db, user_id)
    if user is None:
        raise UserNotFound("No such user.")
    return user


async def account(db: AsyncSession, user: User) -> Account:
    return Account(user, await repository.roles_of(db, user.id))


async def list_users(db: AsyncSession, paging: PageParams) -> tuple[Sequence[Account], int]:
    """One page of accounts, newest first, and how many there are in all."""
    users, total = await repository.page_users(db, offset=paging.offset, limit=paging.per_page)
    roles = await repository.roles_of_many(db, [u.id for u in users])
    return [Account(u, roles[u.id]) for u in users], total


async def grant_role(db: AsyncSession, user_id: uuid.UUID, role: Role) -> Account:
    user = await get_user(db, user_id)
    await repository.add_role(db, user.id, role)
    log.info("identity.role.granted", user_id=str(user.id), role=str(role))
    return await account(db, user)


async def revoke_role(db: AsyncSession, user_id: uuid.UUID, role: Role) -> Account:
    user = await get_user(db, user_id)
    roles = await repository.roles_of(db, user.id)
    if role == Role.admin and role in roles and await repository.count_role(db, Role.admin) <= 1:
        raise LastAdmin("The last admin cannot lose the admin role.")
    await repository.remove_role(db, user.id, role)
    log.info("identity.role.revoked", user_id=str(user.id), role=str(role))
    return await account(db, user)


async def create_admin(
    db: AsyncSession,
    *,
    email: str,
    password: str,
    passwords: Passwords,
    name: str | None = None,
) -> Account:
    """Create an admin, or make an existing account with this email one (for ``oja create-admin``).

    An existing account keeps its password; a new one gets the given password.
    """
    data = SignupRequest(email=email, password=password, name=name)
    assert data.email is not None
    existing = await repository.user_by_email(db, data.email)
    user_id = (await signup(db, data, passwords)).id if existing is None else existing.id
    return await grant_role(db, user_id, Role.admin)
