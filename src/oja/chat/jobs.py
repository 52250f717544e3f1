"""``chat.generate``: one reply per prompt, streamed as it is written, stored once.

The job reads the prompt and its history, lets go of its database connection, streams the reply
from the provider (appending each delta to the reply stream), then in one transaction stores the
reply and moves the prompt ``pending → completed`` — together with the job's own completion, so a
stale attempt can store nothing. After that commit the quota unit is committed and ``done`` sent.

Failures: a provider error (after the AI port's own retries) or the reply overrunning
``OJA_CHAT_GENERATION_TIMEOUT`` fails the prompt at once, refunded. Anything else (database, Redis)
is retried by the job runner; the last attempt fails the prompt the same way. A worker killed on the
last attempt, or the job's own time limit, ends nothing itself: the job's failure hook then fails the
prompt in the transaction that fails the job and refunds it after commit, through the same
:mod:`.outcomes`. Nothing depends on a client being connected: the reply is finished and stored
even if every reader has gone.
"""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AsyncExitStack
from typing import Any, NoReturn

import structlog

from oja.chat import outcomes, quota, repository
from oja.chat.config import get_chat_settings
from oja.chat.generation import HISTORY_ROWS, Turn, conversation, provider_for, stream_reply
from oja.chat.models import ChatMessage, Chatroom, MessageStatus
from oja.chat.streams import ReplyStreams, reply_streams, stream_key
from oja.core.ai import (
    AINotConfigured,
    AIProviderError,
    ChatModel,
    Message,
    ProviderName,
    get_ai_settings,
    open_chat_model,
)
from oja.core.ai.prompting import estimate_tokens
from oja.core.clock import utcnow
from oja.core.db import after_commit, discard
from oja.core.ids import uuid7
from oja.core.jobs import JobContext, JobFailure, PermanentJobError, job

log = structlog.get_logger("oja.chat")

MAX_ATTEMPTS = 3
_settings = get_chat_settings()


_clients: dict[tuple[int, ProviderName], tuple[AsyncExitStack, ChatModel]] = {}


async def _model(provider: ProviderName, stack: AsyncExitStack, reuse: bool) -> ChatModel:
    """A chat model from the AI port; with ``reuse``, one per provider and event loop, kept open.

    A worker process runs every job on one long-lived loop, so the client (and its connection
    pool) outlives the job; tests, whose loops come and go, switch reuse off.
    """
    if not reuse:
        return await stack.enter_async_context(open_chat_model(get_ai_settings(), provider))
    key = (id(asyncio.get_running_loop()), provider)
    if key not in _clients:
        owner = AsyncExitStack()
        model = await owner.enter_async_context(open_chat_model(get_ai_settings(), provider))
        _clients[key] = (owner, model)
    return _clients[key][1]


async def _stream(
    streams: ReplyStreams, key: str, messages: list[Message], provider: ProviderName
) -> tuple[str, str, str]:
    """The reply's text, provider and model; each delta is appended to the stream as it arrives."""
    async with AsyncExitStack() as stack:
        model = await _model(provider, stack, get_chat_settings().chat_reuse_provider_client)
        pieces: list[str] = []
        async for delta in stream_reply(model, messages, get_ai_settings()):
            if delta:
                pieces.append(delta)
                await streams.append(key, "delta", {"text": delta})
        return "".join(pieces), model.provider, model.model


@job(
    "chat.generate",
    timeout=_settings.chat_generation_timeout + 30,
    max_attempts=MAX_ATTEMPTS,
    subject=("chat_message", "message_id"),
)
async def generate_reply(ctx: JobContext, *, message_id: uuid.UUID) -> dict[str, Any]:
    settings = get_chat_settings()
    prompt = await repository.message(ctx.session, message_id)
    if prompt is None or prompt.role != "user" or prompt.status != MessageStatus.pending:
        return {"skipped": True}
    room = await ctx.session.get(Chatroom, prompt.chatroom_id)
    assert room is not None  # the prompt's foreign key cascades with the room
    room_id, owner_id, content = room.id, room.owner_id, prompt.content
    reservation = quota.reservation_of(prompt, owner_id)
    history = [
        Turn(row.role, row.content)
        for row in await repository.history_before(ctx.session, room_id, prompt, HISTORY_ROWS)
    ]
    # Hold no connection (nor SQLite snapshot) while the provider talks; the writes below open a new
    # transaction in this same session, which the runner commits with the job's completion.
    await discard(ctx.session)

    messages = conversation(history, content, settings.chat_history_tokens)
    streams = reply_streams(ctx.runtime, settings)
    key = stream_key(message_id)
    if await streams.last(key) is not None:  # an earlier attempt sent deltas: readers start over
        await streams.append(key, "reset", {"attempt": ctx.attempt})
    provider = provider_for(get_ai_settings())
    try:
        async with asyncio.timeout(settings.chat_generation_timeout):
            text, provider_name, model_name = await _stream(streams, key, messages, provider)
    except (AIProviderError, AINotConfigured) as exc:
        await _give_up(ctx, message_id, exc.message)
    except TimeoutError:
        await _give_up(
            ctx, message_id, f"No reply within {settings.chat_generation_timeout:g} seconds."
        )
    except Exception as exc:
        if ctx.attempt >= MAX_ATTEMPTS:
            await _give_up(ctx, message_id, f"{type(exc).__name__}: {exc}")
        raise

    if not await repository.complete_prompt(ctx.session, message_id):
        return {"skipped": True, "reason": "the prompt is no longer pending"}
    prompt_tokens = sum(estimate_tokens(m.content) for m in messages)
    completion_tokens = estimate_tokens(text)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        # The port's stream() yields text only, so counts are estimated (four characters a token).
        "estimated": True,
    }
    now = utcnow()
    reply = ChatMessage(
        id=uuid7(),
        chatroom_id=room_id,
        role="assistant",
        content=text,
        status=MessageStatus.completed,
        reply_to_id=message_id,
        provider=provider_name,
        model=model_name,
        usage=usage,
        created_at=now,
        completed_at=now,
    )
    ctx.session.add(reply)
    await ctx.session.flush()
    reply_id = reply.id

    async def finish() -> None:
        try:
            await quota.commit(ctx.runtime, reservation)
            await streams.append(
                key,
                "done",
                {"message_id": str(message_id), "reply_id": str(reply_id), "usage": usage},
            )
        except Exception as exc:  # the reply is stored; readers fall back to the database
            log.error("chat.reply.followup_lost", message_id=str(message_id), error=repr(exc))

    after_commit(ctx.session, finish)
    log.info(
        "chat.reply.generated",
        message_id=str(message_id),
        provider=provider_name,
        chars=len(text),
    )
    return {"reply_id": str(reply_id), "provider": provider_name, "chars": len(text)}


async def _give_up(ctx: JobContext, message_id: uuid.UUID, reason: str) -> NoReturn:
    await discard(ctx.session)
    await outcomes.fail(ctx.runtime, get_chat_settings(), message_id, reason)
    raise PermanentJobError(reason)


@generate_reply.on_failure
async def generate_reply_failed(failure: JobFailure, *, message_id: uuid.UUID) -> None:
    """The job is ``failed``: a prompt still pending fails with the job's error and is refunded
    once that commits (what :func:`_give_up` does, for the failures the job body never saw)."""
    failed = await outcomes.record_failure(failure.session, message_id, failure.error)
    if failed is None:
        return
    runtime, settings = failure.runtime, get_chat_settings()

    async def follow_up() -> None:
        await outcomes.after_failure(runtime, settings, failed)

    failure.after_commit(follow_up)
