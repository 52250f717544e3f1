"""Sending a prompt, waiting for its reply, reading it back, and streaming it.

``send`` is its own unit-of-work boundary (like a job): the prompt and its generation job must be
committed *before* the request waits for the reply, so it cannot ride on the request's transaction.
Steps: read the room, a resend (``client_message_id``) and the caller's tier; reserve one prompt
from billing's quota engine (before any write: on SQLite the engine needs the one write lock);
commit the prompt with its ``chat.generate`` job (published after commit); wait. Anything failing
between the reservation and the commit refunds the unit.

Waiting: the reply stream's terminal event wakes the waiter at once (Redis ``XREAD BLOCK``, or the
in-process buffer when the job runs here); the prompt row is re-read whenever the stream is quiet,
so a worker in another process without Redis is still seen, only later. A prompt still pending
whose job the runner gave up on (timeouts, lost workers) is failed and refunded when next read.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from oja.billing.service import entitlements
from oja.chat import outcomes, quota, repository
from oja.chat.config import ChatSettings
from oja.chat.errors import (
    ChatroomNotFound,
    ClientMessageIdReused,
    GenerationFailed,
    MessageNotFound,
)
from oja.chat.jobs import generate_reply
from oja.chat.models import ChatMessage, MessageStatus
from oja.chat.schemas import MessageCreate, MessageDetail, MessageOut, SendResult
from oja.chat.streams import StreamEvent, reply_streams, stream_key
from oja.core.clock import utcnow
from oja.core.db import read_only, unit_of_work
from oja.core.errors import OjaError
from oja.core.ids import uuid7
from oja.core.jobs import Job, JobStatus
from oja.core.runtime import Runtime

HEARTBEAT_SECONDS = 15.0
SETTLE_GRACE_SECONDS = 3.0
"""How long a stream reader waits for the terminal event of a reply the database says is settled."""


class MessageTooLong(OjaError):
    status_code = 422
    code = "message_too_long"


@dataclass(frozen=True)
class Outcome:
    prompt: ChatMessage
    reply: ChatMessage | None


def status_url(room_id: uuid.UUID, prompt_id: uuid.UUID) -> str:
    return f"/chatroom/{room_id}/messages/{prompt_id}"


def stream_url(room_id: uuid.UUID, prompt_id: uuid.UUID) -> str:
    return f"{status_url(room_id, prompt_id)}/stream"


async def send(
    runtime: Runtime,
    settings: ChatSettings,
    owner_id: uuid.UUID,
    room_id: uuid.UUID,
    body: MessageCreate,
) -> Outcome:
    if len(body.content) > settings.chat_max_message_chars:
        raise MessageTooLong(
            f"content must be at most {settings.chat_max_message_chars} characters.",
            details={"max_chars": settings.chat_max_message_chars},
        )
    async with read_only(runtime.database) as session:
        if await repository.owned_room(session, room_id, owner_id) is None:
            raise ChatroomNotFound("No such chatroom.")
        if body.client_message_id is not None:
            first = await repository.message_by_client_id(session, room_id, body.client_message_id)
            if first is not None:
                return await _resend(runtime, settings, first, body)
        granted = await entitlements(session, owner_id)
    reservation = await quota.reserve(runtime, owner_id, granted.daily_prompt_limit)
    try:
        async with unit_of_work(runtime.database) as session:
            prompt = ChatMessage(
                id=uuid7(),
                chatroom_id=room_id,
                role="user",
                content=body.content,
                status=MessageStatus.pending,
                client_message_id=body.client_message_id,
                created_at=utcnow(),
            )
            quota.remember(prompt, reservation)
            session.add(prompt)
            await session.flush()
            prompt.job_id = generate_reply.enqueue(message_id=prompt.id).id
            prompt_id = prompt.id
    except IntegrityError:
        await quota.refund(runtime, reservation)
        # A concurrent resend with the same client_message_id won, or the room was just deleted.
        if body.client_message_id is not None:
            async with read_only(runtime.database) as session:
                first = await repository.message_by_client_id(
                    session, room_id, body.client_message_id
                )
            if first is not None:
                return await _resend(runtime, settings, first, body)
        raise ChatroomNotFound("No such chatroom.") from None
    except BaseException:
        await quota.refund(runtime, reservation)
        raise
    await wait_for_reply(runtime, settings, prompt_id, settings.chat_wait_seconds)
    return await outcome(runtime, settings, prompt_id)


async def _resend(
    runtime: Runtime, settings: ChatSettings, first: ChatMessage, body: MessageCreate
) -> Outcome:
    """The first result of a prompt sent again: nothing reserved, nothing enqueued."""
    if first.content != body.content:
        raise ClientMessageIdReused(
            "This client_message_id was already used for a different message in this room.",
            details={"message_id": str(first.id)},
        )
    await wait_for_reply(runtime, settings, first.id, settings.chat_wait_seconds)
    return await outcome(runtime, settings, first.id)


async def wait_for_reply(
    runtime: Runtime, settings: ChatSettings, prompt_id: uuid.UUID, timeout: float
) -> None:
    """Return once the prompt has left ``pending`` or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    streams = reply_streams(runtime, settings)
    key = stream_key(prompt_id)
    after, pause = 0, 0.05
    while True:
        async with read_only(runtime.database) as session:
            status = await session.scalar(
                select(ChatMessage.status).where(ChatMessage.id == prompt_id)
            )
        if status != MessageStatus.pending:
            return
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            events = await streams.read(key, after, block=min(remaining, pause))
            if not events:
                pause = min(pause * 2, 0.5)
                break  # quiet: look at the database (a worker elsewhere, a lost event)
            after = events[-1].seq
            if any(event.terminal for event in events):
                break


async def outcome(runtime: Runtime, settings: ChatSettings, prompt_id: uuid.UUID) -> Outcome:
    async with read_only(runtime.database) as session:
        prompt = await repository.message(session, prompt_id)
        if prompt is None:
            raise MessageNotFound("No such message.")
        if prompt.status == MessageStatus.pending and await _job_gave_up(session, prompt):
            await session.close()
            await outcomes.fail(
                runtime, settings, prompt_id, "The reply could not be generated (job failed)."
            )
            return await outcome(runtime, settings, prompt_id)
        reply = await repository.reply_to(session, prompt_id)
    return Outcome(prompt, reply)


async def _job_gave_up(session: AsyncSession, prompt: ChatMessage) -> bool:
    if prompt.job_id is None:
        return False
    status = await session.scalar(select(Job.status).where(Job.id == prompt.job_id))
    return status == JobStatus.failed


def send_result(outcome: Outcome) -> SendResult:
    """The body of ``POST …/message``; a failed prompt is an error (502, refunded)."""
    prompt, reply = outcome.prompt, outcome.reply
    room_id = prompt.chatroom_id
    if prompt.status == MessageStatus.failed:
        raise GenerationFailed(
            f"The reply could not be generated: {prompt.error}",
            details={
                "message": MessageOut.model_validate(prompt, from_attributes=True).model_dump(
                    mode="json"
                ),
                "refunded": True,
                "status_url": status_url(room_id, prompt.id),
            },
        )
    completed = prompt.status == MessageStatus.completed and reply is not None
    return SendResult(
        user_message=MessageOut.model_validate(prompt, from_attributes=True),
        assistant_message=MessageOut.model_validate(reply, from_attributes=True)
        if completed
        else None,
        status="completed" if completed else "pending",
        status_url=status_url(room_id, prompt.id),
        stream_url=stream_url(room_id, prompt.id),
    )


async def message_detail(
    runtime: Runtime,
    settings: ChatSettings,
    owner_id: uuid.UUID,
    room_id: uuid.UUID,
    message_id: uuid.UUID,
) -> MessageDetail:
    message = await owned_message(runtime, owner_id, room_id, message_id)
    reply = None
    if message.role == "user":
        found = await outcome(runtime, settings, message.id)
        message, reply = found.prompt, found.reply
    prompt_id = message.reply_to_id or message.id
    return MessageDetail(
        **MessageOut.model_validate(message, from_attributes=True).model_dump(),
        reply=MessageOut.model_validate(reply, from_attributes=True) if reply else None,
        status_url=status_url(room_id, message.id),
        stream_url=stream_url(room_id, prompt_id),
    )


async def owned_message(
    runtime: Runtime, owner_id: uuid.UUID, room_id: uuid.UUID, message_id: uuid.UUID
) -> ChatMessage:
    async with read_only(runtime.database) as session:
        if await repository.owned_room(session, room_id, owner_id) is None:
            raise ChatroomNotFound("No such chatroom.")
        message = await repository.message_in_room(session, room_id, message_id)
    if message is None:
        raise MessageNotFound("No such message.")
    return message


def replayed(prompt: ChatMessage, reply: ChatMessage | None) -> list[StreamEvent]:
    """The events of a settled reply rebuilt from the database, for a stream no longer (or never)
    kept: deltas of a few words each, then ``done`` — or ``error`` for a failed prompt."""
    if prompt.status == MessageStatus.failed or reply is None:
        return [StreamEvent(1, "error", {"message_id": str(prompt.id), "reason": prompt.error})]
    words = re.findall(r"\S+\s*", reply.content) or [reply.content]
    chunks = ["".join(words[i : i + 8]) for i in range(0, len(words), 8)]
    events = [StreamEvent(n, "delta", {"text": text}) for n, text in enumerate(chunks, start=1)]
    done = {"message_id": str(prompt.id), "reply_id": str(reply.id), "usage": reply.usage}
    return [*events, StreamEvent(len(events) + 1, "done", done)]


async def sse(
    runtime: Runtime, settings: ChatSettings, prompt_id: uuid.UUID, after: int
) -> AsyncIterator[bytes]:
    """Server-sent events of one reply from sequence number ``after`` on, until its terminal event.

    Readers never hold a database connection between polls, and leaving (a closed connection
    cancels this generator) changes nothing for the generation job.
    """
    streams = reply_streams(runtime, settings)
    key = stream_key(prompt_id)
    pause = 0.05
    quiet_since = settled_since = None
    yield b"retry: 2000\n\n"
    while True:
        events = await streams.read(key, after, block=pause)
        if events:
            for event in events:
                yield event.sse()
                after = event.seq
                if event.terminal:
                    return
            pause, quiet_since, settled_since = 0.05, None, None
            continue
        now = time.monotonic()
        quiet_since = quiet_since or now
        found = await outcome(runtime, settings, prompt_id)
        if found.prompt.status != MessageStatus.pending:
            settled_since = settled_since or now
            last = await streams.last(key)
            if last is not None and last.terminal:
                return  # the reader already had everything, terminal event included
            if last is None or now - settled_since > SETTLE_GRACE_SECONDS:
                rebuilt = replayed(found.prompt, found.reply)
                if last is not None:  # the stream lost its terminal event: end it in its numbering
                    rebuilt = [StreamEvent(last.seq + 1, rebuilt[-1].kind, rebuilt[-1].data)]
                for event in rebuilt:
                    if event.seq > after:
                        yield event.sse()
                return
        if now - quiet_since >= HEARTBEAT_SECONDS:
            yield b": keep-alive\n\n"
            quiet_since = now
        pause = min(pause * 2, 1.0)
