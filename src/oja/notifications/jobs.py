"""The event subscribers and the two jobs that turn events into notifications.

``@events.on`` handlers run inside the emitter's unit of work and only enqueue
:data:`deliver_event` there: the job row is the outbox, so a rolled-back change notifies no one.
:data:`deliver_event` stores the in-app notifications and the pending deliveries and enqueues one
:data:`send_deliveries` per start time (quiet hours) and per :data:`SEND_BATCH` deliveries; see
:mod:`.delivery` for why a delivery is sent at most once, batch or not.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import select

from oja.core import events
from oja.core.clock import utcnow
from oja.core.db import current_session
from oja.core.ids import uuid7
from oja.core.jobs import EnqueueOptions, Job, JobContext, JobFailure, job
from oja.notifications.catalogue import EVENTS

if TYPE_CHECKING:
    from oja.notifications import service

# The services (and jinja2, the channels) are imported by the jobs that run them: a worker
# process that runs none of them does not load them (tests/test_process_imports.py).

log = structlog.get_logger("oja.notifications")
SEND_ATTEMPTS = 8
"""Attempts per delivery: with the kernel's exponential backoff, a provider outage of several
minutes is ridden out before the delivery is given up as ``failed``."""
SEND_BATCH = 20
"""Most deliveries one send job takes: a job per delivery was most of a shopping day's jobs, and
a bounded batch keeps a retry's and a timeout's reach small."""
DIGEST_INTERVAL = 24 * 3600
"""Seconds between promotion digests (beat runs one per interval, however many beats run)."""


@job("notifications.deliver_event", subject=("notification_event", "event_id"), timeout=600)
async def deliver_event(
    ctx: JobContext, *, event: str, event_id: uuid.UUID, payload: dict[str, Any]
) -> dict[str, Any]:
    from oja.notifications import service

    fanned = await service.fan_out(ctx.session, event, event_id, payload)
    enqueue_sends(ctx, fanned.deliveries)
    return {"notifications": fanned.notifications, "deliveries": len(fanned.deliveries)}


def enqueue_sends(ctx: JobContext, deliveries: list[service.Queued]) -> None:
    """One send job per start time and :data:`SEND_BATCH` deliveries (a fan-out's deliveries
    mostly share one: now, or the end of the recipients' quiet hours); keyed by its first
    delivery, so enqueueing the same deliveries again adds no job."""
    now = utcnow()
    by_start: dict[timedelta | None, list[uuid.UUID]] = {}
    for queued in deliveries:
        delay = queued.send_after - now if queued.send_after is not None else None
        by_start.setdefault(
            delay if delay is not None and delay > timedelta() else None, []
        ).append(queued.id)
    for delay, ids in by_start.items():
        for start in range(0, len(ids), SEND_BATCH):
            batch = ids[start : start + SEND_BATCH]
            send_deliveries.enqueue_with(
                ctx.session,
                EnqueueOptions(dedupe_key=f"notifications.send:{batch[0]}", delay=delay),
                delivery_ids=batch,
            )


@job("notifications.send_digests", periodic=DIGEST_INTERVAL, timeout=600)
async def send_digests(ctx: JobContext) -> dict[str, Any]:
    """Once a day: each recipient's held promotion emails become one digest email."""
    from oja.notifications import service

    folded = await service.build_digests(ctx.session, ctx.runtime)
    enqueue_sends(ctx, folded.deliveries)
    return {"digests": len(folded.deliveries), "folded": folded.notifications}


@job("notifications.send_deliveries", max_attempts=SEND_ATTEMPTS, timeout=300)
async def send_deliveries(ctx: JobContext, *, delivery_ids: list[uuid.UUID]) -> dict[str, Any]:
    """Send each delivery still ``pending``, in turn, each claimed on its own (see
    :func:`.delivery.send_each`); a retry skips those already sent."""
    from oja.notifications import delivery

    return await delivery.send_each(ctx.session, ctx.runtime, delivery_ids)


@send_deliveries.on_failure
async def _sends_failed(failure: JobFailure, *, delivery_ids: list[uuid.UUID]) -> None:
    from oja.notifications import delivery

    for delivery_id in delivery_ids:
        await delivery.give_up(failure.session, delivery_id, failure.error)


# One job per delivery until the batches above: kept for the jobs queued before them.
@job(
    "notifications.send_delivery",
    subject=("notification_delivery", "delivery_id"),
    max_attempts=SEND_ATTEMPTS,
    timeout=60,
)
async def send_delivery(ctx: JobContext, *, delivery_id: uuid.UUID) -> dict[str, Any]:
    from oja.notifications import delivery

    return await delivery.send(ctx.session, ctx.runtime, delivery_id)


@send_delivery.on_failure
async def _send_failed(failure: JobFailure, *, delivery_id: uuid.UUID) -> None:
    from oja.notifications import delivery

    await delivery.give_up(failure.session, delivery_id, failure.error)


async def request_delivery(event: str, payload: dict[str, Any]) -> None:
    """Enqueue the fan-out of ``event`` in the current unit of work (the emitter's).

    An ``event_id`` in the payload makes re-emitting the same event harmless (one job per id, one
    notification per user); without one, each emission is a new event.
    """

    given = payload.get("event_id")
    event_id = uuid.UUID(str(given)) if given else uuid7()
    key = f"notifications.event:{event_id}"
    session = current_session()
    if given and await session.scalar(select(Job.id).where(Job.dedupe_key == key)) is not None:
        return
    deliver_event.enqueue_with(
        session,
        EnqueueOptions(dedupe_key=key),
        event=event,
        event_id=event_id,
        payload=payload,
    )


def _subscriber(event: str) -> events.Handler:
    async def on_event(*, recipient_ids: list[uuid.UUID] | None = None, **data: Any) -> None:
        if not recipient_ids:
            return
        await request_delivery(event, {"recipient_ids": list(recipient_ids), **data})

    on_event.__name__ = f"notify_{event.replace('.', '_')}"
    return on_event


SUBSCRIBERS = {event: _subscriber(event) for event in EVENTS}
for _event, _handler in SUBSCRIBERS.items():
    events.subscribe(_event, _handler)
