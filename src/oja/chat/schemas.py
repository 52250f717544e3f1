"""Request and response bodies of the chat routes (with the examples the Postman collection uses)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from oja.core.pagination import Page

_ROOM_ID = "0193a1f2-7c4e-7d3a-9b1e-5f6a7b8c9d0e"
_PROMPT_ID = "0193a1f2-8d10-7a2b-8c3d-4e5f6a7b8c9d"
_REPLY_ID = "0193a1f2-8f77-7e1d-a2b3-c4d5e6f7a8b9"
_WHEN = "2026-11-25T12:00:00Z"
_REPLY: dict[str, Any] = {
    "id": _REPLY_ID,
    "chatroom_id": _ROOM_ID,
    "role": "assistant",
    "content": "Lagos is warm in March; pack light clothes.",
    "status": "completed",
    "reply_to_id": _PROMPT_ID,
    "provider": "gemini",
    "model": "gemini-2.0-flash",
    "usage": {"prompt_tokens": 12, "completion_tokens": 11, "total_tokens": 23},
    "created_at": _WHEN,
    "completed_at": _WHEN,
}


def _title(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise ValueError("title must not be blank")
    if "\x00" in value:
        raise ValueError("title must not contain the NUL character")
    return value


# A room's `title` is also accepted as `name` (OpenAPI shows only `title`).
_TITLE_ALIASES = AliasChoices("title", "name")


class ChatroomCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"title": "Trip to Lagos"}]})

    title: str = Field(
        min_length=1,
        max_length=200,
        validation_alias=_TITLE_ALIASES,
        description="Also accepted as `name`; when both are sent, `title` wins.",
    )

    _clean = field_validator("title")(_title)


class ChatroomRename(ChatroomCreate):
    model_config = ConfigDict(json_schema_extra={"examples": [{"title": "Lagos, March"}]})


class ChatroomOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"id": _ROOM_ID, "title": "Trip to Lagos", "created_at": _WHEN, "updated_at": _WHEN}
            ]
        }
    )

    id: uuid.UUID
    title: str
    created_at: datetime
    updated_at: datetime


class ChatroomList(BaseModel):
    items: list[ChatroomOut]
    total: int


class MessageOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_REPLY]})

    id: uuid.UUID
    chatroom_id: uuid.UUID
    role: Literal["user", "assistant"]
    content: str
    status: Literal["pending", "completed", "failed"]
    client_message_id: str | None = None
    reply_to_id: uuid.UUID | None = None
    provider: str | None = None
    """`gemini`, or `local` for the offline provider (used when no Gemini key is configured)."""
    model: str | None = None
    usage: dict[str, Any] | None = None
    error: str | None = None
    created_at: datetime
    completed_at: datetime | None = None


class ChatroomDetail(ChatroomOut):
    messages: Page[MessageOut] = Field(
        description="Page 1 holds the newest messages; each page lists its messages oldest first "
        "(newest last). An empty room has one page."
    )


class MessageCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "content": "What should I pack for Lagos in March?",
                    "client_message_id": "c0ffee-0001",
                }
            ]
        }
    )

    content: str = Field(min_length=1)
    """The prompt (at most `OJA_CHAT_MAX_MESSAGE_CHARS` characters)."""
    client_message_id: str | None = Field(default=None, min_length=1, max_length=100)
    """Your own id for this prompt, unique per room: resending it returns the first result and
    spends nothing."""

    @field_validator("content")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("content must not be blank")
        if "\x00" in value:
            raise ValueError("content must not contain the NUL character")
        return value


class MessageDetail(MessageOut):
    reply: MessageOut | None = None
    """On a completed prompt: its reply."""
    status_url: str
    stream_url: str


class SendResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_message": {
                        "id": _PROMPT_ID,
                        "chatroom_id": _ROOM_ID,
                        "role": "user",
                        "content": "What should I pack for Lagos in March?",
                        "status": "completed",
                        "client_message_id": "c0ffee-0001",
                        "created_at": _WHEN,
                        "completed_at": _WHEN,
                    },
                    "assistant_message": _REPLY,
                    "status": "completed",
                    "status_url": f"/chatroom/{_ROOM_ID}/messages/{_PROMPT_ID}",
                    "stream_url": f"/chatroom/{_ROOM_ID}/messages/{_PROMPT_ID}/stream",
                }
            ]
        }
    )

    user_message: MessageOut
    assistant_message: MessageOut | None
    status: Literal["completed", "pending"]
    status_url: str
    """Poll this for the reply (`GET /chatroom/{id}/messages/{message_id}`)."""
    stream_url: str
    """Server-sent events of the reply as it is written (`Last-Event-ID` resumes)."""
