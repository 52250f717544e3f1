"""Routes under ``/chatroom``. Every route needs a user token; another user's room or
message answers 404, exactly like one that does not exist."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response, status
from fastapi.responses import JSONResponse, StreamingResponse

from oja.billing.errors import QuotaExceeded
from oja.chat import sending, service
from oja.chat.dependencies import ChatSettingsDep
from oja.chat.errors import (
    ChatroomNotFound,
    ClientMessageIdReused,
    GenerationFailed,
    MessageNotFound,
    MessageTooLong,
)
from oja.chat.schemas import (
    ChatroomCreate,
    ChatroomDetail,
    ChatroomList,
    ChatroomOut,
    ChatroomRename,
    MessageCreate,
    MessageDetail,
    SendResult,
)
from oja.core.dependencies import RuntimeDep, SessionDep
from oja.core.errors import InvalidRequest, errors
from oja.core.pagination import PageParams, pagination
from oja.core.routing import LeanRoute
from oja.identity.dependencies import USER_ERRORS, CurrentUser, SignedInUser

router = APIRouter(prefix="/chatroom", tags=["chat"])
_ROOM = (*USER_ERRORS, ChatroomNotFound, InvalidRequest)
_MESSAGE = (*_ROOM, MessageNotFound)
_MESSAGE_PAGES = pagination(default_per_page=50, page_description="1 is the newest page.")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ChatroomOut,
    summary="Create a chatroom",
    responses=errors(*USER_ERRORS, InvalidRequest),
)
async def create_chatroom(
    body: ChatroomCreate, user: CurrentUser, db: SessionDep, runtime: RuntimeDep
) -> ChatroomOut:
    room = await service.create_room(db, runtime.cache, user.id, body.title)
    return ChatroomOut.model_validate(room, from_attributes=True)


async def list_chatrooms(
    user: SignedInUser, db: SessionDep, runtime: RuntimeDep, settings: ChatSettingsDep
) -> Response:
    """Served from a per-user cache for up to ``OJA_CHATROOM_CACHE_TTL`` seconds (default 300);
    creating, renaming or deleting a room invalidates it at once. ``X-Cache`` says which it was."""
    body, hit = await service.room_list_json(
        db, runtime.cache, user.id, settings.chatroom_cache_ttl
    )
    return Response(
        body, media_type="application/json", headers={"X-Cache": "hit" if hit else "miss"}
    )


router.add_api_route(
    "",
    list_chatrooms,
    methods=["GET"],
    response_model=ChatroomList,
    summary="Your chatrooms, newest first (cached per user)",
    responses={
        200: {
            "headers": {"X-Cache": {"description": "`hit` or `miss`", "schema": {"type": "string"}}}
        },
        **errors(*USER_ERRORS),
    },
    route_class_override=LeanRoute,
)


@router.get(
    "/{chatroom_id}",
    response_model=ChatroomDetail,
    summary="A chatroom with a page of its messages",
    responses=errors(*_ROOM),
)
async def get_chatroom(
    chatroom_id: uuid.UUID,
    user: CurrentUser,
    db: SessionDep,
    paging: Annotated[PageParams, Depends(_MESSAGE_PAGES)],
) -> ChatroomDetail:
    """Messages are paged from the newest: page 1 holds the latest ``per_page`` messages; within a
    page they are listed oldest first (newest last), as a conversation is read."""
    return await service.room_detail(db, chatroom_id, user.id, paging)


@router.patch(
    "/{chatroom_id}",
    response_model=ChatroomOut,
    summary="Rename a chatroom",
    responses=errors(*_ROOM),
)
async def rename_chatroom(
    chatroom_id: uuid.UUID,
    body: ChatroomRename,
    user: CurrentUser,
    db: SessionDep,
    runtime: RuntimeDep,
) -> ChatroomOut:
    room = await service.rename_room(db, runtime.cache, chatroom_id, user.id, body.title)
    return ChatroomOut.model_validate(room, from_attributes=True)


@router.delete(
    "/{chatroom_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a chatroom and its messages",
    responses=errors(*_ROOM),
)
async def delete_chatroom(
    chatroom_id: uuid.UUID, user: CurrentUser, db: SessionDep, runtime: RuntimeDep
) -> Response:
    await service.delete_room(db, runtime, chatroom_id, user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{chatroom_id}/message",
    status_code=status.HTTP_201_CREATED,
    response_model=SendResult,
    summary="Send a prompt and get the reply (through the job queue)",
    responses={
        202: {
            "model": SendResult,
            "description": "The reply is still being written: poll `status_url` or read `stream_url`.",
        },
        **errors(
            *_MESSAGE,
            MessageTooLong,
            ClientMessageIdReused,
            QuotaExceeded,
            GenerationFailed,
        ),
    },
)
async def send_message(
    chatroom_id: uuid.UUID,
    body: MessageCreate,
    user: SignedInUser,
    runtime: RuntimeDep,
    settings: ChatSettingsDep,
) -> Any:
    """Spends one prompt of the day (Basic: 5 per UTC day, then 429 with ``remaining`` and
    ``resets_at``; Pro: unlimited). The reply is generated by a queued job; the request waits up to
    ``OJA_CHAT_WAIT_SECONDS`` for it: 201 with both messages, else 202 with links to poll or stream.
    A failed generation answers 502 and gives the prompt back. Resending a ``client_message_id``
    answers the first result and spends nothing."""
    owner_id = user.id
    # No request unit of work (the signed-in user is the session check's detached copy), so no
    # connection is held idle while the reply is awaited; the prompt commits in its own.
    result = sending.send_result(await sending.send(runtime, settings, owner_id, chatroom_id, body))
    if result.status == "pending":
        return JSONResponse(
            result.model_dump(mode="json"),
            status_code=status.HTTP_202_ACCEPTED,
            headers={"Location": result.status_url},
        )
    return result


@router.get(
    "/{chatroom_id}/messages/{message_id}",
    response_model=MessageDetail,
    summary="A message with its status (and, for an answered prompt, its reply)",
    responses=errors(*_MESSAGE),
)
async def get_message(
    chatroom_id: uuid.UUID,
    message_id: uuid.UUID,
    user: CurrentUser,
    runtime: RuntimeDep,
    settings: ChatSettingsDep,
) -> MessageDetail:
    return await sending.message_detail(runtime, settings, user.id, chatroom_id, message_id)


@router.get(
    "/{chatroom_id}/messages/{message_id}/stream",
    response_class=StreamingResponse,
    summary="The reply as server-sent events (`delta`…, then `done`); `Last-Event-ID` resumes",
    responses={
        200: {
            "content": {
                "text/event-stream": {
                    "schema": {"type": "string"},
                    "example": 'id: 1\nevent: delta\ndata: {"text":"Lagos is "}\n\n'
                    'id: 2\nevent: delta\ndata: {"text":"warm in March."}\n\n'
                    'id: 3\nevent: done\ndata: {"message_id":"…","reply_id":"…"}\n\n',
                }
            },
            "description": "`delta` events carry `{text}`; `reset` means drop what was shown (a "
            "retry starts over); `done` ends a stored reply, `error` a failed one.",
        },
        **errors(*_MESSAGE),
    },
)
async def stream_reply(  # noqa: PLR0917 - FastAPI injects by parameter
    chatroom_id: uuid.UUID,
    message_id: uuid.UUID,
    user: CurrentUser,
    runtime: RuntimeDep,
    settings: ChatSettingsDep,
    last_event_id: Annotated[str | None, Header(description="Resume after this event id.")] = None,
) -> StreamingResponse:
    message = await sending.owned_message(runtime, user.id, chatroom_id, message_id)
    after = int(last_event_id) if last_event_id and last_event_id.strip().isdigit() else 0
    return StreamingResponse(
        sending.sse(runtime, settings, message.reply_to_id or message.id, after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
