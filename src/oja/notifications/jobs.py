"""The event subscribers and the two jobs that turn events into notifications.

``@events.on`` handlers run inside the emitter's unit of work and only enqueue there: the job row
is the outbox, so a rolled-back change notifies no one. The events a unit of work emits without an
``event_id`` share one :data:`deliver_events` job; one with an ``event_id`` gets its own
:data:`deliver_event`, keyed by it. Either stores the in-app notifications and the pending deliveries and enqueues one
:data:`send_deliveries` per start time (quiet hours) and per :data:`SEND_BATCH` deliveries; see
:mod:`.delivery` for why a delivery is sent at most once, batch or not.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import structlog
from fastapi.encoders import jsonable_encoder
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core import events
from oja.core.clock import utcnow
from oja.core.db import current_session
from oja.core.ids import uuid7
from oja.core.jobs import EnqueueOptions, Job, JobContext, JobFailure, JobStatus, job
from oja.notifications.catalogue import EVENTS

if TYPE_CHECKING:
    from oja.notifications import service

# The services (and jinja2, the channels) are imported by the jobs that run them: a worker
# process that runs none of them does not load them (tests/test_process_imports.py).

log = structlog.get_logger("oja.notifications")
SEND_ATTEMPTS = 8
"""Attempts per delivery: with the kernel's exponential backoff, a provider outage of several
minutes is ridden out before the delivery is given up as ``failed``."""
DELIVER_BATCH = 50
"""Most events one :data:`deliver_events` job fans out."""
_BATCH = "oja.notifications.deliver_batch"
SEND_BATCH = 5
"""Most deliveries one send job takes: a job per delivery was most of a shopping day's jobs (a
fan-out makes 2–4). Five provider calls fit the single send's 60 s timeout (10 s each at most),
so a batch keeps its lease, and a killed worker's batch is retaken as soon as a send was."""
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


@job("notifications.deliver_events", timeout=600)
async def deliver_events(ctx: JobContext, *, events: list[dict[str, Any]]) -> dict[str, Any]:
    """:data:`deliver_event` for the unkeyed events one unit of work emitted (a paid two-store
    cart confirms two orders: one job, one send job, not two of each)."""
    from oja.notifications import service

    notifications, deliveries = 0, []
    for item in events:
        fanned = await service.fan_out(
            ctx.session, item["event"], uuid.UUID(str(item["event_id"])), item["payload"]
        )
        notifications += fanned.notifications
        deliveries += fanned.deliveries
    enqueue_sends(ctx, deliveries)
    return {"events": len(events), "notifications": notifications, "deliveries": len(deliveries)}


@job("notifications.send_digests", periodic=DIGEST_INTERVAL, timeout=600)
async def send_digests(ctx: JobContext) -> dict[str, Any]:
    """Once a day: each recipient's held promotion emails become one digest email."""
    from oja.notifications import service

    folded = await service.build_digests(ctx.session, ctx.runtime)
    enqueue_sends(ctx, folded.deliveries)
    return {"digests": len(folded.deliveries), "folded": folded.notifications}


@job("notifications.send_deliveries", max_attempts=SEND_ATTEMPTS, timeout=60)
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
    session = current_session()
    if not given:
        await _add_to_batch(session, event, payload)
        return
    event_id = uuid.UUID(str(given))
    key = f"notifications.event:{event_id}"
    if await session.scalar(select(Job.id).where(Job.dedupe_key == key)) is not None:
        return
    deliver_event.enqueue_with(
        session,
        EnqueueOptions(dedupe_key=key),
        event=event,
        event_id=event_id,
        payload=payload,
    )


async def _add_to_batch(session: AsyncSession, event: str, payload: dict[str, Any]) -> None:
    """Add an unkeyed event to this unit of work's :data:`deliver_events` job (a new one when it
    has none, or a full one, or lost it to a rollback).

    An enqueue buffers its row outside the session (the outbox's Core INSERT): the ``Job`` it
    returns is never in the session, so the batch is found by id and its payload replaced with
    one UPDATE, which flushes the buffered row first; no row updated means the batch is gone."""
    item = jsonable_encoder({"event": event, "event_id": uuid7(), "payload": payload})
    batch: tuple[uuid.UUID, list[dict[str, Any]]] | None = session.info.get(_BATCH)
    if batch is not None and len(batch[1]) < DELIVER_BATCH:
        job_id, items = batch
        items = [*items, item]
        updated = await session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.queued)
            .values(payload={"events": items})
            .execution_options(synchronize_session=False)
        )
        if updated.rowcount:  # type: ignore[attr-defined]
            session.info[_BATCH] = (job_id, items)
            return
    session.info[_BATCH] = (deliver_events.enqueue(session, events=[item]).id, [item])


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
