"""API keys: ``oja_sk_`` + 256 random bits, stored as SHA-256 only, scoped, expiring, rotatable.

SHA-256 (not argon2) is right here: the key is 256 bits of randomness, so there is nothing to brute
force, and a fast hash keeps the per-request lookup a single indexed equality match.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.ids import uuid7
from oja.identity.api_keys import repository
from oja.identity.api_keys.config import ApiKeySettings
from oja.identity.api_keys.errors import ApiKeyNotFound, ApiKeyNotRotatable, InvalidExpiry
from oja.identity.api_keys.models import ApiKey
from oja.identity.api_keys.schemas import ApiKeyCreate
from oja.identity.errors import AccountDisabled, ApiKeyExpired, ApiKeyInvalid, ApiKeyRevoked

KEY_PREFIX = "oja_sk_"
VISIBLE_CHARS = 8
_MAX_KEY_LENGTH = 128

log = structlog.get_logger("oja.identity.api_keys")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class IssuedKey:
    """A new key's row and the key itself, in clear this once; only its hash is kept."""

    row: ApiKey
    plaintext: str


async def _insert(
    db: AsyncSession,
    *,
    user_id: uuid.UUID,
    name: str,
    scopes: list[str],
    expires_at: datetime | None,
    now: datetime,
) -> IssuedKey:
    plaintext = new_key()
    key = ApiKey(
        id=uuid7(),
        user_id=user_id,
        name=name,
        prefix=plaintext[: len(KEY_PREFIX) + VISIBLE_CHARS],
        key_hash=hash_key(plaintext),
        scopes=sorted(set(scopes)),
        created_at=now,
        expires_at=expires_at,
    )
    db.add(key)
    await db.flush()
    return IssuedKey(row=key, plaintext=plaintext)


async def create(
    db: AsyncSession, user_id: uuid.UUID, data: ApiKeyCreate, settings: ApiKeySettings
) -> IssuedKey:
    now = utcnow()
    if data.expires_at is not None:
        expires_at = data.expires_at
    else:
        expires_at = now + timedelta(days=data.expires_in_days or settings.api_key_default_ttl_days)
    if expires_at <= now:
        raise InvalidExpiry("expires_at must be in the future.")
    if expires_at > now + timedelta(days=settings.api_key_max_ttl_days):
        raise InvalidExpiry(
            f"A key may live at most {settings.api_key_max_ttl_days} days.",
            details={"max_days": settings.api_key_max_ttl_days},
        )
    issued = await _insert(
        db,
        user_id=user_id,
        name=data.name,
        scopes=list(data.scopes),
        expires_at=expires_at,
        now=now,
    )
    log.info("identity.api_key.created", api_key_id=str(issued.row.id), user_id=str(user_id))
    return issued


async def list_keys(db: AsyncSession, user_id: uuid.UUID) -> Sequence[ApiKey]:
    """The user's keys, newest first."""
    return await repository.list_owned(db, user_id)


async def _owned(db: AsyncSession, user_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey:
    key = await repository.owned(db, user_id, key_id)
    if key is None:  # someone else's key is as absent as a missing one
        raise ApiKeyNotFound("No such API key.")
    return key


async def revoke(db: AsyncSession, user_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey:
    key = await _owned(db, user_id, key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        log.info("identity.api_key.revoked", api_key_id=str(key.id), user_id=str(user_id))
    return key


async def rotate(
    db: AsyncSession, user_id: uuid.UUID, key_id: uuid.UUID, settings: ApiKeySettings
) -> IssuedKey:
    """A new key with the same name, scopes and lifetime; the old one dies after the overlap."""
    key = await _owned(db, user_id, key_id)
    now = utcnow()
    if key.status(now) != "active" or key.replaced_by_id is not None:
        raise ApiKeyNotRotatable("Only an active key that has not been rotated can be rotated.")
    lifetime = (
        key.expires_at - key.created_at
        if key.expires_at is not None
        else timedelta(days=settings.api_key_default_ttl_days)
    )
    replacement = await _insert(
        db,
        user_id=user_id,
        name=key.name,
        scopes=list(key.scopes),
        expires_at=now + lifetime,
        now=now,
    )
    overlap_end = now + timedelta(seconds=settings.api_key_rotation_overlap)
    key.expires_at = min(key.expires_at, overlap_end) if key.expires_at else overlap_end
    key.replaced_by_id = replacement.row.id
    log.info(
        "identity.api_key.rotated",
        api_key_id=str(key.id),
        replacement_id=str(replacement.row.id),
        user_id=str(user_id),
    )
    return replacement


@dataclass(frozen=True)
class KeyIdentity:
    api_key_id: uuid.UUID
    user_id: uuid.UUID
    scopes: frozenset[str]
    last_used_stale: bool = False


async def authenticate(db: AsyncSession, key: str, settings: ApiKeySettings) -> KeyIdentity:
    """The identity behind a presented key, or the 401 that says why not. Reads only; the caller
    stamps ``last_used_at`` with :func:`record_use` when ``last_used_stale``."""
    if not key.startswith(KEY_PREFIX) or len(key) > _MAX_KEY_LENGTH:
        raise ApiKeyInvalid("The API key is not valid.")
    row = await repository.credential(db, hash_key(key))
    if row is None:
        raise ApiKeyInvalid("The API key is not valid.")
    now = utcnow()
    if row.revoked_at is not None:
        raise ApiKeyRevoked("The API key has been revoked.")
    if row.expires_at is not None and row.expires_at <= now:
        raise ApiKeyExpired("The API key has expired.")
    if not row.is_active:
        raise AccountDisabled("The account that owns this API key is disabled.")
    stale_before = now - timedelta(seconds=settings.api_key_touch_interval)
    stale = row.last_used_at is None or row.last_used_at < stale_before
    return KeyIdentity(
        api_key_id=row.id, user_id=row.user_id, scopes=frozenset(row.scopes), last_used_stale=stale
    )


async def record_use(db: AsyncSession, key_id: uuid.UUID, settings: ApiKeySettings) -> None:
    """Stamp ``last_used_at`` (at most once per touch interval); the caller commits."""
    now = utcnow()
    stale_before = now - timedelta(seconds=settings.api_key_touch_interval)
    await repository.touch(db, key_id, now=now, stale_before=stale_before)
