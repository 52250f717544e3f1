"""Chat tables: ``chatroom`` (a user's conversation) and ``chat_message`` (its turns).

A user message starts ``pending`` and becomes ``completed`` once its reply is stored, or ``failed``
with the reason; only the conditional UPDATE from ``pending`` moves it, so a second delivery of the
generation job, or a room deleted meanwhile, cannot store a second reply. Replies are assistant rows
whose ``reply_to_id`` is unique: at most one reply per prompt, whatever runs twice.
``(chatroom_id, client_message_id)`` is unique: a resent prompt finds its first result.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.clock import utcnow
from oja.core.db import Base, IdMixin, TimestampMixin, one_of, status_column


class MessageStatus(enum.StrEnum):
    pending = "pending"
    completed = "completed"
    failed = "failed"


class Chatroom(IdMixin, TimestampMixin, Base):
    __tablename__ = "chatroom"
    __table_args__ = (Index("ix_chatroom_owner_id_created_at", "owner_id", "created_at"),)

    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))


class ChatMessage(IdMixin, Base):
    __tablename__ = "chat_message"
    __table_args__ = (
        UniqueConstraint("chatroom_id", "client_message_id"),
        Index("ix_chat_message_chatroom_id_created_at", "chatroom_id", "created_at"),
    )

    chatroom_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chatroom.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(one_of(("user", "assistant"), name="role_valid", length=16))
    content: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = status_column(MessageStatus, default=MessageStatus.pending)
    client_message_id: Mapped[str | None] = mapped_column(String(100))
    """The sender's own id for the prompt; a resend with it answers the first result."""
    reply_to_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("chat_message.id", ondelete="CASCADE"), unique=True
    )
    """On a reply: the prompt it answers (unique, so a prompt has at most one reply)."""
    provider: Mapped[str | None] = mapped_column(String(32))
    """On a reply: `gemini` or `local` (the offline provider, labelled as such)."""
    model: Mapped[str | None] = mapped_column(String(100))
    usage: Mapped[dict[str, Any] | None] = mapped_column()
    """On a reply: prompt/completion/total tokens, and whether they are estimates."""
    error: Mapped[str | None] = mapped_column(Text)
    """On a failed prompt: why (the provider's own message after retries)."""
    job_id: Mapped[uuid.UUID | None] = mapped_column()
    """On a prompt: the ``chat.generate`` job producing its reply."""
    quota_reservation_id: Mapped[uuid.UUID | None] = mapped_column()
    """On a prompt: the billing quota unit it holds, committed with the reply or refunded on failure."""
    quota_window_start: Mapped[datetime | None] = mapped_column()
    quota_resets_at: Mapped[datetime | None] = mapped_column()
    quota_limit: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column()
