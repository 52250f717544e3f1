"""How a prompt ends, wherever that is decided (the generation job, or a request that finds the job
dead): the database first, then the quota, then the stream's terminal event.

The order makes a crash harmless: a prompt marked ``failed`` whose refund was lost keeps the unit
spent (billing never grants on a crash); a reply committed whose quota commit was lost leaves the
unit reserved, which counts as spent too. The terminal event comes last, so a reader that sees it
can read the outcome from the database.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.billing.quota import Reservation
from oja.chat import quota, repository
from oja.chat.config import ChatSettings
from oja.chat.models import Chatroom
from oja.chat.streams import reply_streams, stream_key
from oja.core.db import unit_of_work
from oja.core.runtime import Runtime

log = structlog.get_logger("oja.chat")


@dataclass(frozen=True)
class FailedPrompt:
    """A prompt just marked failed in a transaction: what must follow once that commits."""

    prompt_id: uuid.UUID
    reason: str
    reservation: Reservation | None


async def fail(runtime: Runtime, settings: ChatSettings, prompt_id: uuid.UUID, reason: str) -> bool:
    """Mark the prompt failed with ``reason`` and refund its unit; False if it had already ended."""
    async with unit_of_work(runtime.database) as session:
        failed = await record_failure(session, prompt_id, reason)
    if failed is None:
        return False
    await after_failure(runtime, settings, failed)
    return True


async def record_failure(
    session: AsyncSession, prompt_id: uuid.UUID, reason: str
) -> FailedPrompt | None:
    """``pending → failed`` in the caller's transaction; None if the prompt is gone or had ended.

    Call :func:`after_failure` once that transaction has committed, never before.
    """
    prompt = await repository.message(session, prompt_id)
    if prompt is None:
        return None
    room = await session.get(Chatroom, prompt.chatroom_id)
    reservation = quota.reservation_of(prompt, room.owner_id) if room is not None else None
    if not await repository.fail_prompt(session, prompt_id, reason):
        return None
    return FailedPrompt(prompt_id, reason, reservation)


async def after_failure(runtime: Runtime, settings: ChatSettings, failed: FailedPrompt) -> None:
    """The refund, then the stream's ``error`` event, of a failure that has committed."""
    log.warning("chat.prompt.failed", message_id=str(failed.prompt_id), reason=failed.reason[:300])
    try:
        await quota.refund(runtime, failed.reservation)
        await reply_streams(runtime, settings).append(
            stream_key(failed.prompt_id),
            "error",
            {"message_id": str(failed.prompt_id), "reason": failed.reason},
        )
    except Exception as exc:  # the failure is recorded; a lost refund keeps the unit spent
        log.error(
            "chat.prompt.fail_followup_lost", message_id=str(failed.prompt_id), error=repr(exc)
        )
