"""The chat side of billing's quota engine: one unit of ``chat.prompts`` per prompt.

The reservation is stored on the prompt row (id, window, limit), so whichever process finishes the
prompt — the API, a worker, a later request settling an orphan — can commit or refund it.
"""

from __future__ import annotations

import uuid

from oja.billing.plans import CHAT_PROMPTS_METRIC
from oja.billing.quota import Reservation, quotas_for
from oja.chat.models import ChatMessage
from oja.core.runtime import Runtime


def subject_of(owner_id: uuid.UUID) -> str:
    """The quota subject billing's ``/subscription/status`` reports usage for."""
    return f"user:{owner_id}"


async def reserve(runtime: Runtime, owner_id: uuid.UUID, limit: int | None) -> Reservation:
    """One prompt, or billing's ``QuotaExceeded`` (429, ``remaining`` and ``resets_at`` in details)."""
    return await quotas_for(runtime).reserve(subject_of(owner_id), CHAT_PROMPTS_METRIC, limit)


def remember(prompt: ChatMessage, reservation: Reservation) -> None:
    prompt.quota_reservation_id = reservation.id
    prompt.quota_window_start = reservation.window_start
    prompt.quota_resets_at = reservation.resets_at
    prompt.quota_limit = reservation.limit


def reservation_of(prompt: ChatMessage, owner_id: uuid.UUID) -> Reservation | None:
    if prompt.quota_reservation_id is None or prompt.quota_window_start is None:
        return None
    return Reservation(
        id=prompt.quota_reservation_id,
        subject=subject_of(owner_id),
        metric=CHAT_PROMPTS_METRIC,
        window_start=prompt.quota_window_start,
        resets_at=prompt.quota_resets_at or prompt.quota_window_start,
        limit=prompt.quota_limit,
        remaining=None,
    )


async def commit(runtime: Runtime, reservation: Reservation | None) -> None:
    if reservation is not None:
        await quotas_for(runtime).commit(reservation)


async def refund(runtime: Runtime, reservation: Reservation | None) -> None:
    if reservation is not None:
        await quotas_for(runtime).refund(reservation)
