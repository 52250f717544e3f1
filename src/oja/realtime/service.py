"""Publishing realtime events through the outbox, pushing them after commit, and what sockets and
streams need: tickets, authentication, topic resolution and replay.

:func:`publish` writes the event in the caller's unit of work and, on commit, pushes it to the hub
(then marks it pushed in a short transaction of its own). A rollback drops both. A push that
fails (Redis down) enqueues a ``realtime.drain`` due once the rows are ``OJA_REALTIME_DRAIN_AFTER``
old; a process that dies between commit and push leaves the rows unmarked for the periodic drain
(every 15 s). A publishing unit of work enqueues no job of its own: nearly every push succeeds,
and a drain per unit of work was a job that found nothing to do (a third of a shopping day's).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from fastapi.encoders import jsonable_encoder
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.db import (
    AfterCommit,
    after_commit,
    in_unit_of_work,
    own_transaction,
    read_only,
    unit_of_work,
)
from oja.core.jobs.definition import EnqueueOptions
from oja.core.runtime import Runtime, current_runtime
from oja.identity import tokens
from oja.identity.config import IdentitySettings
from oja.identity.digests import keyed_digest
from oja.identity.errors import AccountDisabled, InvalidToken, SessionRevoked
from oja.identity.models import User
from oja.identity.sessions.repository import access_state
from oja.realtime import audiences, repository
from oja.realtime.config import RealtimeSettings
from oja.realtime.errors import StreamNotFound
from oja.realtime.hub import Message, hub_for
from oja.realtime.models import RealtimeEvent

log = structlog.get_logger("oja.realtime")
_PENDING = "oja.realtime.pending"
TICKET_LABEL = "realtime.ticket"
DRAIN_BATCH = 500
DRAIN_KIND = "realtime.drain"
TRUNCATED = "realtime.truncated"
"""Sent (with id 0) before a replay that had to leave older missed events out."""


def message_of(row: RealtimeEvent) -> Message:
    return Message(
        id=row.id,
        event=row.event,
        data=row.data,
        topics=tuple(row.topics),
        created_at=row.created_at.isoformat(),
    )


async def publish(
    session: AsyncSession, event: str, data: dict[str, Any], topics: list[str]
) -> RealtimeEvent:
    """Record ``event`` for ``topics`` in ``session``'s unit of work; pushed once it commits.

    ``data`` must be JSON (UUIDs and datetimes are encoded); ``event`` a dotted name such as
    ``order.updated``; topics ``<kind>:<id>`` (see :mod:`oja.realtime.audiences`).
    """
    [row] = await publish_many(session, [(event, data, topics)])
    return row


async def publish_many(
    session: AsyncSession, items: list[tuple[str, dict[str, Any], list[str]]]
) -> list[RealtimeEvent]:
    """:func:`publish` for many events at once, in two batched statements (a fan-out's)."""
    if not in_unit_of_work(session):
        raise RuntimeError("no unit of work is active on this session: publish in one")
    if not items:
        return []
    if not all(topics for _, _, topics in items):
        raise ValueError("an event needs at least one topic")
    rows = await repository.add_events(
        session,
        [(e, jsonable_encoder(d), list(dict.fromkeys(t))) for e, d, t in items],
        utcnow(),
    )
    pending: list[RealtimeEvent] | None = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        runtime = current_runtime()
        after_commit(session, _push_after_commit(runtime, session))
    pending.extend(rows)
    return rows


async def _enqueue_drain(runtime: Runtime) -> None:
    """A drain due when the unpushed rows are old enough for it, in a unit of work of its own;
    best effort (the periodic drain remains)."""
    # Found by kind, not imported: the jobs module imports this one.
    drain_job = runtime.outbox.registry.get(DRAIN_KIND)
    if drain_job is None:
        log.warning("realtime.drain.not_registered")
        return
    settings = runtime.settings.section(RealtimeSettings)
    delay = timedelta(seconds=settings.realtime_drain_after + 1)
    try:
        async with unit_of_work(runtime.database) as session:
            drain_job.enqueue_with(session, EnqueueOptions(delay=delay))
    except Exception as exc:
        log.warning("realtime.drain.not_enqueued", error=repr(exc)[:200])


def _push_after_commit(runtime: Runtime, session: AsyncSession) -> AfterCommit:
    async def push() -> None:
        rows: list[RealtimeEvent] = session.info.pop(_PENDING, [])
        try:
            await hub_for(runtime).push([message_of(row) for row in rows])
        except Exception as exc:  # the rows stay unmarked: a drain job pushes them
            log.warning("realtime.push.failed", events=len(rows), error=repr(exc)[:200])
            await _enqueue_drain(runtime)
            return
        try:
            async with own_transaction(runtime.database) as own:
                await repository.mark_pushed(own, [row.id for row in rows], utcnow())
        except Exception as exc:  # pushed but unmarked: the drain pushes again (clients dedupe)
            log.warning("realtime.mark_pushed.failed", events=len(rows), error=repr(exc)[:200])

    return push


async def drain(session: AsyncSession, runtime: Runtime, *, batches: int = 20) -> int:
    """Push events whose after-commit push never happened; how many. Claimed and pushed in the
    job's transaction: a push that fails rolls the claim back for the next attempt."""
    settings = runtime.settings.section(RealtimeSettings)
    hub = hub_for(runtime)
    pushed = 0
    for _ in range(batches):
        now = utcnow()
        rows = await repository.claim_unpushed(
            session,
            older_than=now - timedelta(seconds=settings.realtime_drain_after),
            now=now,
            limit=DRAIN_BATCH,
        )
        await hub.push([message_of(row) for row in rows])
        pushed += len(rows)
        if len(rows) < DRAIN_BATCH:
            break
    return pushed


async def prune(session: AsyncSession, runtime: Runtime) -> dict[str, int]:
    settings = runtime.settings.section(RealtimeSettings)
    now = utcnow()
    events, tickets = await repository.prune(
        session, created_before=now - timedelta(hours=settings.realtime_history_hours), now=now
    )
    return {"events": events, "tickets": tickets}


@dataclass(frozen=True)
class Ticket:
    ticket: str
    expires_in: int


def _ticket_digest(runtime: Runtime, ticket: str) -> str:
    return keyed_digest(runtime.settings.secret_key, TICKET_LABEL, ticket)


def issue_ticket(session: AsyncSession, runtime: Runtime, user_id: uuid.UUID) -> Ticket:
    ttl = runtime.settings.section(RealtimeSettings).realtime_ticket_ttl
    ticket = secrets.token_urlsafe(32)
    now = utcnow()
    repository.add_ticket(
        session,
        digest=_ticket_digest(runtime, ticket),
        user_id=user_id,
        now=now,
        expires_at=now + timedelta(seconds=ttl),
    )
    return Ticket(ticket=ticket, expires_in=ttl)


async def redeem_ticket(runtime: Runtime, ticket: str) -> uuid.UUID | None:
    """The user of ``ticket`` if it is unexpired and unspent, spending it; else None."""
    async with own_transaction(runtime.database) as session:
        user_id = await repository.spend_ticket(session, _ticket_digest(runtime, ticket), utcnow())
        if user_id is None:
            return None
    return user_id if await _active(runtime, user_id) else None


async def _active(runtime: Runtime, user_id: uuid.UUID) -> bool:
    async with read_only(runtime.database) as session:
        user = await session.get(User, user_id)
        return user is not None and user.is_active


async def user_of_access_token(runtime: Runtime, token: str) -> uuid.UUID:
    """The user of a valid access token whose session is live, as every request checks it."""
    claims = tokens.decode(
        token,
        typ="access",
        secret=runtime.settings.secret_key,
        settings=runtime.settings.section(IdentitySettings),
    )
    state = await access_state(runtime.database, claims.session_id)
    if state is None or state.user.id != claims.user_id:
        raise InvalidToken("The token is not valid.")
    if state.revoked_at is not None:
        raise SessionRevoked("This session has been signed out.")
    if not state.user.is_active:
        raise AccountDisabled("This account is disabled.")
    return claims.user_id


async def socket_topics(runtime: Runtime, user_id: uuid.UUID) -> list[str]:
    async with read_only(runtime.database) as session:
        return await audiences.topics_of(session, user_id)


async def authorize(runtime: Runtime, user_id: uuid.UUID, topic: str) -> None:
    """Raise :class:`StreamNotFound` unless ``user_id`` may watch ``topic``."""
    async with read_only(runtime.database) as session:
        if not await audiences.may_watch(session, user_id, topic):
            raise StreamNotFound("No such stream.")


async def missed(runtime: Runtime, topics: list[str], after: int) -> list[Message]:
    """Events above ``after`` for ``topics``, oldest first, at most ``OJA_REALTIME_REPLAY_MAX``;
    led by a :data:`TRUNCATED` notice (id 0) when older ones had to be left out."""
    limit = runtime.settings.section(RealtimeSettings).realtime_replay_max
    async with read_only(runtime.database) as session:
        rows = await repository.events_after(session, topics, after, limit + 1)
    replay = [message_of(row) for row in reversed(rows[:limit])]
    if len(rows) > limit:
        notice = Message(0, TRUNCATED, {"after": after}, (), utcnow().isoformat())
        replay.insert(0, notice)
    return replay
