"""A source app's call budget: ``n`` calls a second per app key, shared by every worker.

With Redis (``OJA_REDIS_URL``), :class:`CallBudget` counts on the runtime's
:class:`~oja.core.ratelimit.RateLimiter` (its exact moving window); without it (the embedded
profile, whose worker runs several processes), :class:`DatabaseCallBudget` hands out slots from a
schedule row per key in the database, one atomic ``UPDATE … RETURNING`` a call. Either way a
caller takes a slot before each call and waits, never fails, when the second is spent. Within
one process the slots are also spaced ``1/n`` s apart: a burst of ``n`` calls at the top of each
second lands at the source with arrival jitter that its own window counts as one call too many,
while evenly spaced calls keep their slack. A source
that still answers "too many calls" (another app sharing the key, a clock skew) is retried after
the wait it asks for, a bounded number of times.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog
from sqlalchemy import case, insert, update
from sqlalchemy.exc import IntegrityError

from oja.billing.providers.port import ProviderCallRateLimited
from oja.core.db import Database, own_transaction
from oja.core.ratelimit import Rate, RateLimiter
from oja.marketplace.sources.models import SourceCallSlot

T = TypeVar("T")
SCOPE = "marketplace.sources.calls"
RATE_LIMITED_ATTEMPTS = 6
MAX_BACKOFF = 30.0
SPACING_SLACK = 1.04
"""Slots are ``1.04/n`` s apart, not ``1/n``: a few milliseconds of arrival jitter at the source
would otherwise put ``n + 1`` evenly spaced calls inside its one-second window (``ApiCallLimit``,
then a retry that costs a second). The price is 4 % of the budget."""
log = structlog.get_logger("oja.marketplace.sources")


class CallBudget:
    """``await budget.call(lambda: client.product(…))``: the call, made within the budget
    counted by ``limiter``."""

    def __init__(
        self,
        limiter: RateLimiter,
        *,
        key: str,
        per_second: int,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._limiter = limiter
        self._key = key
        self._rate = Rate(per_second, 1)
        self._sleep = sleep
        self._spacing = SPACING_SLACK / per_second
        self._next = 0.0
        self._turn = asyncio.Lock()
        self.waits = 0
        """Times a caller waited for a slot (for logs and the benchmark)."""
        self.throttled = 0
        """Calls the source refused as over its limit, each retried."""

    async def take(self) -> None:
        """Wait for one slot of this key's second (and this process's turn)."""
        async with self._turn:
            early = self._next - time.monotonic()
            if early > 0:
                await self._sleep(early)
            while True:
                decision = await self._limiter.hit(SCOPE, self._key, self._rate)
                if decision.allowed:
                    self._next = time.monotonic() + self._spacing
                    return
                self.waits += 1
                await self._sleep(decision.retry_after_seconds)

    async def call(self, make: Callable[[], Awaitable[T]]) -> T:
        """``make()`` once a slot is free; again after the source's wait when it answers
        ``ApiCallLimit`` (at most :data:`RATE_LIMITED_ATTEMPTS` times)."""
        for attempt in range(1, RATE_LIMITED_ATTEMPTS + 1):
            await self.take()
            try:
                return await make()
            except ProviderCallRateLimited as exc:
                if attempt == RATE_LIMITED_ATTEMPTS:
                    raise
                self.throttled += 1
                wait = min((exc.retry_after or 1.0) * attempt, MAX_BACKOFF)
                log.info("marketplace.sources.throttled", key=self._key, wait=wait)
                await self._sleep(wait)
        raise AssertionError("unreachable")


class DatabaseCallBudget(CallBudget):
    """The same budget kept in the database: the key's row holds its next free slot, and each
    call moves it ``1/n`` s on (``next = max(next, now) + 1/n``) in one atomic statement, so
    processes sharing the database never share a slot."""

    def __init__(
        self,
        database: Database,
        *,
        key: str,
        per_second: int,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(RateLimiter.in_memory(), key=key, per_second=per_second, sleep=sleep)
        self._database = database
        self._clock = clock

    async def slot(self) -> float:
        """Reserve the key's next slot; its epoch second (now or later). Shielded: a caller
        cancelled meanwhile (its siblings' import failed) must not leave the statement's
        transaction open, holding SQLite's write lock."""
        return await asyncio.shield(self._reserve())

    async def _reserve(self) -> float:
        now = self._clock()
        table: Any = SourceCallSlot.__table__
        async with own_transaction(self._database) as db:
            found = await db.execute(
                update(table)
                .where(table.c.key == self._key)
                .values(
                    next_at=case((table.c.next_at > now, table.c.next_at), else_=now)
                    + self._spacing
                )
                .returning(table.c.next_at)
            )
            after = found.scalar()
            if after is None:
                try:
                    async with db.begin_nested():
                        await db.execute(
                            insert(table).values(key=self._key, next_at=now + self._spacing)
                        )
                except IntegrityError:  # another process made the key's row meanwhile
                    raise _Retry from None
                return now
        return float(after) - self._spacing

    async def take(self) -> None:
        while True:
            try:
                at = await self.slot()
            except _Retry:  # another process made the key's row meanwhile
                continue
            wait = at - self._clock()
            if wait > 0:
                self.waits += 1
                await self._sleep(wait)
            return


class _Retry(Exception):
    pass
