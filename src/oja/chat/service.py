"""Chatrooms: create, list (cached), read with messages, rename, delete. Services flush, never commit.

The room list cache (see the module docstring of :mod:`oja.chat`) is keyed by a per-user
*generation*: ``chat:rooms:<user>:gen`` holds a token, the list lives at
``chat:rooms:<user>:list:<token>``. A write bumps the token after its commit, so a list read before
the commit can only ever be stored under the old token, where nobody looks any more — a plain
"delete the key" would let that read put the stale list back for a whole TTL.
"""

from __future__ import annotations

import math
import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.chat import quota, repository
from oja.chat.errors import ChatroomNotFound
from oja.chat.models import Chatroom
from oja.chat.schemas import ChatroomDetail, ChatroomList, ChatroomOut, MessageOut
from oja.core.cache import Cache
from oja.core.clock import utcnow
from oja.core.db import after_commit
from oja.core.ids import uuid7
from oja.core.pagination import Page, PageParams
from oja.core.runtime import Runtime

log = structlog.get_logger("oja.chat")
GENERATION_TTL = 7 * 86_400.0
"""Far longer than any list TTL: a forgotten generation can only fall back to lists long expired."""


def _generation_key(owner_id: uuid.UUID) -> str:
    return f"chat:rooms:{owner_id}:gen"


def _list_key(owner_id: uuid.UUID, generation: bytes | None) -> str:
    return f"chat:rooms:{owner_id}:list:{(generation or b'0').decode()}"


async def room_list_json(
    session: AsyncSession, cache: Cache, owner_id: uuid.UUID, ttl: float
) -> tuple[bytes, bool]:
    """The caller's rooms as the JSON body of ``GET /chatroom``, and whether it came from the cache.

    A hit costs two cache reads and no query; the body is stored ready to send, so a hit does not
    validate or serialise anything either.
    """
    key = _list_key(owner_id, await cache.get(_generation_key(owner_id)))
    cached = await cache.get(key)
    if cached is not None:
        return cached, True
    rows = await repository.rooms_of(session, owner_id)
    listing = ChatroomList(
        items=[ChatroomOut.model_validate(r, from_attributes=True) for r in rows], total=len(rows)
    )
    body = listing.model_dump_json().encode()
    await cache.set(key, body, ttl)
    return body, False


def _invalidate_after_commit(session: AsyncSession, cache: Cache, owner_id: uuid.UUID) -> None:
    async def bump() -> None:
        try:
            await cache.set(_generation_key(owner_id), uuid7().hex.encode(), GENERATION_TTL)
        except Exception as exc:  # committed already: failing the request would invite a duplicate
            log.error("chat.rooms.invalidation_lost", user_id=str(owner_id), error=repr(exc))

    after_commit(session, bump)


async def get_owned(session: AsyncSession, room_id: uuid.UUID, owner_id: uuid.UUID) -> Chatroom:
    room = await repository.owned_room(session, room_id, owner_id)
    if room is None:
        raise ChatroomNotFound("No such chatroom.")
    return room


async def create_room(
    session: AsyncSession, cache: Cache, owner_id: uuid.UUID, title: str
) -> Chatroom:
    now = utcnow()
    room = Chatroom(id=uuid7(), owner_id=owner_id, title=title, created_at=now, updated_at=now)
    session.add(room)
    await session.flush()
    _invalidate_after_commit(session, cache, owner_id)
    return room


async def rename_room(
    session: AsyncSession, cache: Cache, room_id: uuid.UUID, owner_id: uuid.UUID, title: str
) -> Chatroom:
    room = await get_owned(session, room_id, owner_id)
    room.title = title
    room.updated_at = utcnow()
    await session.flush()
    _invalidate_after_commit(session, cache, owner_id)
    return room


async def delete_room(
    session: AsyncSession, runtime: Runtime, room_id: uuid.UUID, owner_id: uuid.UUID
) -> None:
    """Delete the room and its messages; prompts still waiting for a reply are refunded (their
    generation job then finds nothing to answer)."""
    room = await get_owned(session, room_id, owner_id)
    waiting = [
        quota.reservation_of(prompt, owner_id)
        for prompt in await repository.pending_prompts(session, room.id)
    ]
    await repository.delete_room(session, room.id)
    _invalidate_after_commit(session, runtime.cache, owner_id)

    async def refund() -> None:
        for reservation in waiting:
            try:
                await quota.refund(runtime, reservation)
            except Exception as exc:  # the unit stays spent, never granted twice
                log.error("chat.rooms.refund_lost", error=repr(exc))

    after_commit(session, refund)


async def room_detail(
    session: AsyncSession, room_id: uuid.UUID, owner_id: uuid.UUID, paging: PageParams
) -> ChatroomDetail:
    room = await get_owned(session, room_id, owner_id)
    rows, total = await repository.message_page(
        session, room.id, offset=paging.offset, limit=paging.per_page
    )
    return ChatroomDetail(
        id=room.id,
        title=room.title,
        created_at=room.created_at,
        updated_at=room.updated_at,
        # Not Page.of: an empty room still has its page 1, where the first message will land.
        messages=Page[MessageOut](
            items=[MessageOut.model_validate(r, from_attributes=True) for r in rows],
            total=total,
            page=paging.page,
            per_page=paging.per_page,
            pages=max(1, math.ceil(total / paging.per_page)),
        ),
    )
