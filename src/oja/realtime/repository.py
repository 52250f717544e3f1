"""SQL of the realtime outbox and tickets."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, Update, delete, insert, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from oja.identity.single_use import spend_once
from oja.realtime.models import RealtimeEvent, RealtimeEventTopic, RealtimeTicket

_ticket = cast(Table, RealtimeTicket.__table__)


async def add_event(
    session: AsyncSession, event: str, data: dict[str, object], topics: list[str], now: datetime
) -> RealtimeEvent:
    row = RealtimeEvent(event=event, data=data, topics=topics, created_at=now)
    session.add(row)
    await session.flush()  # the id, for the topic rows
    await session.execute(
        insert(RealtimeEventTopic), [{"topic": topic, "event_id": row.id} for topic in topics]
    )
    return row


async def add_events(
    session: AsyncSession, items: Sequence[tuple[str, dict[str, object], list[str]]], now: datetime
) -> list[RealtimeEvent]:
    """:func:`add_event` for many events in two batched statements (a fan-out's thousands)."""
    rows = [RealtimeEvent(event=e, data=d, topics=t, created_at=now) for e, d, t in items]
    session.add_all(rows)
    await session.flush()  # one batched INSERT … RETURNING for the ids
    await session.execute(
        insert(RealtimeEventTopic),
        [{"topic": topic, "event_id": row.id} for row in rows for topic in row.topics],
    )
    return rows


def _mark_statement(ids: Sequence[int], now: datetime) -> Update:
    """Set ``pushed_at`` of the events ``ids`` not yet pushed. The rows are found by ``id``
    alone: ``pushed_at`` is tested as ``pushed_at || ''`` (NULL exactly when it is), which no
    index serves. Tested plainly, the generic plan (asyncpg prepares every statement) costed
    ``ix_realtime_event_pushed_at`` like the primary key and took it: its NULL entries are every
    event not vacuumed since it was made, 541–595 buffers a call in the shopping day (issue 25).
    The drain's read of unpushed events keeps that index."""
    unpushed = RealtimeEvent.pushed_at.op("||")(literal_column("''")).is_(None)
    return update(RealtimeEvent).where(RealtimeEvent.id.in_(ids), unpushed).values(pushed_at=now)


async def mark_pushed(session: AsyncSession, ids: Sequence[int], now: datetime) -> None:
    await session.execute(_mark_statement(ids, now))


async def claim_unpushed(
    session: AsyncSession, *, older_than: datetime, now: datetime, limit: int
) -> list[RealtimeEvent]:
    """Mark up to ``limit`` events created before ``older_than`` and never pushed as pushed now,
    and return them (oldest first); a concurrent drain claims each row once."""
    ids = (
        await session.scalars(
            select(RealtimeEvent.id)
            .where(RealtimeEvent.pushed_at.is_(None), RealtimeEvent.created_at < older_than)
            .order_by(RealtimeEvent.id)
            .limit(limit)
        )
    ).all()
    if not ids:
        return []
    claimed = await session.scalars(_mark_statement(ids, now).returning(RealtimeEvent))
    return sorted(claimed.all(), key=lambda row: row.id)


async def events_after(
    session: AsyncSession, topics: Sequence[str], after: int, limit: int
) -> list[RealtimeEvent]:
    """The newest ``limit`` events above ``after`` sent to any of ``topics``, newest first."""
    matching = select(RealtimeEventTopic.event_id).where(
        RealtimeEventTopic.topic.in_(topics), RealtimeEventTopic.event_id > after
    )
    rows = await session.scalars(
        select(RealtimeEvent)
        .where(RealtimeEvent.id.in_(matching))
        .order_by(RealtimeEvent.id.desc())
        .limit(limit)
    )
    return list(rows.all())


async def prune(
    session: AsyncSession, *, created_before: datetime, now: datetime
) -> tuple[int, int]:
    """Delete events older than ``created_before`` (their topic rows with them) and tickets that
    expired before ``now``; how many of each."""
    doomed = select(RealtimeEvent.id).where(RealtimeEvent.created_at < created_before)
    await session.execute(delete(RealtimeEventTopic).where(RealtimeEventTopic.event_id.in_(doomed)))
    events = await session.execute(
        delete(RealtimeEvent).where(RealtimeEvent.created_at < created_before)
    )
    tickets = await session.execute(delete(RealtimeTicket).where(RealtimeTicket.expires_at < now))
    return int(getattr(events, "rowcount", 0)), int(getattr(tickets, "rowcount", 0))


def add_ticket(
    session: AsyncSession, *, digest: str, user_id: uuid.UUID, now: datetime, expires_at: datetime
) -> None:
    session.add(
        RealtimeTicket(digest=digest, user_id=user_id, created_at=now, expires_at=expires_at)
    )


async def spend_ticket(session: AsyncSession, digest: str, now: datetime) -> uuid.UUID | None:
    """The user of the unexpired, unspent ticket ``digest``, which is spent by this call."""
    row = await spend_once(
        session,
        _ticket.c.used_at,
        _ticket.c.digest == digest,
        _ticket.c.expires_at > now,
        now=now,
        returning=[_ticket.c.user_id],
    )
    return None if row is None else row.user_id
