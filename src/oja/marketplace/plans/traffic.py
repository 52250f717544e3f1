"""The traffic limit's exact set of distinct users per store and plan period, and its atomic
admission: a Redis sorted set when ``OJA_REDIS_URL`` is set, the ``store_visitor`` table otherwise.

Only a user's first visit in a period writes (one row, or one ``ZADD``); a counted user's later
views are one read. Admission is atomic: with ``limit`` places, at most ``limit`` distinct users are
ever admitted however many race. Each counted user keeps their place (1 = first admitted): when the
store's limit falls below the count (a downgrade, a lapsed plan), places beyond it no longer pass.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.clock import utcnow
from oja.core.runtime import Runtime
from oja.marketplace.plans import repository
from oja.marketplace.plans.cache import per_runtime


@dataclass(frozen=True, slots=True)
class Admission:
    admitted: bool
    counted: int | None
    """The store's count after this user was added; None when the user was already counted."""


ALREADY_COUNTED = Admission(admitted=True, counted=None)
FULL = Admission(admitted=False, counted=None)


class Visitors(Protocol):
    async def known(
        self, db: AsyncSession, periods: dict[uuid.UUID, datetime], user_id: uuid.UUID
    ) -> dict[uuid.UUID, int | None]:
        """The stores of ``periods`` (store → its period's start) already counting ``user_id``,
        each with the user's place (None: counted before places were kept): one read, whatever
        the number of stores."""

    async def admit(
        self,
        db: AsyncSession,
        vendor_id: uuid.UUID,
        user_id: uuid.UUID,
        limit: int | None,
        window: tuple[datetime, datetime],
    ) -> Admission: ...

    async def used(
        self, db: AsyncSession, vendor_id: uuid.UUID, window: tuple[datetime, datetime]
    ) -> int: ...


class SqlVisitors:
    """Rows in the request's unit of work: a refused admission rolls back with the request."""

    async def known(
        self, db: AsyncSession, periods: dict[uuid.UUID, datetime], user_id: uuid.UUID
    ) -> dict[uuid.UUID, int | None]:
        return await repository.counted_in(db, periods, user_id)

    async def admit(
        self,
        db: AsyncSession,
        vendor_id: uuid.UUID,
        user_id: uuid.UUID,
        limit: int | None,
        window: tuple[datetime, datetime],
    ) -> Admission:
        start = window[0]
        if not await repository.add_visitor(db, vendor_id, start, user_id):
            return ALREADY_COUNTED
        count = await repository.take_place(db, vendor_id, start, limit)
        if count is None:
            return FULL
        await repository.set_ordinal(db, vendor_id, start, user_id, count)
        return Admission(admitted=True, counted=count)

    async def used(
        self, db: AsyncSession, vendor_id: uuid.UUID, window: tuple[datetime, datetime]
    ) -> int:
        return await repository.counted(db, vendor_id, window[0])


# KEYS[1] the sorted set (member: user, score: place); ARGV[1] user, ARGV[2] limit (-1: none),
# ARGV[3] TTL in ms. Answers -1 (already counted), -2 (full) or the new count (the user's place).
_ADMIT = """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return -1 end
local n = redis.call('ZCARD', KEYS[1])
local limit = tonumber(ARGV[2])
if limit >= 0 and n >= limit then return -2 end
redis.call('ZADD', KEYS[1], n + 1, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return n + 1
"""


class RedisVisitors:
    """One sorted set per store and period, admitted by one Lua script (one round trip)."""

    def __init__(self, redis: aioredis.Redis, namespace: str = "oja:store-places:") -> None:
        self._redis = redis
        self._namespace = namespace
        self._admit = redis.register_script(_ADMIT)

    def _key(self, vendor_id: uuid.UUID, start: datetime) -> str:
        return f"{self._namespace}{{{vendor_id}}}:{start:%Y%m%d}"

    @staticmethod
    def _version_key(vendor_id: uuid.UUID) -> str:
        return f"oja:store-plan-version:{vendor_id}"

    async def place_and_version(
        self, vendor_id: uuid.UUID, start: datetime, user_id: uuid.UUID
    ) -> tuple[int | None, int]:
        """The user's place in the store's period (None: not counted) and the store's plan
        version: the hot path's one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zscore(self._key(vendor_id, start), str(user_id))
            pipe.get(self._version_key(vendor_id))
            place, version = await pipe.execute()
        return (None if place is None else int(place)), int(version or 0)

    async def version_and_places(
        self, vendor_id: uuid.UUID, starts: Sequence[datetime], user_id: uuid.UUID
    ) -> tuple[int, list[int | None]]:
        """The store's plan version and the user's place in its period starting at each of
        ``starts`` (None: not counted): a cache miss's one round trip, read before the plan
        (whose interval says which period is the store's)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(self._version_key(vendor_id))
            for start in starts:
                pipe.zscore(self._key(vendor_id, start), str(user_id))
            version, *places = await pipe.execute()
        return int(version or 0), [None if place is None else int(place) for place in places]

    async def versions(self, vendor_ids: list[uuid.UUID]) -> list[int]:
        found = await self._redis.mget([self._version_key(v) for v in vendor_ids])
        return [int(v or 0) for v in found]

    async def bump(self, vendor_ids: list[uuid.UUID]) -> None:
        """A store's plan changed: every process's cached allowance of it is stale."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for vendor_id in vendor_ids:
                pipe.incr(self._version_key(vendor_id))
            await pipe.execute()

    async def known(
        self, db: AsyncSession, periods: dict[uuid.UUID, datetime], user_id: uuid.UUID
    ) -> dict[uuid.UUID, int | None]:
        stores = list(periods)
        if len(stores) == 1:  # the hot path (one store's page): one command, no pipeline
            place = await self._redis.zscore(self._key(stores[0], periods[stores[0]]), str(user_id))
            return {} if place is None else {stores[0]: int(place)}
        async with self._redis.pipeline(transaction=False) as pipe:
            for vendor_id in stores:
                pipe.zscore(self._key(vendor_id, periods[vendor_id]), str(user_id))
            found = await pipe.execute()
        return {
            vendor_id: int(place)
            for vendor_id, place in zip(stores, found, strict=True)
            if place is not None
        }

    async def admit(
        self,
        db: AsyncSession,
        vendor_id: uuid.UUID,
        user_id: uuid.UUID,
        limit: int | None,
        window: tuple[datetime, datetime],
    ) -> Admission:
        start, end = window
        # The set outlives its period by a day, for the usage shown just after the rollover.
        ttl_ms = int((end - utcnow()).total_seconds() * 1000) + 86_400_000
        answer = int(
            await self._admit(
                keys=[self._key(vendor_id, start)],
                args=[str(user_id), -1 if limit is None else limit, ttl_ms],
            )
        )
        if answer == -1:
            return ALREADY_COUNTED
        if answer == -2:
            return FULL
        return Admission(admitted=True, counted=answer)

    async def used(
        self, db: AsyncSession, vendor_id: uuid.UUID, window: tuple[datetime, datetime]
    ) -> int:
        return int(await self._redis.zcard(self._key(vendor_id, window[0])))


def visitors_for(runtime: Runtime) -> Visitors:
    """Redis-backed when the runtime has Redis (shared by every replica), else the database;
    one per runtime."""
    holder = per_runtime(runtime)
    found = holder.get("visitors")
    if found is None:
        found = holder["visitors"] = (
            RedisVisitors(runtime.redis) if runtime.redis is not None else SqlVisitors()
        )
    return found
