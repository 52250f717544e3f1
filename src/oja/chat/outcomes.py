"""How a prompt ends, wherever that is decided (the generation job, or a request that finds the job
dead): the database first, then the quota, then the stream's terminal event.

The order makes a crash harmless: a prompt marked ``failed`` whose refund was lost keeps the unit
spent (billing never grants on a crash); a reply committed whose quota commit was lost leaves the
unit reserved, which counts as spent too. The terminal event comes last, so a reader that sees it
can read the outcome from the database.
"""

from __future__ import annotations

import uuid

import structlog

from oja.chat import quota, repository
from oja.chat.config import ChatSettings
from oja.chat.models import Chatroom
from oja.chat.streams import reply_streams, stream_key
from oja.core.db import unit_of_work
from oja.core.runtime import Runtime

log = structlog.get_logger("oja.chat")


async def fail(runtime: Runtime, settings: ChatSettings, prompt_id: uuid.UUID, reason: str) -> bool:
    """Mark the prompt failed with ``reason`` and refund its unit; False if it had already ended."""
    async with unit_of_work(runtime.database) as session:
        prompt = await repository.message(session, prompt_id)
        if prompt is None:
            return False
        room = await session.get(Chatroom, prompt.chatroom_id)
        reservation = quota.reservation_of(prompt, room.owner_id) if room is not None else None
        changed = await repository.fail_prompt(session, prompt_id, reason)
    if not changed:
        return False
    log.warning("chat.prompt.failed", message_id=str(prompt_id), reason=reason[:300])
    try:
        await quota.refund(runtime, reservation)
        await reply_streams(runtime, settings).append(
            stream_key(prompt_id), "error", {"message_id": str(prompt_id), "reason": reason}
        )
    except Exception as exc:  # the failure is recorded; a lost refund keeps the unit spent
        log.error("chat.prompt.fail_followup_lost", message_id=str(prompt_id), error=repr(exc))
    return True
