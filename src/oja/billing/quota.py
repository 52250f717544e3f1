"""Quotas: reserve a unit before doing metered work, then commit it or refund it.

``reserve`` is atomic: with ``limit`` units per window, at most ``limit`` reservations succeed however
many run at once, on every replica. ``commit`` and ``refund`` are idempotent and each applies at most
once per reservation (``reserved → committed | refunded``); only a refund gives the unit back. A
reservation never committed nor refunded stays counted (a crash spends a unit, never grants one).

Backends: a Lua script on Redis when ``OJA_REDIS_URL`` is set; otherwise a counter row changed by a
conditional ``UPDATE … SET used = used + 1 WHERE used < :limit`` (the row lock the UPDATE takes on
PostgreSQL, and SQLite's single writer, make the check and the increment one step). The SQL backend
runs its own short transactions: call ``reserve`` before writing in the request's unit of work on
SQLite, whose one write lock would otherwise be held by the request.

Windows are UTC calendar periods: ``day`` resets at midnight UTC, ``month`` on the 1st, ``year`` on
January 1st.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

import redis.asyncio as aioredis
from sqlalchemy import select, update

from oja.billing.errors import QuotaExceeded
from oja.billing.models import QuotaCounter, QuotaReservation
from oja.billing.repository import insert_ignoring_conflict
from oja.core.clock import utcnow
from oja.core.db import Database, own_transaction, read_only
from oja.core.ids import uuid7
from oja.core.runtime import Runtime

Period = Literal["day", "month", "year"]


@dataclass(frozen=True, slots=True)
class Reservation:
    id: uuid.UUID
    subject: str
    metric: str
    window_start: datetime
    resets_at: datetime
    limit: int | None
    remaining: int | None
    """Units left in the window after this one; None when unlimited."""


@dataclass(frozen=True, slots=True)
class Usage:
    used: int
    limit: int | None
    remaining: int | None
    resets_at: datetime


def window(period: Period, now: datetime | None = None) -> tuple[datetime, datetime]:
    """``[start, end)`` of the UTC calendar ``period`` containing ``now``."""
    now = (now or utcnow()).astimezone(UTC)
    if period == "day":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return start, start + timedelta(days=1)
    if period == "month":
        start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = (
            start.replace(year=start.year + 1, month=1)
            if start.month == 12
            else start.replace(month=start.month + 1)
        )
        return start, end
    start = now.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    return start, start.replace(year=start.year + 1)


def exceeded(limit: int, resets_at: datetime) -> QuotaExceeded:
    retry_after = max(1, math.ceil((resets_at - utcnow()).total_seconds()))
    return QuotaExceeded(
        f"Quota used up: {limit} per period. It resets at {resets_at.isoformat()}.",
        details={"limit": limit, "remaining": 0, "resets_at": resets_at.isoformat()},
        headers={"Retry-After": str(retry_after)},
    )


class Quotas(Protocol):
    async def reserve(
        self, subject: str, metric: str, limit: int | None, period: Period = "day"
    ) -> Reservation:
        """One unit, or :class:`QuotaExceeded` (429) when ``limit`` are already used."""

    async def commit(self, reservation: Reservation) -> bool:
        """Mark the unit spent; True the first time only."""

    async def refund(self, reservation: Reservation) -> bool:
        """Give the unit back unless it was committed; True the first time only."""

    async def usage(
        self, subject: str, metric: str, limit: int | None, period: Period = "day"
    ) -> Usage: ...


def _remaining(limit: int | None, used: int) -> int | None:
    return None if limit is None else max(0, limit - used)


class SqlQuotas:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def reserve(
        self, subject: str, metric: str, limit: int | None, period: Period = "day"
    ) -> Reservation:
        start, end = window(period)
        if limit is not None and limit <= 0:
            raise exceeded(0, end)
        key = (
            QuotaCounter.subject == subject,
            QuotaCounter.metric == metric,
            QuotaCounter.window_start == start,
        )
        async with own_transaction(self._database) as session:
            await insert_ignoring_conflict(
                session,
                QuotaCounter.__table__,  # type: ignore[arg-type]
                {"subject": subject, "metric": metric, "window_start": start, "used": 0},
                QuotaCounter.used,
            )
            statement = update(QuotaCounter).where(*key)
            if limit is not None:
                statement = statement.where(QuotaCounter.used < limit)
            used = (
                await session.execute(
                    statement.values(used=QuotaCounter.used + 1)
                    .returning(QuotaCounter.used)
                    .execution_options(synchronize_session=False)
                )
            ).scalar_one_or_none()
            if used is None:  # raising rolls the counter row's insert back
                assert limit is not None
                raise exceeded(limit, end)
            reservation_id = uuid7()
            session.add(
                QuotaReservation(
                    id=reservation_id,
                    subject=subject,
                    metric=metric,
                    window_start=start,
                    status="reserved",
                    created_at=utcnow(),
                )
            )
        return Reservation(
            id=reservation_id,
            subject=subject,
            metric=metric,
            window_start=start,
            resets_at=end,
            limit=limit,
            remaining=_remaining(limit, used),
        )

    async def commit(self, reservation: Reservation) -> bool:
        async with own_transaction(self._database) as session:
            result = await session.execute(
                update(QuotaReservation)
                .where(QuotaReservation.id == reservation.id, QuotaReservation.status == "reserved")
                .values(status="committed")
            )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def refund(self, reservation: Reservation) -> bool:
        async with own_transaction(self._database) as session:
            result = await session.execute(
                update(QuotaReservation)
                .where(QuotaReservation.id == reservation.id, QuotaReservation.status == "reserved")
                .values(status="refunded")
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return False  # the update matched no row: nothing to commit
            await session.execute(
                update(QuotaCounter)
                .where(
                    QuotaCounter.subject == reservation.subject,
                    QuotaCounter.metric == reservation.metric,
                    QuotaCounter.window_start == reservation.window_start,
                    QuotaCounter.used > 0,
                )
                .values(used=QuotaCounter.used - 1)
            )
            return True

    async def usage(
        self, subject: str, metric: str, limit: int | None, period: Period = "day"
    ) -> Usage:
        start, end = window(period)
        async with read_only(self._database) as session:
            used = (
                await session.execute(
                    select(QuotaCounter.used).where(
                        QuotaCounter.subject == subject,
                        QuotaCounter.metric == metric,
                        QuotaCounter.window_start == start,
                    )
                )
            ).scalar_one_or_none() or 0
        return Usage(used=used, limit=limit, remaining=_remaining(limit, used), resets_at=end)


# KEYS[1] counter, KEYS[2] reservation; ARGV[1] limit (-1: none), ARGV[2] TTL in ms.
_RESERVE = """
local limit = tonumber(ARGV[1])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if limit >= 0 and used >= limit then return {0, used} end
used = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], 'reserved', 'PX', ARGV[2])
return {1, used}
"""
# KEYS[1] reservation.
_COMMIT = """
if redis.call('GET', KEYS[1]) == 'reserved' then
  redis.call('SET', KEYS[1], 'committed', 'KEEPTTL')
  return 1
end
return 0
"""
# KEYS[1] reservation, KEYS[2] counter.
_REFUND = """
if redis.call('GET', KEYS[1]) == 'reserved' then
  redis.call('SET', KEYS[1], 'refunded', 'KEEPTTL')
  if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
  return 1
end
return 0
"""


class RedisQuotas:
    """Counters in Redis; both keys of a reservation share a hash tag (one slot on a cluster)."""

    def __init__(self, redis: aioredis.Redis, namespace: str = "oja:quota:") -> None:
        self._redis = redis
        self._namespace = namespace
        self._reserve = redis.register_script(_RESERVE)
        self._commit = redis.register_script(_COMMIT)
        self._refund = redis.register_script(_REFUND)

    def _counter(self, subject: str, metric: str, start: datetime) -> str:
        return f"{self._namespace}{{{subject}|{metric}|{start:%Y%m%d}}}:used"

    def _reservation(self, reservation: Reservation) -> str:
        tag = f"{{{reservation.subject}|{reservation.metric}|{reservation.window_start:%Y%m%d}}}"
        return f"{self._namespace}{tag}:r:{reservation.id}"

    async def reserve(
        self, subject: str, metric: str, limit: int | None, period: Period = "day"
    ) -> Reservation:
        start, end = window(period)
        if limit is not None and limit <= 0:
            raise exceeded(0, end)
        reservation = Reservation(
            id=uuid7(),
            subject=subject,
            metric=metric,
            window_start=start,
            resets_at=end,
            limit=limit,
            remaining=None,
        )
        # Keys outlive their window by a day so a late refund still finds them.
        ttl_ms = int((end - utcnow()).total_seconds() * 1000) + 86_400_000
        allowed, used = await self._reserve(
            keys=[self._counter(subject, metric, start), self._reservation(reservation)],
            args=[-1 if limit is None else limit, ttl_ms],
        )
        if not int(allowed):
            assert limit is not None
            raise exceeded(limit, end)
        return Reservation(
            id=reservation.id,
            subject=subject,
            metric=metric,
            window_start=start,
            resets_at=end,
            limit=limit,
            remaining=_remaining(limit, int(used)),
        )

    async def commit(self, reservation: Reservation) -> bool:
        return bool(int(await self._commit(keys=[self._reservation(reservation)])))

    async def refund(self, reservation: Reservation) -> bool:
        keys = [
            self._reservation(reservation),
            self._counter(reservation.subject, reservation.metric, reservation.window_start),
        ]
        return bool(int(await self._refund(keys=keys)))

    async def usage(
        self, subject: str, metric: str, limit: int | None, period: Period = "day"
    ) -> Usage:
        start, end = window(period)
        raw = await self._redis.get(self._counter(subject, metric, start))
        used = int(raw or 0)
        return Usage(used=used, limit=limit, remaining=_remaining(limit, used), resets_at=end)


def quotas_for(runtime: Runtime) -> Quotas:
    """Redis-backed when the runtime has Redis (shared by every replica), else the database."""
    if runtime.redis is not None:
        return RedisQuotas(runtime.redis)
    return SqlQuotas(runtime.database)
