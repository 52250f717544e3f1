"""SQL of the chat module. Ownership is part of every room query: another user's room is not found."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oja.chat.models import ChatMessage, Chatroom, MessageStatus
from oja.core.clock import utcnow


async def owned_room(
    session: AsyncSession, room_id: uuid.UUID, owner_id: uuid.UUID
) -> Chatroom | None:
    return (
        await session.execute(
            select(Chatroom).where(Chatroom.id == room_id, Chatroom.owner_id == owner_id)
        )
    ).scalar_one_or_none()


async def rooms_of(session: AsyncSession, owner_id: uuid.UUID) -> Sequence[Chatroom]:
    return (
        (
            await session.execute(
                select(Chatroom)
                .where(Chatroom.owner_id == owner_id)
                .order_by(Chatroom.created_at.desc(), Chatroom.id.desc())
            )
        )
        .scalars()
        .all()
    )


async def delete_room(session: AsyncSession, room_id: uuid.UUID) -> None:
    await session.execute(delete(Chatroom).where(Chatroom.id == room_id))


async def message_page(
    session: AsyncSession, room_id: uuid.UUID, *, offset: int, limit: int
) -> tuple[list[ChatMessage], int]:
    """A page counted from the newest message, returned oldest first."""
    total = int(
        await session.scalar(
            select(func.count()).select_from(ChatMessage).where(ChatMessage.chatroom_id == room_id)
        )
        or 0
    )
    rows = (
        await session.execute(
            select(ChatMessage)
            .where(ChatMessage.chatroom_id == room_id)
            .order_by(ChatMessage.created_at.desc(), ChatMessage.id.desc())
            .offset(offset)
            .limit(limit)
        )
    ).scalars()
    return list(reversed(rows.all())), total


async def message_in_room(
    session: AsyncSession, room_id: uuid.UUID, message_id: uuid.UUID
) -> ChatMessage | None:
    return (
        await session.execute(
            select(ChatMessage).where(
                ChatMessage.id == message_id, ChatMessage.chatroom_id == room_id
            )
        )
    ).scalar_one_or_none()


async def message_by_client_id(
    session: AsyncSession, room_id: uuid.UUID, client_message_id: str
) -> ChatMessage | None:
    return (
        await session.execute(
            select(ChatMessage).where(
                ChatMessage.chatroom_id == room_id,
                ChatMessage.client_message_id == client_message_id,
            )
        )
    ).scalar_one_or_none()


async def message(session: AsyncSession, message_id: uuid.UUID) -> ChatMessage | None:
    return await session.get(ChatMessage, message_id)


async def reply_to(session: AsyncSession, prompt_id: uuid.UUID) -> ChatMessage | None:
    return (
        await session.execute(select(ChatMessage).where(ChatMessage.reply_to_id == prompt_id))
    ).scalar_one_or_none()


async def history_before(
    session: AsyncSession, room_id: uuid.UUID, prompt: ChatMessage, limit: int
) -> list[ChatMessage]:
    """The newest ``limit`` turns older than ``prompt`` that belong in a conversation (answered
    prompts and replies; failed or unanswered prompts are left out), oldest first."""
    rows = (
        await session.execute(
            select(ChatMessage)
            .where(
                ChatMessage.chatroom_id == room_id,
                ChatMessage.status == MessageStatus.completed,
                ChatMessage.id != prompt.id,
                ChatMessage.created_at <= prompt.created_at,
            )
            .order_by(ChatMessage.created_at.desc(), ChatMessage.id.desc())
            .limit(limit)
        )
    ).scalars()
    return list(reversed(rows.all()))


async def complete_prompt(session: AsyncSession, prompt_id: uuid.UUID) -> bool:
    """``pending → completed``; False when the prompt is gone or no longer pending."""
    result = await session.execute(
        update(ChatMessage)
        .where(ChatMessage.id == prompt_id, ChatMessage.status == MessageStatus.pending)
        .values(status=MessageStatus.completed, completed_at=utcnow())
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def fail_prompt(session: AsyncSession, prompt_id: uuid.UUID, reason: str) -> bool:
    """``pending → failed`` with the reason; False when it already left ``pending``."""
    result = await session.execute(
        update(ChatMessage)
        .where(ChatMessage.id == prompt_id, ChatMessage.status == MessageStatus.pending)
        .values(status=MessageStatus.failed, error=reason[:2000], completed_at=utcnow())
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def pending_prompts(session: AsyncSession, room_id: uuid.UUID) -> Sequence[ChatMessage]:
    return (
        (
            await session.execute(
                select(ChatMessage).where(
                    ChatMessage.chatroom_id == room_id,
                    ChatMessage.role == "user",
                    ChatMessage.status == MessageStatus.pending,
                )
            )
        )
        .scalars()
        .all()
    )
